"""One accepted MLLP connection (``MllpServer``'s protocol): its decoder, the queue of frames
waiting, and the task that drains it, one frame at a time and in order; the flow control of
``hl7_listener.server``'s docstring is enforced here, the totals over every connection there."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol, cast

from hl7_listener.framing import END, START, Frame, MllpDecoder, Oversized
from hl7_listener.tls import MllpTls, peer_identity

__all__ = ["ConnectionHost", "MllpConnection", "peer_address"]

log = logging.getLogger("cdr.hl7")

_MAX_QUEUED = 64


class ConnectionHost(Protocol):
    """What a connection needs of its server (``MllpServer``)."""

    max_message_bytes: int
    max_pending_bytes: int
    idle_timeout_s: float
    tls: MllpTls | None

    handler: Callable[[bytes], Awaitable[bytes | None]]
    on_oversize: Callable[[bytes], Awaitable[bytes | None]]

    @property
    def over_total(self) -> bool: ...
    def register(self, connection: MllpConnection, peer: object) -> bool: ...
    def forget(self, connection: MllpConnection) -> None: ...
    def held_changed(self, delta: int) -> None: ...
    def wait_for_room(self, connection: MllpConnection) -> None: ...
    def stop_waiting(self, connection: MllpConnection) -> None: ...


class MllpConnection(asyncio.Protocol):
    """One accepted connection: decoder, queue of frames, and the task that drains it."""

    def __init__(self, server: ConnectionHost) -> None:
        self._server = server
        self._loop = asyncio.get_running_loop()
        self._decoder = MllpDecoder(server.max_message_bytes)
        self._queue: deque[Frame | Oversized] = deque()
        self._task: asyncio.Task[None] | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._writable: asyncio.Future[None] | None = None
        self._last_activity = 0.0
        self._busy = False  # a handler is running
        self._reading_paused = False
        self._writing_paused = False
        self._queued_bytes = 0  # payload bytes of the frames in ``_queue``
        self._held = 0  # what the server's total counts for this connection
        self._eof = False
        self._stopping = False
        self._lost = False
        self._junk_logged = False
        self._peer: object = None
        self.closed: asyncio.Future[None] = self._loop.create_future()

    @property
    def skipped_bytes(self) -> int:
        return self._decoder.skipped_bytes

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    @property
    def reading_paused(self) -> bool:
        return self._reading_paused

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a cast, not isinstance: uvloop's transports do not derive from asyncio.Transport
        self._transport = transport = cast(asyncio.Transport, transport)
        self._peer = transport.get_extra_info("peername")
        if not self._server.register(self, self._peer):
            self._lost = True
            self.closed.set_result(None)
            transport.abort()
            return
        _set_nodelay(transport)
        self._last_activity = self._loop.time()
        self._timer = self._loop.call_later(self._server.idle_timeout_s, self._check_idle)
        peer = peer_address(self._peer)
        extra = {"event": "mllp_open", "peer": peer}
        identity = peer_identity(transport) if self._server.tls is not None else ""
        if identity:
            log.info("MLLP connection opened from %s (TLS, %s)", peer, identity, extra=extra)
        else:
            log.info("MLLP connection opened from %s", peer, extra=extra)

    def data_received(self, data: bytes) -> None:
        self._last_activity = self._loop.time()
        if self._stopping or self._lost:
            return
        skipped_before = self._decoder.skipped_bytes
        items = self._decoder.feed(data)
        if self._decoder.skipped_bytes != skipped_before and not self._junk_logged:
            self._junk_logged = True
            log.warning("MLLP bytes outside a frame skipped from %s", self._peer)
        if items:
            self._queue.extend(items)
            self._queued_bytes += sum(_size(item) for item in items)
            if self._task is None:
                self._task = self._loop.create_task(self._drain())
        self.update_flow()

    def eof_received(self) -> bool | None:
        # Keep the write side open to answer what was received; _drain closes when done.
        self._eof = True
        return True if self._task is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self._clear_queue()
        self._server.stop_waiting(self)
        self._server.held_changed(-self._held)
        self._held = 0
        if self._timer is not None:
            self._timer.cancel()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._server.forget(self)
        if self._timer is not None:  # it was opened (a refused connection never was)
            peer = peer_address(self._peer)
            log.info(
                "MLLP connection closed from %s", peer, extra={"event": "mllp_close", "peer": peer}
            )
        if self._decoder.skipped_bytes:
            log.warning(
                "MLLP connection from %s closed; %d bytes outside frames were skipped",
                self._peer,
                self._decoder.skipped_bytes,
            )
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        # The peer does not read what we write: stop reading what it sends as well.
        self._writing_paused = True
        if self._writable is None or self._writable.done():
            self._writable = self._loop.create_future()
        self.update_flow()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self.update_flow()

    # -- flow control ----------------------------------------------------------------------

    def update_flow(self) -> None:
        """Account for the bytes held, then pause or resume reading as the bounds say."""
        if self._lost:
            return
        held = self._queued_bytes + self._decoder.buffered_bytes
        if held != self._held:
            delta, self._held = held - self._held, held
            self._server.held_changed(delta)
        server = self._server
        if self._reading_paused:
            resume = (
                not self._writing_paused
                and len(self._queue) < _MAX_QUEUED // 2
                and self._queued_bytes <= server.max_pending_bytes // 2
                and not server.over_total
            )
            if resume and not self._stopping and self._transport is not None:
                self._reading_paused = False
                self._transport.resume_reading()
            elif server.over_total:
                server.wait_for_room(self)
            return
        pause = (
            self._writing_paused
            or len(self._queue) >= _MAX_QUEUED
            or self._queued_bytes >= server.max_pending_bytes
            or server.over_total
        )
        if pause and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()
            if server.over_total:
                server.wait_for_room(self)

    def _clear_queue(self) -> None:
        self._queue.clear()
        self._queued_bytes = 0

    # -- our side --------------------------------------------------------------------------

    async def _drain(self) -> None:
        server = self._server
        try:
            while self._queue and not self._lost:
                item = self._queue.popleft()
                self._queued_bytes -= _size(item)
                self.update_flow()
                self._busy = True
                try:
                    if type(item) is Frame:
                        reply = await server.handler(item.payload)
                    else:
                        assert isinstance(item, Oversized)
                        log.warning(
                            "MLLP message over %d bytes from %s; only its head was kept",
                            server.max_message_bytes,
                            self._peer,
                        )
                        reply = await server.on_oversize(item.head)
                finally:
                    self._busy = False
                if reply is not None and not self._lost:
                    if self._writable is not None and not self._writable.done():
                        await self._writable
                    if self._transport is not None and not self._lost:
                        self._transport.write(START + reply + END)
                self._last_activity = self._loop.time()
        except Exception:
            log.exception("MLLP handler failed; closing the connection from %s", self._peer)
            self._clear_queue()
            self.update_flow()
            self._close()
        finally:
            self._task = None
        if self._eof or self._stopping:
            self._close()

    def _check_idle(self) -> None:
        if self._lost:
            return
        timeout = self._server.idle_timeout_s
        if self._busy or self._queue:
            self._timer = self._loop.call_later(timeout, self._check_idle)
            return
        remaining = self._last_activity + timeout - self._loop.time()
        if remaining > 0:
            self._timer = self._loop.call_later(remaining, self._check_idle)
            return
        log.info("MLLP connection from %s idle for %.0f s; closing it", self._peer, timeout)
        self._close()

    def shut_down(self) -> None:
        """Server closing: read nothing more, finish the handler in flight, then close."""
        self._stopping = True
        self._clear_queue()
        self.update_flow()
        if self._transport is not None and not self._lost and not self._reading_paused:
            self._reading_paused = True
            self._transport.pause_reading()
        if self._task is None:
            self._close()

    def abort(self) -> None:
        if self._transport is not None and not self._lost:
            self._transport.abort()
        if self._task is not None:
            self._task.cancel()

    def _close(self) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()


def _size(item: Frame | Oversized) -> int:
    return len(item.payload) if isinstance(item, Frame) else len(item.head)


def _set_nodelay(transport: asyncio.Transport) -> None:
    # ACKs are small writes answered by the next message: Nagle plus the peer's delayed ACK
    # would add ~40 ms to each round trip. asyncio sets it only when the listening socket's
    # proto is IPPROTO_TCP, which a socket passed in through ``sock=`` may not say.
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def peer_address(peer: object) -> str:
    """``host:port`` of a peer as asyncio gives it (a tuple for TCP)."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"
    return str(peer)
