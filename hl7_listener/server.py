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
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address

from hl7_listener.connection import MllpConnection, peer_address
from hl7_listener.tls import MllpTls, TlsAcceptor

__all__ = ["Handler", "MllpServer", "OversizeHandler"]

log = logging.getLogger("cdr.hl7")

Handler = Callable[[bytes], Awaitable[bytes | None]]
"""Frame payload -> reply payload (``None``: send no reply)."""
OversizeHandler = Callable[[bytes], Awaitable[bytes | None]]
"""Head of a message over the size limit -> reply payload (``None``: send no reply)."""

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
        on_refused: Callable[[str, str], None] | None = None,
    ) -> None:
        """``allowed_peers``: the networks a peer's address must be in (empty: any peer);
        anyone else is closed at once, with a log line saying why (issue 14, item 2).
        ``tls``: every connection is TLS, its handshake made before any frame is read; a peer
        the handshake refuses is closed with a log line saying why (``hl7_listener.tls``).
        ``on_refused(host, reason)``: told of each refused peer (the audit trail)."""
        if min(idle_timeout_s, max_message_bytes, max_connections) <= 0:
            raise ValueError("idle_timeout_s, max_message_bytes and max_connections must be > 0")
        if min(max_pending_bytes, max_pending_bytes_total) <= 0:
            raise ValueError("max_pending_bytes and max_pending_bytes_total must be > 0")
        self.handler = handler
        self.allowed_peers = tuple(allowed_peers)
        self.tls = tls
        self._acceptor: TlsAcceptor | None = None
        self.refused_peers = 0
        self.on_refused = on_refused
        self.max_pending_bytes = max_pending_bytes
        self.max_pending_bytes_total = max_pending_bytes_total
        self._pending_bytes = 0  # held by every connection: frames waiting and in progress
        self._waiting_for_room: set[MllpConnection] = set()
        self.on_oversize = on_oversize
        self.idle_timeout_s = idle_timeout_s
        self.max_message_bytes = max_message_bytes
        self.max_connections = max_connections
        self._server: asyncio.Server | None = None
        self._open: set[MllpConnection] = set()
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

    def _accept(self) -> MllpConnection:
        return MllpConnection(self)

    def _admits(self, peer: object) -> bool:
        """Whether ``peer``'s address is allowed (CDR_MLLP_ALLOWED_PEERS); a refusal is logged."""
        if not self.allowed_peers or _allowed(peer, self.allowed_peers):
            return True
        self._refuse(peer, "not an allowed peer (CDR_MLLP_ALLOWED_PEERS)")
        return False

    def _refuse(self, peer: object, reason: str) -> None:
        self.refused_peers += 1
        shown = peer_address(peer)
        log.warning(
            "MLLP connection refused from %s: %s",
            shown,
            reason,
            extra={"event": "mllp_refused", "peer": shown},
        )
        if self.on_refused is not None:
            host = str(peer[0]) if isinstance(peer, tuple) and peer else shown
            self.on_refused(host, reason)

    def register(self, connection: MllpConnection, peer: object) -> bool:
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

    def forget(self, connection: MllpConnection) -> None:
        if connection in self._open:
            self._open.discard(connection)
            self._skipped_closed += connection.skipped_bytes

    def held_changed(self, delta: int) -> None:
        self._pending_bytes += delta
        if delta < 0 and self._waiting_for_room and not self.over_total:
            waiting = list(self._waiting_for_room)
            self._waiting_for_room.clear()
            for connection in waiting:
                connection.update_flow()

    @property
    def over_total(self) -> bool:
        return self._pending_bytes >= self.max_pending_bytes_total

    def wait_for_room(self, connection: MllpConnection) -> None:
        self._waiting_for_room.add(connection)

    def stop_waiting(self, connection: MllpConnection) -> None:
        self._waiting_for_room.discard(connection)


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
