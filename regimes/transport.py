"""A lean HTTP/1.1 transport for httpx: an asyncio protocol and the llhttp parser
(``httptools``).

httpx's default transport (httpcore over anyio, parsing with h11) spends about a millisecond of
CPU per request on loopback, which dominated regime discovery; the adapters keep their
``httpx.AsyncClient`` and the composition root passes ``transport=FastTransport()``, inside a
``FastClient`` whose ``exchange`` also skips httpx's request and response models.

Scope: plain HTTP/1.1 over TCP or TLS to absolute http/https URLs; no proxies, no HTTP/2, no
upgrades, no response streaming (the whole body is read before the response is returned).
Failures are raised as the httpx exceptions httpcore would raise, so ``regimes/http.py`` maps
them unchanged.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import httptools
import httpx

__all__ = ["FastClient", "FastTransport", "Origin", "Reply"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_FRAMING_HEADERS = (b"content-length", b"transfer-encoding")


@dataclass(frozen=True, slots=True)
class Origin:
    """Where requests go: scheme, host and port, and the ``Host`` header that names them."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: httpx.URL) -> Origin:
        if url.scheme not in _DEFAULT_PORTS or not url.host:
            raise httpx.UnsupportedProtocol(f"cannot send to {url!r}")
        return cls(url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme])

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    @property
    def host_header(self) -> bytes:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host.encode("ascii")
        return f"{host}:{self.port}".encode("ascii")


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole response, without httpx's model around it: ``headers`` by lower-case name."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """A request on its way: its bytes, its timeouts (httpx's names), whether it is a HEAD, and
    the httpx request it came from, if any (named in the exceptions)."""

    payload: bytes
    timeouts: Mapping[str, Any]
    head: bool = False
    request: httpx.Request | None = None


class _StaleConnection(Exception):
    """A reused idle connection failed before any response byte: the server had closed it."""


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, as an asyncio protocol: the bytes of a response are parsed as
    they arrive and the waiting request is woken once, when the response is complete (streams
    woke it per read and armed a timer per read: measurable per regime call under load)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        # Bytes, an EOF or an error while no request was reading: the server is done with it.
        self.spoiled = False
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._reader: _ResponseReader | None = None
        self._done: asyncio.Future[None] | None = None
        self._request: httpx.Request | None = None
        self._reused = False
        self._received = False
        self._last_data = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._writable: asyncio.Future[None] | None = None
        self._paused = False

    # ------------------------------------------------------------ asyncio protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        if reader is None or self._done is None or self._done.done():
            self.spoiled = True
            return
        self._received = True
        self._last_data = self._loop.time()
        try:
            reader.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("protocol upgrade not supported"))
            return
        except httptools.HttpParserError as exc:
            if not reader.complete:
                self._fail(httpx.RemoteProtocolError(f"malformed response: {exc}"))
                return
            reader.trailing = True  # junk after a complete response
        if reader.complete:
            self._done.set_result(None)

    def eof_received(self) -> bool | None:
        self._ended(None)
        return None  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended(exc)
        if not self._closed.done():
            self._closed.set_result(None)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # ------------------------------------------------------------ used by the transport

    def usable(self, now: float, expiry: float) -> bool:
        transport = self.transport
        return (
            now - self.idle_since < expiry
            and not self.spoiled
            and transport is not None
            and not transport.is_closing()
        )

    async def exchange(self, outgoing: _Outgoing, *, reused: bool) -> _ResponseReader:
        assert self.transport is not None  # connected before it is used
        self._reader = reader = _ResponseReader(outgoing.head)
        self._done = done = self._loop.create_future()
        self._request, self._reused, self._received = outgoing.request, reused, False
        try:
            self.transport.write(outgoing.payload)
            if self._paused:  # the socket did not take it all and the buffer is full
                await self._wait_writable(outgoing.timeouts.get("write"))
            read_timeout = outgoing.timeouts.get("read")
            if read_timeout is not None:
                self._last_data = self._loop.time()
                self._timer = self._loop.call_at(
                    self._last_data + read_timeout, self._check_silence, read_timeout
                )
            await done
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._reader = self._done = self._request = None
        return reader

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    async def aclose(self) -> None:
        self.close()
        await self._closed

    # ------------------------------------------------------------ internals

    async def _wait_writable(self, timeout: float | None) -> None:
        self._writable = self._loop.create_future()
        try:
            async with asyncio.timeout(timeout):
                await self._writable
        except TimeoutError as exc:
            raise httpx.WriteTimeout(
                "timed out sending the request", request=self._request
            ) from exc
        finally:
            self._writable = None

    def _check_silence(self, timeout: float) -> None:
        """The read timeout is for silence, as httpx's: re-armed while bytes keep coming."""
        self._timer = None
        if self._done is None or self._done.done():
            return
        due = self._last_data + timeout
        if self._loop.time() >= due:
            self._fail(
                httpx.ReadTimeout("timed out waiting for the response", request=self._request)
            )
        else:
            self._timer = self._loop.call_at(due, self._check_silence, timeout)

    def _ended(self, exc: Exception | None) -> None:
        """The server closed (``exc`` None) or the connection failed."""
        self.spoiled = True
        reader, done = self._reader, self._done
        if reader is None or done is None or done.done():
            return
        if exc is not None:
            if self._reused and not self._received:
                self._fail(_StaleConnection())
            else:
                self._fail(httpx.ReadError(_describe(exc), request=self._request))
        elif reader.ends_at_close():
            reader.complete = True  # keep_alive stays False
            done.set_result(None)
        elif self._received:
            self._fail(
                httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body",
                    request=self._request,
                )
            )
        elif self._reused:
            self._fail(_StaleConnection())
        else:
            self._fail(
                httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=self._request
                )
            )

    def _fail(self, exc: BaseException) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc)


class _Pool:
    """The connections to one origin; ``slots`` bounds how many are open at once."""

    def __init__(self, max_connections: int) -> None:
        self.slots = asyncio.Semaphore(max_connections)
        self.idle: deque[_Connection] = deque()
        self.connections: set[_Connection] = set()

    def take_idle(self, expiry: float) -> _Connection | None:
        now = time.monotonic()
        while self.idle and not self.idle[0].usable(now, expiry):
            self.discard(self.idle.popleft())
        while self.idle:
            conn = self.idle.pop()  # LIFO: the most recently used is the least likely stale
            if conn.usable(now, expiry):
                return conn
            self.discard(conn)
        return None

    def discard(self, conn: _Connection) -> None:
        self.connections.discard(conn)
        conn.abort()


class _ResponseReader:
    """``httptools`` parser callbacks collecting one final (non-1xx) response."""

    def __init__(self, head_request: bool) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.head_request = head_request
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.headers_done = False
        self.complete = False
        self.keep_alive = False
        self.trailing = False  # bytes after the response: the connection is out of step

    def on_message_begin(self) -> None:
        self.trailing = self.complete

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.headers_done:  # chunked trailers are dropped, as h11 does
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        # RFC 9110 §9.3.2: a response to HEAD has no body whatever its Content-Length says.
        if self.head_request and self.parser.get_status_code() >= 200:
            self.finish()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            self.trailing = True
        else:
            self.body.append(body)

    def on_message_complete(self) -> None:
        if self.complete:
            return
        if self.parser.get_status_code() < 200:
            # RFC 9110 §15.2: interim 1xx responses precede the final one; skip them.
            self.reason, self.headers, self.headers_done = b"", [], False
            return
        self.finish()

    def finish(self) -> None:
        self.complete = True
        # llhttp resets its flags once the message is done: ask while they still hold.
        self.keep_alive = self.parser.should_keep_alive()

    def ends_at_close(self) -> bool:
        # RFC 9112 §6.3 rule 8: without Content-Length or Transfer-Encoding, the body runs
        # until the server closes the connection.
        return self.headers_done and not any(
            name.lower() in _FRAMING_HEADERS for name, _ in self.headers
        )

    def reply(self) -> Reply:
        headers: dict[str, str] = {}
        for name, value in self.headers:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            headers[key] = f"{headers[key]}, {text}" if key in headers else text
        return Reply(self.parser.get_status_code(), headers, b"".join(self.body))

    def response(self) -> httpx.Response:
        version = self.parser.get_http_version()
        return httpx.Response(
            self.parser.get_status_code(),
            headers=self.headers,
            content=b"".join(self.body),
            extensions={
                "http_version": f"HTTP/{version}".encode("ascii"),
                "reason_phrase": self.reason,
            },
        )


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    start = b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)
    return _encode(start, request.headers.raw, request.url.netloc, body, request=request)


def _encode(
    start: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    host: bytes,
    body: bytes,
    *,
    framed: bool = False,
    request: httpx.Request | None = None,
) -> bytes:
    """One whole HTTP/1.1 request: ``start`` line, ``headers``, ``Host`` unless they name one,
    and ``Content-Length`` when there is a body (or ``framed``: the caller declared one)."""
    lines = [start]
    has_host = False
    for name, value in headers:
        lowered = name.lower()
        if lowered in _FRAMING_HEADERS:
            framed = True  # replaced below: the body is fully read, its length is known
            continue
        if b"\r" in name or b"\n" in name or b"\r" in value or b"\n" in value:
            raise httpx.LocalProtocolError(f"illegal header {name!r}", request=request)
        has_host = has_host or lowered == b"host"
        lines.append(b"%s: %s" % (name, value))
    if not has_host:
        lines.append(b"Host: " + host)
    if body or framed:
        lines.append(b"Content-Length: %d" % len(body))
    lines += (b"", body)
    return b"\r\n".join(lines)


class FastTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with a keep-alive pool per (scheme, host, port); at most ``max_connections``
    open per origin; idle connections are dropped after ``keepalive_expiry`` seconds."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._max_connections = max_connections
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._pools: dict[tuple[str, str, int], _Pool] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _DEFAULT_PORTS or not url.host:
            raise httpx.UnsupportedProtocol(f"cannot send to {url!r}", request=request)
        origin = (url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme])
        outgoing = _Outgoing(
            _request_bytes(request, await request.aread()),
            request.extensions.get("timeout", {}),
            head=request.method == "HEAD",
            request=request,
        )
        return (await self._roundtrip(origin, outgoing)).response()

    async def exchange(
        self, origin: Origin, payload: bytes, timeouts: Mapping[str, float | None]
    ) -> Reply:
        """``payload``, a whole HTTP/1.1 request (not HEAD) already encoded, sent to
        ``origin``; failures raised as ``handle_async_request`` raises them."""
        return (await self._roundtrip(origin.key, _Outgoing(payload, timeouts))).reply()

    async def _roundtrip(
        self, origin: tuple[str, str, int], outgoing: _Outgoing
    ) -> _ResponseReader:
        timeouts, request = outgoing.timeouts, outgoing.request
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = _Pool(self._max_connections)
        try:
            # Arming a timer is a measurable share of the per-request CPU: only when we may wait.
            async with asyncio.timeout(timeouts.get("pool") if pool.slots.locked() else None):
                await pool.slots.acquire()
        except TimeoutError as exc:
            raise httpx.PoolTimeout("no free connection in time", request=request) from exc
        try:
            conn = pool.take_idle(self._keepalive_expiry)
            if conn is not None:
                with suppress(_StaleConnection):
                    return await self._send(pool, conn, outgoing, reused=True)
            conn = await self._connect(origin, timeouts.get("connect"), request)
            pool.connections.add(conn)
            return await self._send(pool, conn, outgoing, reused=False)
        finally:
            pool.slots.release()

    async def aclose(self) -> None:
        pools, self._pools = self._pools, {}
        conns = [conn for pool in pools.values() for conn in pool.connections]
        for pool in pools.values():
            pool.idle.clear()
            pool.connections.clear()
        await asyncio.gather(*(conn.aclose() for conn in conns))

    async def _connect(
        self, origin: tuple[str, str, int], timeout: float | None, request: httpx.Request | None
    ) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = ssl.create_default_context()
                self._ssl_context.set_alpn_protocols(["http/1.1"])
            context = self._ssl_context
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    _Connection, host, port, ssl=context, server_hostname=host if context else None
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port}", request=request) from exc
        except OSError as exc:  # refused, unreachable, DNS (gaierror), TLS handshake
            raise httpx.ConnectError(_describe(exc), request=request) from exc
        return conn

    async def _send(
        self, pool: _Pool, conn: _Connection, outgoing: _Outgoing, *, reused: bool
    ) -> _ResponseReader:
        try:
            parsed = await conn.exchange(outgoing, reused=reused)
        except BaseException:
            # Failed or cancelled midway: the connection's state is unknown, never reuse it.
            pool.discard(conn)
            raise
        if parsed.keep_alive and not parsed.trailing:
            conn.idle_since = time.monotonic()
            pool.idle.append(conn)
        else:
            pool.connections.discard(conn)
            conn.close()
        return parsed


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


class FastClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` on ``FastTransport`` that can also send a request without
    httpx's request and response models (``exchange``). The regime calls use none of what
    those models carry (auth, redirects, cookies, event hooks) and, per call, they cost about
    as much CPU as the transport itself (BENCHMARKS.md)."""

    def __init__(self, transport: FastTransport, *, timeout: httpx.Timeout) -> None:
        super().__init__(transport=transport, timeout=timeout, trust_env=False)
        self._fast = transport
        self._timeouts = timeout.as_dict()

    async def exchange(
        self,
        origin: Origin,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> Reply:
        """``method`` ``target`` (origin-form: path and query, already encoded) with
        ``headers``; a ``Content-Length`` is added when there is a body."""
        if "\r" in target or "\n" in target:  # would end the request line early
            raise httpx.LocalProtocolError(f"illegal line break in {target!r}")
        payload = _encode(
            f"{method} {target} HTTP/1.1".encode("latin-1"),
            [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
            origin.host_header,
            body or b"",
            framed=body is not None,
        )
        return await self._fast.exchange(origin, payload, self._timeouts)
