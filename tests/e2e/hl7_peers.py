"""Test peers for the HL7 side: an MLLP sender and a receiving integration engine."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

from hl7_listener.charset import codec_for, sniff_charset_field
from mapping.hl7v2.er7 import Message
from tests.hl7_fixtures import FIXTURES, MANIFEST, fixture_bytes

__all__ = [
    "FIXTURES",
    "MANIFEST",
    "Receiver",
    "exchange",
    "exchange_sync",
    "fixture_bytes",
    "parse_reply",
    "read_frame",
]


SB, EB = b"\x0b", b"\x1c\x0d"


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    data = await reader.readuntil(EB)
    start = data.index(SB)
    return data[start + 1 : -2]


async def exchange(port: int, payloads: list[bytes], *, timeout: float = 30) -> list[bytes]:
    """Send each payload on one connection and read its reply before the next."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    replies = []
    try:
        for payload in payloads:
            writer.write(SB + payload + EB)
            await writer.drain()
            replies.append(await asyncio.wait_for(read_frame(reader), timeout))
    finally:
        writer.close()
        await writer.wait_closed()
    return replies


def exchange_sync(port: int, payload: bytes, *, timeout: float = 30) -> bytes:
    """One message and its reply over a plain blocking socket (for tests driving processes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(SB + payload + EB)
        data = b""
        while not data.endswith(EB):
            chunk = sock.recv(65536)
            assert chunk, "connection closed before the reply"
            data += chunk
    return data[data.index(SB) + 1 : -2]


def parse_reply(reply: bytes, codec: str = "latin-1") -> Message:
    return Message.parse(reply.decode(codec))


@dataclass
class Receiver:
    """An integration engine's MLLP receiver: records every message, answers with ``answer``."""

    answer: Callable[[Message], str] = lambda _m: "AA"
    messages: list[Message] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    async def start(self) -> Receiver:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def wait_until(self, condition: Callable[[], bool], *, timeout: float = 30) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while not condition():
            assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def wait_for(self, count: int, *, timeout: float = 30) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.messages) < count:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"{len(self.messages)} of {count} messages arrived"
            self.arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.arrived.wait(), remaining)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                payload = await read_frame(reader)
                message = Message.parse(payload.decode(codec_for(sniff_charset_field(payload))))
                code = self.answer(message)
                if code == "AA":
                    self.messages.append(message)
                    self.arrived.set()
                ack = (
                    f"MSH|^~\\&|ENGINE|BUS|||20261124||ACK|A{len(self.messages)}|P|2.5\r"
                    f"MSA|{code}|{message.control_id}\r"
                )
                writer.write(SB + ack.encode("latin-1") + EB)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
