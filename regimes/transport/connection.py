"""One HTTP/1.1 connection as an asyncio protocol: a request written whole, its response parsed
as the bytes arrive, the waiting request woken once, when the response is complete (streams
woke it per read and armed a timer per read: measurable per regime call under load).

Failures are raised as the httpx exceptions httpcore would raise, so ``regimes/http.py`` maps them
unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httptools
import httpx

from regimes.transport.parser import (
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    ResponseReader,
    ResponseRefused,
)

__all__ = ["Connection", "Outgoing", "StaleConnection", "describe"]


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A request on its way: its bytes, its timeouts (httpx's names), whether it is a HEAD,
    whether it may be sent again (``idempotent``, RFC 9110 §9.2.2), and the httpx request it came
    from, if any (named in the exceptions)."""

    payload: bytes
    timeouts: Mapping[str, Any]
    head: bool = False
    idempotent: bool = False
    request: httpx.Request | None = None


class StaleConnection(Exception):
    """A reused idle connection failed before any response byte: the server had closed it."""


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection, as an asyncio protocol: the bytes of a response are parsed as
    they arrive and the waiting request is woken once, when the response is complete (streams
    woke it per read and armed a timer per read: measurable per regime call under load)."""

    def __init__(
        self, max_head_bytes: int = MAX_HEAD_BYTES, max_body_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._limits = (max_head_bytes, max_body_bytes)
        self.transport: asyncio.Transport | None = None
        self.idle_since = 0.0
        # Bytes, an EOF or an error while no request was reading: the server is done with it.
        self.spoiled = False
        self._closed: asyncio.Future[None] = self._loop.create_future()
        self._reader: ResponseReader | None = None
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
            reader.feed(data)
        except ResponseRefused as exc:
            self._fail(httpx.RemoteProtocolError(f"response refused: {exc}", request=self._request))
            return
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

    async def exchange(self, outgoing: Outgoing, *, reused: bool) -> ResponseReader:
        assert self.transport is not None  # connected before it is used
        self._reader = reader = ResponseReader(outgoing.head, *self._limits)
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
                self._fail(StaleConnection())
            else:
                self._fail(httpx.ReadError(describe(exc), request=self._request))
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
            self._fail(StaleConnection())
        else:
            self._fail(
                httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=self._request
                )
            )

    def _fail(self, exc: BaseException) -> None:
        if self._done is not None and not self._done.done():
            self._done.set_exception(exc)


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
