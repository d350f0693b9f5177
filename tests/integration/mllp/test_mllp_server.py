"""MllpServer over real sockets, with a trivial handler standing in for the router."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from hl7_listener.framing import HEAD_BYTES, START, Frame, MllpDecoder, frame
from hl7_listener.server import MllpServer

WAIT_S = 10.0


async def echo(payload: bytes) -> bytes:
    return b"ACK:" + payload


async def too_big(head: bytes) -> bytes:
    return b"TOO BIG:" + head[:20]


class Peer:
    """A raw MLLP sender on one socket, reading replies with our decoder."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.decoder = MllpDecoder(10_000_000)
        self.pending: list[bytes] = []

    @classmethod
    async def connect(cls, port: int) -> Peer:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def replies(self, count: int) -> list[bytes]:
        async with asyncio.timeout(WAIT_S):
            while len(self.pending) < count:
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError(f"closed after {len(self.pending)} replies")
                for item in self.decoder.feed(data):
                    assert isinstance(item, Frame)
                    self.pending.append(item.payload)
        taken, self.pending = self.pending[:count], self.pending[count:]
        return taken

    async def closed_by_server(self) -> bool:
        """Read until the server closes; replies that still arrive are kept in ``pending``."""
        async with asyncio.timeout(WAIT_S):
            while True:
                try:
                    data = await self.reader.read(65536)
                except ConnectionResetError:
                    return True
                if not data:
                    return True
                self.pending += [i.payload for i in self.decoder.feed(data) if isinstance(i, Frame)]

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError):
            await self.writer.wait_closed()


async def until(condition: Callable[[], bool]) -> None:
    """Poll a condition with a deadline (no sleeping for readiness)."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def started(handler: Callable[[bytes], Awaitable[bytes | None]] = echo, **options):
    options.setdefault("on_oversize", too_big)
    server = MllpServer(handler, **options)
    await server.start("127.0.0.1", 0)
    return server


@pytest.fixture
async def server() -> AsyncIterator[MllpServer]:
    running = await started()
    yield running
    await running.close()


async def test_a_frame_sent_byte_by_byte_is_answered(server):
    peer = await Peer.connect(server.port)
    peer.writer.transport.get_extra_info("socket").setsockopt(
        socket.IPPROTO_TCP, socket.TCP_NODELAY, 1
    )
    for byte in frame(b"MSH|one"):
        await peer.send(bytes([byte]))
    assert await peer.replies(1) == [b"ACK:MSH|one"]
    await peer.close()


async def test_three_frames_in_one_write_get_three_replies_in_order(server):
    peer = await Peer.connect(server.port)
    await peer.send(frame(b"1") + frame(b"2") + frame(b"3"))
    assert await peer.replies(3) == [b"ACK:1", b"ACK:2", b"ACK:3"]
    await peer.close()


async def test_many_messages_on_one_connection(server):
    peer = await Peer.connect(server.port)
    for n in range(50):
        await peer.send(frame(b"m%d" % n))
        assert await peer.replies(1) == [b"ACK:m%d" % n]
    assert server.connections == 1
    await peer.close()


async def test_a_sender_that_pipelines_hundreds_of_frames_gets_every_reply_in_order():
    async def handler(payload: bytes) -> bytes:
        await asyncio.sleep(0)  # let the reads pile frames up: reading pauses, then resumes
        return b"ACK:" + payload

    server = await started(handler)
    try:
        peer = await Peer.connect(server.port)
        messages = [b"MSH|%d|" % n + b"x" * 300 for n in range(1000)]
        await peer.send(b"".join(frame(m) for m in messages))
        assert await peer.replies(len(messages)) == [b"ACK:" + m for m in messages]
        await peer.close()
    finally:
        await server.close()


async def test_junk_outside_frames_is_skipped_and_counted(server):
    peer = await Peer.connect(server.port)
    await peer.send(b"\r\nnoise" + frame(b"a") + b"\n\n" + START + b"abandoned" + frame(b"b"))
    assert await peer.replies(2) == [b"ACK:a", b"ACK:b"]
    assert server.skipped_bytes == len(b"\r\nnoise") + 2 + 1 + len(b"abandoned")
    await peer.close()


async def test_an_oversized_message_goes_to_on_oversize_with_its_head_and_the_connection_lives():
    heads: list[bytes] = []

    async def on_oversize(head: bytes) -> bytes:
        heads.append(head)
        return b"AR for " + head[:12]

    server = await started(on_oversize=on_oversize, max_message_bytes=4096)
    try:
        peer = await Peer.connect(server.port)
        big = b"MSH|^~\\&|A|B|C|D|2026||ADT^A01|CTRL42|P|2.5\r" + b"NTE|" + b"x" * 100_000
        await peer.send(frame(big) + frame(b"small"))
        assert await peer.replies(2) == [b"AR for MSH|^~\\&|A|B", b"ACK:small"]
        assert heads == [big[:HEAD_BYTES]]
        await peer.send(frame(b"after"))
        assert await peer.replies(1) == [b"ACK:after"]
        await peer.close()
    finally:
        await server.close()


async def test_an_idle_connection_is_closed():
    server = await started(idle_timeout_s=0.2)
    try:
        peer = await Peer.connect(server.port)
        await peer.send(frame(b"x"))
        assert await peer.replies(1) == [b"ACK:x"]
        quiet_since = time.monotonic()
        assert await peer.closed_by_server()
        assert time.monotonic() - quiet_since >= 0.15
        await until(lambda: server.connections == 0)
        await peer.close()
    finally:
        await server.close()


async def test_a_slow_handler_does_not_count_as_idle():
    release = asyncio.Event()

    async def slow(payload: bytes) -> bytes:
        await release.wait()
        return b"done"

    server = await started(slow, idle_timeout_s=0.1)
    try:
        peer = await Peer.connect(server.port)
        await peer.send(frame(b"x"))
        await asyncio.sleep(0.3)  # three idle periods while the handler runs
        assert server.connections == 1
        release.set()
        assert await peer.replies(1) == [b"done"]
        await peer.close()
    finally:
        await server.close()


async def test_300_concurrent_connections_each_get_all_their_replies_in_order():
    running: dict[bytes, int] = {}
    overlaps: list[bytes] = []

    async def handler(payload: bytes) -> bytes:
        connection = payload.split(b":")[0]
        running[connection] = running.get(connection, 0) + 1
        if running[connection] > 1:
            overlaps.append(payload)
        await asyncio.sleep(0)  # let other connections interleave
        running[connection] -= 1
        return b"ACK:" + payload

    server = await started(handler)
    try:
        peers = await asyncio.gather(*(Peer.connect(server.port) for _ in range(300)))
        await until(lambda: server.connections == 300)

        async def converse(index: int, peer: Peer) -> list[bytes]:
            messages = [b"c%d:%d" % (index, n) for n in range(6)]
            if index % 2:  # pipelined: all at once, then read
                await peer.send(b"".join(frame(m) for m in messages))
                return await peer.replies(len(messages))
            replies = []
            for m in messages:  # one at a time
                await peer.send(frame(m))
                replies += await peer.replies(1)
            return replies

        results = await asyncio.gather(*(converse(i, p) for i, p in enumerate(peers)))
        for index, replies in enumerate(results):
            assert replies == [b"ACK:c%d:%d" % (index, n) for n in range(6)]
        assert overlaps == []  # frames of one connection are handled one at a time
        await asyncio.gather(*(p.close() for p in peers))
    finally:
        await server.close()


async def test_a_handler_exception_closes_only_that_connection(caplog):
    async def handler(payload: bytes) -> bytes:
        if payload == b"boom":
            raise RuntimeError("handler bug")
        return b"ACK:" + payload

    server = await started(handler)
    try:
        good, bad = await Peer.connect(server.port), await Peer.connect(server.port)
        await until(lambda: server.connections == 2)
        with caplog.at_level(logging.ERROR, logger="cdr.hl7"):
            await bad.send(frame(b"boom") + frame(b"never handled"))
            assert await bad.closed_by_server()
        assert bad.pending == []  # neither the failing frame nor the one after it is answered
        assert any(
            r.name == "cdr.hl7" and r.exc_info and "handler bug" in str(r.exc_info[1])
            for r in caplog.records
        )
        await good.send(frame(b"still here"))
        assert await good.replies(1) == [b"ACK:still here"]
        await until(lambda: server.connections == 1)
        fresh = await Peer.connect(server.port)
        await fresh.send(frame(b"new"))
        assert await fresh.replies(1) == [b"ACK:new"]
        for peer in (good, bad, fresh):
            await peer.close()
    finally:
        await server.close()


async def test_a_none_reply_sends_nothing_and_the_next_reply_follows():
    async def handler(payload: bytes) -> bytes | None:
        return None if payload == b"quiet" else b"ACK:" + payload

    server = await started(handler)
    try:
        peer = await Peer.connect(server.port)
        await peer.send(frame(b"quiet") + frame(b"loud"))
        assert await peer.replies(1) == [b"ACK:loud"]
        await peer.close()
    finally:
        await server.close()


async def test_after_a_half_close_the_received_frames_are_still_answered(server):
    peer = await Peer.connect(server.port)
    await peer.send(frame(b"1") + frame(b"2"))
    peer.writer.write_eof()
    assert await peer.replies(2) == [b"ACK:1", b"ACK:2"]
    assert await peer.closed_by_server()
    await peer.close()


async def test_accepted_connections_have_tcp_nodelay():
    sock = socket.create_server(("127.0.0.1", 0))  # proto 0: asyncio would not set it itself
    server = MllpServer(echo, on_oversize=too_big)
    await server.start("127.0.0.1", 0, sock=sock)
    try:
        peer = await Peer.connect(server.port)
        await peer.send(frame(b"x"))
        await peer.replies(1)
        (connection,) = server._open  # the server side of the socket is only reachable here
        accepted = connection._transport.get_extra_info("socket")
        assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        await peer.close()
    finally:
        await server.close()


async def test_connections_over_the_limit_are_closed_at_once():
    server = await started(max_connections=2)
    try:
        first, second = await Peer.connect(server.port), await Peer.connect(server.port)
        await until(lambda: server.connections == 2)
        third = await Peer.connect(server.port)
        assert await third.closed_by_server()
        await first.send(frame(b"1"))
        assert await first.replies(1) == [b"ACK:1"]
        for peer in (first, second, third):
            await peer.close()
    finally:
        await server.close()


async def test_close_waits_for_the_handler_in_flight_and_delivers_its_reply():
    entered, release = asyncio.Event(), asyncio.Event()

    async def handler(payload: bytes) -> bytes:
        entered.set()
        await release.wait()
        return b"ACK:" + payload

    server = await started(handler)
    port = server.port
    peer = await Peer.connect(port)
    await peer.send(frame(b"in flight") + frame(b"queued"))
    await asyncio.wait_for(entered.wait(), WAIT_S)
    closing = asyncio.create_task(server.close())
    await asyncio.sleep(0.05)
    assert not closing.done()
    release.set()
    await asyncio.wait_for(closing, WAIT_S)
    assert await peer.replies(1) == [b"ACK:in flight"]
    assert await peer.closed_by_server()
    assert peer.pending == []  # the queued frame was not started: no reply, the sender resends
    assert server.connections == 0
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    await peer.close()


async def test_close_aborts_what_outlasts_the_grace_period():
    async def stuck(payload: bytes) -> bytes:
        await asyncio.Event().wait()
        return b""

    server = await started(stuck)
    peer = await Peer.connect(server.port)
    await peer.send(frame(b"x"))
    await until(lambda: server.connections == 1)
    await asyncio.wait_for(server.close(grace_s=0.1), WAIT_S)
    assert await peer.closed_by_server()
    await peer.close()


# --- bytes held per connection and in total (issue 11.8) ----------------------------------

READ_CHUNK = 256 * 1024  # the most one read of the event loop takes from a socket


class Gate:
    """A handler that answers only once ``open`` is set; counts the frames it was given."""

    def __init__(self, reply_size: int = 10) -> None:
        self.open = asyncio.Event()
        self.handled = 0
        self.reply = b"R" * reply_size

    async def __call__(self, payload: bytes) -> bytes:
        await self.open.wait()
        self.handled += 1
        return self.reply


async def test_a_sender_whose_frames_wait_is_no_longer_read_past_the_per_connection_bound():
    gate = Gate()
    bound = 1_048_576
    server = await started(gate, max_pending_bytes=bound)
    try:
        peer = await Peer.connect(server.port)
        count, size = 100, 100_000
        peer.writer.write(frame(b"m" * size) * count)  # 10 MB, not drained: it waits in our buffer
        await until(lambda: server.paused_connections == 1)
        # the handler holds the first frame; what waits is bounded, the rest stays unread
        assert server.pending_bytes <= bound + READ_CHUNK + size
        assert server.pending_bytes < count * size // 4
        gate.open.set()
        replies = await peer.replies(count)  # nothing lost: every frame is read and answered
        assert len(replies) == count
        await until(lambda: server.pending_bytes == 0 and server.paused_connections == 0)
        await peer.close()
    finally:
        await server.close()


async def test_a_sender_that_never_reads_its_replies_is_no_longer_read():
    gate = Gate(reply_size=65_536)
    gate.open.set()
    server = await started(gate)
    try:
        peer = await Peer.connect(server.port)
        count = 2_000  # 2,000 replies of 64 KiB: far more than the kernel's socket buffers
        peer.writer.write(frame(b"m" * 100) * count)
        await until(lambda: server.paused_connections == 1)
        handled = gate.handled
        assert handled < count  # it stopped handling and reading: the replies are not read
        assert server.pending_bytes <= server.max_pending_bytes + READ_CHUNK
        replies = await peer.replies(count)  # once the peer reads, everything flows again
        assert len(replies) == count
        await peer.close()
    finally:
        await server.close()


async def test_the_bytes_held_by_all_connections_together_are_bounded():
    gate = Gate()
    total = 512 * 1024
    server = await started(gate, max_pending_bytes_total=total)
    try:
        peers = [await Peer.connect(server.port) for _ in range(4)]
        count, size = 20, 50_000
        for peer in peers:
            peer.writer.write(frame(b"m" * size) * count)  # 1 MB each, 4 MB in all
        await until(lambda: server.paused_connections == 4)
        assert server.pending_bytes <= total + 4 * (READ_CHUNK + size)
        assert server.pending_bytes < 4 * count * size // 2
        gate.open.set()
        for peer in peers:
            assert len(await peer.replies(count)) == count
        await until(lambda: server.pending_bytes == 0)
        for peer in peers:
            await peer.close()
    finally:
        await server.close()
