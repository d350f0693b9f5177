"""MllpClient against our MllpServer over real sockets: persistence, reconnection, failures."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest

from hl7_listener.client import DeliveryFailed, MllpClient
from hl7_listener.server import MllpServer
from rights.errors import CdrError

WAIT_S = 10.0


async def echo(payload: bytes) -> bytes:
    return b"ACK:" + payload


async def no_oversize(head: bytes) -> None:
    return None


async def until(condition) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def started(handler=echo, port: int = 0) -> MllpServer:
    server = MllpServer(handler, on_oversize=no_oversize)
    await server.start("127.0.0.1", port)
    return server


@pytest.fixture
async def server() -> AsyncIterator[MllpServer]:
    running = await started()
    yield running
    await running.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_send_returns_the_reply_on_one_persistent_connection(server):
    async with MllpClient("127.0.0.1", server.port, timeout_s=WAIT_S) as client:
        for n in range(20):
            assert await client.send(b"m%d" % n) == b"ACK:m%d" % n
        assert client.connected
        assert server.connections == 1
    await until(lambda: server.connections == 0)


async def test_concurrent_sends_on_one_client_each_get_their_own_reply(server):
    async with MllpClient("127.0.0.1", server.port, timeout_s=WAIT_S) as client:
        payloads = [b"p%d" % n for n in range(30)]
        replies = await asyncio.gather(*(client.send(p) for p in payloads))
        assert replies == [b"ACK:" + p for p in payloads]
        assert server.connections == 1


async def test_the_client_reconnects_after_the_server_restarts():
    server = await started()
    port = server.port
    client = MllpClient("127.0.0.1", port, timeout_s=WAIT_S)
    try:
        assert await client.send(b"before") == b"ACK:before"
        await server.close()
        await until(lambda: not client.connected)
        with pytest.raises(DeliveryFailed) as down:
            await client.send(b"while down")
        assert down.value.reason == "refused"
        server = await started(port=port)
        assert await client.send(b"after") == b"ACK:after"
        assert client.connected
    finally:
        await client.close()
        await server.close()


async def test_a_connection_closed_before_the_reply_is_closed_then_the_next_send_reconnects():
    async def handler(payload: bytes) -> bytes:
        if payload == b"crash":
            raise RuntimeError("the server closes this connection")
        return b"ACK:" + payload

    server = await started(handler)
    try:
        async with MllpClient("127.0.0.1", server.port, timeout_s=WAIT_S) as client:
            with pytest.raises(DeliveryFailed) as closed:
                await client.send(b"crash")
            assert closed.value.reason == "closed"
            assert not client.connected
            assert await client.send(b"again") == b"ACK:again"
    finally:
        await server.close()


async def test_a_refused_connection_says_refused():
    client = MllpClient("127.0.0.1", free_port(), timeout_s=WAIT_S)
    with pytest.raises(DeliveryFailed) as refused:
        await client.send(b"x")
    assert refused.value.reason == "refused"
    assert "cannot connect" in refused.value.message
    await client.close()


async def test_no_reply_in_time_says_timeout_and_a_late_reply_is_never_misread():
    release = asyncio.Event()

    async def handler(payload: bytes) -> bytes:
        if payload == b"slow":
            await release.wait()
            return b"LATE"
        return b"ACK:" + payload

    server = await started(handler)
    try:
        async with MllpClient("127.0.0.1", server.port, timeout_s=0.2) as client:
            began = time.monotonic()
            with pytest.raises(DeliveryFailed) as late:
                await client.send(b"slow")
            assert late.value.reason == "timeout"
            assert time.monotonic() - began >= 0.15
            release.set()
            assert await client.send(b"next") == b"ACK:next"  # on a new connection
    finally:
        await server.close()


async def test_a_handler_that_never_replies_is_a_timeout():
    async def silent(payload: bytes) -> None:
        return None

    server = await started(silent)
    try:
        async with MllpClient("127.0.0.1", server.port, timeout_s=0.1) as client:
            with pytest.raises(DeliveryFailed) as silence:
                await client.send(b"x")
            assert silence.value.reason == "timeout"
    finally:
        await server.close()


async def test_an_oversized_reply_says_oversized_and_the_connection_stays_usable():
    async def handler(payload: bytes) -> bytes:
        return b"R" * 5000 if payload == b"big" else b"ACK:" + payload

    server = await started(handler)
    try:
        async with MllpClient(
            "127.0.0.1", server.port, timeout_s=WAIT_S, max_message_bytes=1000
        ) as client:
            with pytest.raises(DeliveryFailed) as big:
                await client.send(b"big")
            assert big.value.reason == "oversized"
            assert client.connected
            assert await client.send(b"small") == b"ACK:small"
            assert server.connections == 1
    finally:
        await server.close()


async def test_delivery_failed_is_a_cdr_error():
    assert issubclass(DeliveryFailed, CdrError)
    assert DeliveryFailed("m", reason="closed").reason == "closed"


def test_server_and_client_run_on_uvloop():
    uvloop = pytest.importorskip("uvloop")  # what uvicorn[standard] installs for `cdr serve`

    async def scenario() -> list[bytes]:
        server = await started()
        try:
            async with MllpClient("127.0.0.1", server.port, timeout_s=WAIT_S) as client:
                return [await client.send(b"a"), await client.send(b"b")]
        finally:
            await server.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == [b"ACK:a", b"ACK:b"]
