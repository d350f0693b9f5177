"""Loopback servers that send exact bytes, so each edge case of the transport is controlled."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager, suppress

import httpx

from regimes.endpoints import RegimeEndpoint
from regimes.port import WireReply, WireRequest
from regimes.transport import FastPort, FastTransport

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


class Server:
    """A loopback server running ``handler`` per connection, counting connections."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.url = ""
        self.connections = 0
        self.open = 0
        self.max_open = 0
        self.requests: list[bytes] = []
        self.tasks: set[asyncio.Task[None]] = set()

    async def on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.tasks.add(task)
        self.connections += 1
        self.open += 1
        self.max_open = max(self.max_open, self.open)
        try:
            await self.handler(self, reader, writer)
        finally:
            self.open -= 1
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        """One request, head and Content-Length body; None when the client closed."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = 0
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request


Handler = Callable[[Server, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[Server]:
    state = Server(handler)
    server = await asyncio.start_server(state.on_connect, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield state
    finally:
        server.close()
        for task in state.tasks:
            task.cancel()
        await asyncio.gather(*state.tasks, return_exceptions=True)
        await server.wait_closed()


def answering(*responses: bytes) -> Handler:
    """Keep-alive handler answering each request with the next response (the last repeats)."""

    async def handler(server: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        index = 0
        while await server.read_request(reader) is not None:
            writer.write(responses[min(index, len(responses) - 1)])
            await writer.drain()
            index += 1

    return handler


async def send(
    transport: FastTransport,
    url: str,
    method: str = "GET",
    target: str = "/",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    *,
    idempotent: bool = False,
    timeout: httpx.Timeout | None = None,
) -> WireReply:
    """One request through a ``FastPort`` to ``url`` on ``transport`` (closed by the caller)."""
    port = FastPort(transport, RegimeEndpoint(url), timeout or httpx.Timeout(5))
    return await port.send(WireRequest(method, target, headers or {}, body, idempotent))
