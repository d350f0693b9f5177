"""The HL7 benchmark's MLLP counterparts of the gateway.

The reference peer, a process: a bare ACK-only MLLP server on python-hl7's asyncio server
(``hl7.mllp.start_hl7_server``), as issue 5 names it. Per message it reads the block
(``readblock``: the bytes between SB and EB CR), parses the MSH segment only, and writes
python-hl7's ``create_ack`` (AA, MSA-2 = MSH-10). No storage, no lookup, nothing after the ACK:
the floor a durable, working gateway is compared with. ``python -m benchmarks.hl7_peer`` listens
on 127.0.0.1 on a port the system picks, prints that port once it accepts connections, and stops
on SIGTERM or SIGINT; ``peer_process`` runs it.

The Node.js peers, processes too: the ACK-only servers of two npm packages an integration team
could deploy instead, run with the machine's Node.js from ``benchmarks/node_peers`` (``npm ci``
there installs them; ``make bench`` does). ``node-hl7-server`` answers with
``sendResponse('AA')``; ``@medplum/hl7`` (the Medplum agent's server) with the message's own
``buildAck()``. ``node_peer_process`` runs one, or says why it cannot.

The destination, in the benchmark's own process: ``Receiver`` takes the gateway's results,
answers AA, and records when each arrived by ZRD-7 (the MSH-10 of the admission it answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import hl7
import psutil
from hl7.mllp import HL7StreamReader, HL7StreamWriter, InvalidBlockError, start_hl7_server

from benchmarks.harness import free_port, stop_process

__all__ = [
    "NODE_PEERS",
    "Receiver",
    "ServerProcess",
    "answer",
    "node_peer_missing",
    "node_peer_process",
    "peer_process",
]

NODE_PEERS_DIR = Path(__file__).resolve().parent / "node_peers"
# Peer name -> its script in NODE_PEERS_DIR.
NODE_PEERS = {"node-hl7-server": "node_hl7_server_ack.mjs", "@medplum/hl7": "medplum_ack.mjs"}

_SB, _END = b"\x0b", b"\x1c\r"


# -- the reference peer --------------------------------------------------------------------------


async def answer(reader: HL7StreamReader, writer: HL7StreamWriter) -> None:
    """One connection: ACK each block in turn until the sender closes."""
    try:
        while True:
            block: bytes = await reader.readblock()
            # Latin-1 reads any byte; the MSH of the benchmark's messages is ASCII anyway.
            msh = block.split(b"\r", 1)[0].decode("latin-1")
            ack = hl7.parse(msh).create_ack()
            writer.writeblock(str(ack).encode("latin-1"))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, InvalidBlockError):
        pass
    finally:
        writer.close()


async def _main() -> None:
    server = await start_hl7_server(answer, "127.0.0.1", 0, limit=1_048_576)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await stop.wait()


@dataclass
class ServerProcess:
    """A server under load in a child process: its MLLP port, memory and CPU time."""

    process: subprocess.Popen[bytes]
    mllp_port: int

    def _tree(self) -> list[psutil.Process]:
        # The gateway runs its HL7 lookups in a child process: count the whole tree.
        root = psutil.Process(self.process.pid)
        return [root, *root.children(recursive=True)]

    def rss(self) -> int:
        """Resident memory of the server and its child processes."""
        return sum(int(p.memory_info().rss) for p in self._tree())

    def cpu_s(self) -> float:
        """CPU time used so far by every thread of every process of the server (user + system)."""
        return sum(float(t.user + t.system) for t in (p.cpu_times() for p in self._tree()))


@contextmanager
def peer_process() -> Iterator[ServerProcess]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.hl7_peer"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.strip().isdigit():
            raise RuntimeError("the python-hl7 peer did not start")
        yield ServerProcess(process, int(line))
    finally:
        stop_process(process)


def node_peer_missing(name: str) -> str | None:
    """Why the Node.js peer ``name`` cannot run here, or None when it can."""
    if shutil.which("node") is None:
        return "node (Node.js) is not installed"
    package = NODE_PEERS_DIR / "node_modules" / name / "package.json"
    if not package.exists():
        return f"{name} is not installed (npm ci --prefix benchmarks/node_peers)"
    return None


@contextmanager
def node_peer_process(name: str) -> Iterator[ServerProcess]:
    port = free_port()
    process = subprocess.Popen(
        ["node", str(NODE_PEERS_DIR / NODE_PEERS[name]), str(port)],
        cwd=NODE_PEERS_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if line.strip() != str(port).encode():
            raise RuntimeError(f"the {name} peer did not start")
        yield ServerProcess(process, port)
    finally:
        stop_process(process)


# -- the destination -----------------------------------------------------------------------------


@dataclass
class Receiver:
    """An MLLP destination for the results: answers AA, records when each ZRD-7 arrived
    (``time.monotonic``) and how many results came twice; ``watchers`` run at given counts."""

    arrivals: dict[str, float] = field(default_factory=dict)
    repeats: int = 0
    watchers: list[tuple[int, Callable[[], None]]] = field(default_factory=list)
    _server: asyncio.Server | None = None

    async def start(self) -> Receiver:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Inbound(self), "127.0.0.1", 0)
        return self

    @property
    def address(self) -> str:
        assert self._server is not None
        return f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    @property
    def count(self) -> int:
        return len(self.arrivals)

    def reset(self) -> None:
        self.arrivals.clear()
        self.repeats = 0
        self.watchers.clear()

    def receive(self, payload: bytes) -> bytes:
        """Record one result; the ACK to send back."""
        segments = payload.split(b"\r")
        msh = segments[0].split(b"|")
        zrd = next((s.split(b"|") for s in segments if s.startswith(b"ZRD|")), None)
        if zrd is not None and len(zrd) > 7:
            answered = zrd[7].decode("latin-1")
            if answered in self.arrivals:
                self.repeats += 1
            else:
                self.arrivals[answered] = time.monotonic()
                for threshold, fn in self.watchers:
                    if threshold == len(self.arrivals):
                        fn()
        control_id = msh[9] if len(msh) > 9 else b""  # MSH-10: MSH-1 is the separator
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S").encode()
        return (
            b"MSH|^~\\&|BENCH|BENCH|||" + stamp + b"||ACK|R" + control_id + b"|P|2.5\r"
            b"MSA|AA|" + control_id + b"\r"
        )

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


class _Inbound(asyncio.Protocol):
    def __init__(self, receiver: Receiver) -> None:
        self._receiver = receiver
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(_END)) >= 0:
            start = self._buffer.find(_SB, 0, end)  # -1 (no SB) reads from the first byte
            payload = bytes(self._buffer[start + 1 : end])
            del self._buffer[: end + len(_END)]
            assert self._transport is not None
            self._transport.write(_SB + self._receiver.receive(payload) + _END)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main())
