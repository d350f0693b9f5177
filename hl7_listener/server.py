"""The MLLP server: accepts connections from integration engines and hands each frame to a
handler, strictly in order per connection, writing the handler's reply back framed.

Built on ``asyncio.Protocol`` rather than streams: ``data_received`` feeds the decoder directly
and a task per connection exists only while frames wait, which is measurably cheaper per
message than a ``StreamReader`` loop (BENCHMARKS.md).

Per connection (IHE ITI TF-2 C.2.1: the ACK returns on the initiator's connection, which may be
reused, and the initiator must cope with the acceptor closing it when idle):

- frames are handled one at a time, in the order received, so ACKs come back in message order;
- the bytes held are bounded: reading pauses while the frames waiting to be handled hold
  ``max_pending_bytes`` (or ``_MAX_QUEUED`` frames), while all connections together hold
  ``max_pending_bytes_total`` (waiting frames and frames in progress), and while the peer does
  not read our replies (the transport's write buffer above its high-water mark): a sender that
  never reads its ACKs is not read either, and its bytes wait in the kernel's buffers and its
  own. A frame in progress is itself bounded by ``max_message_bytes`` (``MllpDecoder``);
- no byte received and no handler running for ``idle_timeout_s`` closes it;
- a handler that raises is logged and closes this connection only; the sender resends what was
  not acknowledged;
- on half-close (the sender shut down its side) the frames already received are still answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address
from typing import cast

from hl7_listener.framing import END, START, Frame, MllpDecoder, Oversized
from hl7_listener.tls import MllpTls, TlsAcceptor, peer_identity

__all__ = ["Handler", "MllpServer", "OversizeHandler"]

log = logging.getLogger("cdr.hl7")

Handler = Callable[[bytes], Awaitable[bytes | None]]
"""Frame payload -> reply payload (``None``: send no reply)."""
OversizeHandler = Callable[[bytes], Awaitable[bytes | None]]
"""Head of a message over the size limit -> reply payload (``None``: send no reply)."""

_MAX_QUEUED = 64
# Hundreds of engines may connect at once (a restart of the integration engine): the default
# backlog of 100 would drop SYNs and cost each late client a 1 s retransmission.
_BACKLOG = 1024


class MllpServer:
    """An asyncio MLLP (release 1) server. ``start`` binds; ``close`` shuts it down gracefully."""

    def __init__(
        self,
        handler: Handler,
        *,
        on_oversize: OversizeHandler,
        idle_timeout_s: float = 300.0,
        max_message_bytes: int = 1_048_576,
        max_connections: int = 1000,
        max_pending_bytes: int = 1_048_576,
        max_pending_bytes_total: int = 67_108_864,
        allowed_peers: Sequence[IPv4Network | IPv6Network] = (),
        tls: MllpTls | None = None,
    ) -> None:
        """``allowed_peers``: the networks a peer's address must be in (empty: any peer);
        anyone else is closed at once, with a log line saying why (issue 14, item 2).
        ``tls``: every connection is TLS, its handshake made before any frame is read; a peer
        the handshake refuses is closed with a log line saying why (``hl7_listener.tls``)."""
        if min(idle_timeout_s, max_message_bytes, max_connections) <= 0:
            raise ValueError("idle_timeout_s, max_message_bytes and max_connections must be > 0")
        if min(max_pending_bytes, max_pending_bytes_total) <= 0:
            raise ValueError("max_pending_bytes and max_pending_bytes_total must be > 0")
        self.handler = handler
        self.allowed_peers = tuple(allowed_peers)
        self.tls = tls
        self._acceptor: TlsAcceptor | None = None
        self.refused_peers = 0
        self.max_pending_bytes = max_pending_bytes
        self.max_pending_bytes_total = max_pending_bytes_total
        self._pending_bytes = 0  # held by every connection: frames waiting and in progress
        self._waiting_for_room: set[_Connection] = set()
        self.on_oversize = on_oversize
        self.idle_timeout_s = idle_timeout_s
        self.max_message_bytes = max_message_bytes
        self.max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._open: set[_Connection] = set()
        self._closing = False
        self._skipped_closed = 0

    async def start(self, host: str, port: int, *, sock: socket.socket | None = None) -> None:
        """Listen on ``host:port`` (port 0: any free port), or on an already bound ``sock``."""
        if self._server is not None or self._acceptor is not None:
            raise RuntimeError("the MLLP server is already started")
        loop = asyncio.get_running_loop()
        if self.tls is not None:
            self._acceptor = TlsAcceptor(
                self.tls,
                self._accept,
                admits=self._admits,
                refused=self._refuse,
                max_handshakes=self.max_connections,
                backlog=_BACKLOG,
            )
            await self._acceptor.start(host, port, sock=sock)
        elif sock is not None:
            self._server = await loop.create_server(self._accept, sock=sock, backlog=_BACKLOG)
        else:
            self._server = await loop.create_server(self._accept, host, port, backlog=_BACKLOG)

    @property
    def port(self) -> int:
        if self._acceptor is not None:
            return self._acceptor.port
        if self._server is None or not self._server.sockets:
            raise RuntimeError("the MLLP server is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def connections(self) -> int:
        """Connections open now."""
        return len(self._open)

    @property
    def pending_bytes(self) -> int:
        """Received bytes held now, over every connection: frames waiting to be handled and
        frames in progress."""
        return self._pending_bytes

    @property
    def paused_connections(self) -> int:
        """Connections not read now (flow control: see the module's docstring)."""
        return sum(1 for c in self._open if c.reading_paused)

    @property
    def skipped_bytes(self) -> int:
        """Bytes received outside frames (junk, abandoned frames), over every connection."""
        return self._skipped_closed + sum(c.skipped_bytes for c in self._open)

    async def close(self, *, grace_s: float = 10.0) -> None:
        """Stop accepting, let each connection finish the handler in flight (its reply is still
        written), then close. Frames received but not started get no reply: the sender resends
        them. Connections still open after ``grace_s`` are aborted."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        if self._acceptor is not None:
            await self._acceptor.close()
        connections = list(self._open)
        for connection in connections:
            connection.shut_down()
        waiting = [c.closed for c in connections if not c.closed.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=grace_s)
        tasks = [c.task for c in connections if c.task is not None]
        for connection in connections:
            connection.abort()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def _accept(self) -> _Connection:
        return _Connection(self)

    def _admits(self, peer: object) -> bool:
        """Whether ``peer``'s address is allowed (CDR_MLLP_ALLOWED_PEERS); a refusal is logged."""
        if not self.allowed_peers or _allowed(peer, self.allowed_peers):
            return True
        self._refuse(peer, "not an allowed peer (CDR_MLLP_ALLOWED_PEERS)")
        return False

    def _refuse(self, peer: object, reason: str) -> None:
        self.refused_peers += 1
        shown = _address(peer)
        log.warning(
            "MLLP connection refused from %s: %s",
            shown,
            reason,
            extra={"event": "mllp_refused", "peer": shown},
        )

    def _register(self, connection: _Connection, peer: object) -> bool:
        if self._closing:
            return False
        if not self._admits(peer):
            return False
        if len(self._open) >= self.max_connections:
            log.warning(
                "MLLP connection refused: %d connections open (max_connections)", len(self._open)
            )
            return False
        self._open.add(connection)
        return True

    def _forget(self, connection: _Connection) -> None:
        if connection in self._open:
            self._open.discard(connection)
            self._skipped_closed += connection.skipped_bytes

    def _held_changed(self, delta: int) -> None:
        self._pending_bytes += delta
        if delta < 0 and self._waiting_for_room and not self.over_total:
            waiting = list(self._waiting_for_room)
            self._waiting_for_room.clear()
            for connection in waiting:
                connection.update_flow()

    @property
    def over_total(self) -> bool:
        return self._pending_bytes >= self.max_pending_bytes_total

    def _wait_for_room(self, connection: _Connection) -> None:
        self._waiting_for_room.add(connection)


class _Connection(asyncio.Protocol):
    """One accepted connection: decoder, queue of frames, and the task that drains it."""

    def __init__(self, server: MllpServer) -> None:
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
        if not self._server._register(self, self._peer):
            self._lost = True
            self.closed.set_result(None)
            transport.abort()
            return
        _set_nodelay(transport)
        self._last_activity = self._loop.time()
        self._timer = self._loop.call_later(self._server.idle_timeout_s, self._check_idle)
        peer = _address(self._peer)
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
        self._server._waiting_for_room.discard(self)
        self._server._held_changed(-self._held)
        self._held = 0
        if self._timer is not None:
            self._timer.cancel()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._server._forget(self)
        if self._timer is not None:  # it was opened (a refused connection never was)
            peer = _address(self._peer)
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
            self._server._held_changed(delta)
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
                server._wait_for_room(self)
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
                server._wait_for_room(self)

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


def _address(peer: object) -> str:
    """``host:port`` of a peer as asyncio gives it (a tuple for TCP)."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host = str(peer[0])
        return f"[{host}]:{peer[1]}" if ":" in host else f"{host}:{peer[1]}"
    return str(peer)


def _allowed(peer: object, networks: Sequence[IPv4Network | IPv6Network]) -> bool:
    """Whether the peer's address (``peername``: host first) is in one of ``networks``; an
    IPv4 peer reached over an IPv6 socket (``::ffff:10.0.0.1``) is read as IPv4."""
    host = peer[0] if isinstance(peer, tuple) and peer else None
    if not isinstance(host, str):
        return False
    try:
        address = ip_address(host.split("%")[0])
    except ValueError:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)
