"""The load client of the HL7 benchmark, in a process of its own as an integration engine is.

``python -m benchmarks.mllp_load SPEC.json`` (``run_load`` starts it and returns its report)
opens ``connections`` MLLP connections to ``host:port``; each sends one message and waits for its
ACK before the next, as an engine's outbound channel does in original mode. Messages are the
templates (a JSON list of strings in ``templates_path``, encoded with ``encoding``) in turn, each
with a unique MSH-10 (``prefix`` + a 7-digit sequence number) in place of ``MARK``. An ACK counts
only if it is ``MSA|AA|<that MSH-10>``. A frame that answers a message this connection already
had answered (``node-hl7-server`` 2.5 answers every earlier message of a connection again with
each new one) is skipped and counted as ``stale``; any other reply counts as the answer.

A warm-up phase (``warmup_s``) runs first on the same connections; then the measured phase stops
at ``count`` messages or after ``seconds``, whichever comes first. The client prints JSON on
stdout: the measured rate, counts, the first errors, and with ``record`` the time of the first
send and of each ACK by MSH-10 (``time.monotonic``: on Linux CLOCK_MONOTONIC, the same clock in
every process, so the benchmark can compare it with the times its receiver records).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

__all__ = ["MARK", "control_id", "run_load"]

MARK = "@@MSH10@@"
_MARK = MARK.encode()
_SB = b"\x0b"
_END = b"\x1c\r"


def control_id(prefix: str, number: int) -> str:
    """MSH-10 of message ``number``: at most 20 characters (ST 20 in v2.5)."""
    value = f"{prefix}{number:07d}"
    if len(value) > 20:
        raise ValueError(f"control id {value!r} is longer than 20 characters")
    return value


class _Connection(asyncio.Protocol):
    """One MLLP connection with at most one message in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._frames: asyncio.Queue[bytes] = asyncio.Queue()
        self._closed = False
        self._answered: set[bytes] = set()  # MSH-10s already answered on this connection
        self.stale = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(_END)) >= 0:
            reply = bytes(self._buffer[:end])
            del self._buffer[: end + len(_END)]
            self._frames.put_nowait(reply[1:] if reply[:1] == _SB else reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._frames.put_nowait(b"")

    async def call(self, payload: bytes, control_id: bytes) -> bytes:
        assert self.transport is not None
        self.transport.write(_SB + payload + _END)
        while True:
            reply = await self._frames.get()
            if not reply and self._closed:
                raise ConnectionError("the server closed the connection")
            if _answers(reply) in self._answered:
                self.stale += 1
                continue
            self._answered.add(control_id)
            return reply


def _answers(reply: bytes) -> bytes:
    """MSA-2 of an ACK: the MSH-10 it answers."""
    start = reply.find(b"\rMSA|")
    fields = reply[start + 1 :].split(b"\r", 1)[0].split(b"|") if start >= 0 else []
    return fields[2] if len(fields) > 2 else b""


class _Load:
    def __init__(self, spec: dict[str, Any]) -> None:
        with open(spec["templates_path"], encoding="utf-8") as handle:
            texts: list[str] = json.load(handle)
        self.templates = [t.encode(spec.get("encoding", "latin-1")) for t in texts]
        self.prefix: str = spec["prefix"]
        self.record: bool = spec.get("record", False)
        self.issued = 0
        self.acked = 0
        self.error_count = 0
        self.errors: list[str] = []
        self.first_send: float | None = None
        self.acks: dict[str, float] = {}

    async def phase(
        self, connections: list[_Connection], prefix: str, count: int, seconds: float
    ) -> tuple[int, float]:
        """Run until ``count`` messages are issued or ``seconds`` pass: (ACKs, elapsed)."""
        loop = asyncio.get_running_loop()
        self.issued = 0
        acked_before = self.acked
        start = loop.time()
        stop = start + seconds

        async def worker(connection: _Connection) -> None:
            while self.issued < count and loop.time() < stop:
                number = self.issued
                self.issued += 1
                cid = control_id(prefix, number).encode()
                payload = self.templates[number % len(self.templates)].replace(_MARK, cid, 1)
                if self.record and self.first_send is None:
                    self.first_send = time.monotonic()
                reply = await connection.call(payload, cid)
                if b"MSA|AA|" + cid in reply:
                    self.acked += 1
                    if self.record:
                        self.acks[cid.decode()] = time.monotonic()
                else:
                    self.error_count += 1
                    if len(self.errors) < 5:
                        self.errors.append(reply.decode("latin-1").replace("\r", "\n"))

        await asyncio.gather(*(worker(c) for c in connections))
        return self.acked - acked_before, loop.time() - start


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    connections: list[_Connection] = []
    for _ in range(spec["connections"]):
        _transport, connection = await loop.create_connection(
            _Connection, spec["host"], spec["port"]
        )
        connections.append(connection)
    load = _Load(spec)
    try:
        if spec.get("warmup_s", 0) > 0:
            await load.phase(connections, load.prefix + "W", 10**7 - 1, spec["warmup_s"])
        warmed = load.acked
        load.first_send = None
        load.acks.clear()
        acked, elapsed = await load.phase(
            connections, load.prefix + "M", spec["count"], spec["seconds"]
        )
    finally:
        for connection in connections:
            if connection.transport is not None:
                connection.transport.close()
    return {
        "connections": len(connections),
        "acked": acked,
        "warmup_acked": warmed,
        "seconds": elapsed,
        "rate": acked / elapsed if elapsed > 0 else 0.0,
        "error_count": load.error_count,
        "stale": sum(c.stale for c in connections),
        "errors": load.errors,
        "first_send": load.first_send,
        "acks": load.acks,
        "loop": type(loop).__module__.split(".")[0],
    }


async def run_load(port: int, templates: Path, **spec: Any) -> dict[str, Any]:
    """Load 127.0.0.1:``port`` from a child process; raises unless every reply was the AA."""
    spec_path = templates.with_name(f"load-{port}-{spec['prefix']}.json")
    spec_path.write_text(
        json.dumps({"host": "127.0.0.1", "port": port, "templates_path": str(templates), **spec}),
        encoding="utf-8",
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "benchmarks.mllp_load",
        str(spec_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(child.communicate(), spec["seconds"] + 120)
    finally:
        if child.returncode is None:  # timed out or cancelled
            child.kill()
            await child.wait()
    if child.returncode != 0:
        raise RuntimeError(f"the load client failed: {err.decode()[-4000:]}")
    report: dict[str, Any] = json.loads(out)
    if report["error_count"]:
        raise RuntimeError(
            f"{report['error_count']} messages not answered AA, e.g.:\n{report['errors'][0]}"
        )
    return report


def _runner() -> Callable[[Coroutine[Any, Any, dict[str, Any]]], dict[str, Any]]:
    # uvloop, when installed, keeps the client's own cost per message low: the client shares the
    # machine with the server it loads, whichever server that is.
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def main(spec_path: str) -> None:
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    result = _runner()(_run(spec))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
