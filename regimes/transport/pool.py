"""``FastTransport``: keep-alive pools of connections, one per origin, bounded by a semaphore.

A reused keep-alive connection that turns out closed before any byte of its answer (the server's
idle timeout raced our request) is retried once on a fresh connection, and only for a request that
may be sent twice (RFC 9110 §9.2.2: GET and HEAD, or a call its caller declares idempotent): a
POST the server may have acted upon is not sent again. Nothing else is retried at this level.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from regimes.port import WireReply
from regimes.transport.connection import Connection, Outgoing, StaleConnection, describe
from regimes.transport.encoder import request_bytes
from regimes.transport.parser import MAX_BODY_BYTES, MAX_HEAD_BYTES, ResponseReader

__all__ = ["FastTransport", "Origin"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Origin:
    """Where requests go and as whom: scheme, host, port, the client ``identity`` and the TLS
    context that presents it (None: the transport's own). All of it is the pool key: a
    connection opened for one identity, or verified against one context's CAs, is never used
    for another."""

    scheme: str
    host: str
    port: int
    identity: str = ""
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)

    @classmethod
    def of(
        cls, url: httpx.URL, identity: str = "", ssl_context: ssl.SSLContext | None = None
    ) -> Origin:
        if url.scheme not in _DEFAULT_PORTS or not url.host:
            raise httpx.UnsupportedProtocol(f"cannot send to {url!r}")
        port = url.port or _DEFAULT_PORTS[url.scheme]
        return cls(url.scheme, url.host, port, identity, ssl_context)

    @property
    def host_header(self) -> bytes:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == _DEFAULT_PORTS[self.scheme]:
            return host.encode("ascii")
        return f"{host}:{self.port}".encode("ascii")


class Pool:
    """The connections to one origin; ``slots`` bounds how many are open at once."""

    def __init__(self, max_connections: int) -> None:
        self.slots = asyncio.Semaphore(max_connections)
        self.idle: deque[Connection] = deque()
        self.connections: set[Connection] = set()

    def take_idle(self, expiry: float) -> Connection | None:
        now = time.monotonic()
        while self.idle and not self.idle[0].usable(now, expiry):
            self.discard(self.idle.popleft())
        while self.idle:
            conn = self.idle.pop()  # LIFO: the most recently used is the least likely stale
            if conn.usable(now, expiry):
                return conn
            self.discard(conn)
        return None

    def discard(self, conn: Connection) -> None:
        self.connections.discard(conn)
        conn.abort()


class FastTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 with a keep-alive pool per origin (scheme, host, port, identity); at most
    ``max_connections`` open per origin; idle connections are dropped after
    ``keepalive_expiry`` seconds; a response whose head or body is larger than
    ``max_head_bytes`` / ``max_body_bytes`` is refused."""

    def __init__(
        self,
        *,
        max_connections: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        keepalive_expiry: float = 5.0,
        max_head_bytes: int = MAX_HEAD_BYTES,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self._max_connections = max_connections
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._new_connection = functools.partial(Connection, max_head_bytes, max_body_bytes)
        self._pools: dict[Origin, Pool] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in _DEFAULT_PORTS or not url.host:
            raise httpx.UnsupportedProtocol(f"cannot send to {url!r}", request=request)
        origin = Origin(url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme])
        outgoing = Outgoing(
            request_bytes(request, await request.aread()),
            request.extensions.get("timeout", {}),
            head=request.method == "HEAD",
            idempotent=request.method in _IDEMPOTENT_METHODS
            or bool(request.extensions.get("idempotent")),
            request=request,
        )
        return (await self._roundtrip(origin, outgoing)).response()

    async def exchange(
        self,
        origin: Origin,
        payload: bytes,
        timeouts: Mapping[str, float | None],
        *,
        idempotent: bool = False,
    ) -> WireReply:
        """``payload``, a whole HTTP/1.1 request (not HEAD) already encoded, sent to
        ``origin``; failures raised as ``handle_async_request`` raises them."""
        outgoing = Outgoing(payload, timeouts, idempotent=idempotent)
        return (await self._roundtrip(origin, outgoing)).reply()

    async def _roundtrip(self, origin: Origin, outgoing: Outgoing) -> ResponseReader:
        timeouts, request = outgoing.timeouts, outgoing.request
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = Pool(self._max_connections)
        try:
            # Arming a timer is a measurable share of the per-request CPU: only when we may wait.
            async with asyncio.timeout(timeouts.get("pool") if pool.slots.locked() else None):
                await pool.slots.acquire()
        except TimeoutError as exc:
            raise httpx.PoolTimeout("no free connection in time", request=request) from exc
        try:
            conn = pool.take_idle(self._keepalive_expiry)
            if conn is not None:
                try:
                    return await self._send(pool, conn, outgoing, reused=True)
                except StaleConnection:
                    if not outgoing.idempotent:
                        # The server may have acted on the request before closing: only the
                        # caller, who knows what the call does, may send it again.
                        raise httpx.RemoteProtocolError(
                            "Server disconnected without sending a response.", request=request
                        ) from None
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
        self, origin: Origin, timeout: float | None, request: httpx.Request | None
    ) -> Connection:
        host, port = origin.host, origin.port
        context = None
        if origin.scheme == "https":
            context = origin.ssl_context or self._ssl_context
            if context is None:
                self._ssl_context = ssl.create_default_context()
                self._ssl_context.set_alpn_protocols(["http/1.1"])
                context = self._ssl_context
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, conn = await loop.create_connection(
                    self._new_connection,
                    host,
                    port,
                    ssl=context,
                    server_hostname=host if context else None,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port}", request=request) from exc
        except OSError as exc:  # refused, unreachable, DNS (gaierror), TLS handshake
            raise httpx.ConnectError(describe(exc), request=request) from exc
        return conn

    async def _send(
        self, pool: Pool, conn: Connection, outgoing: Outgoing, *, reused: bool
    ) -> ResponseReader:
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
