"""`kill -9` of the gateway in the middle of a burst, with real processes.

What the gateway guarantees (docs/hl7-interface.md §6): every message that got AA has its lookup
done and exactly one result message (one outbound MSH-10) per destination, delivered at least
once; a receiver that ignores a repeated MSH-10 sees each result exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import sqlalchemy as sa

from cdr.bootstrap import build_gateway
from cdr.hl7_runtime import Hl7Runtime
from cdr.storage.durability import WalSync
from tests.conftest import gateway_settings
from tests.e2e.hl7_peers import (
    MANIFEST,
    SB,
    Receiver,
    exchange,
    fixture_bytes,
    parse_reply,
    read_frame,
)

TEMPLATES = [
    (fixture_bytes(e["file"]), e["control_id"])
    for e in MANIFEST
    if e["lookup"] and e["ack"] == "AA" and (e["message_type"] or "").startswith("ADT")
]
EB = b"\x1c\x0d"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _message(number: int) -> tuple[str, bytes]:
    payload, control_id = TEMPLATES[number % len(TEMPLATES)]
    new_id = f"BURST-{number:05d}"
    return new_id, payload.replace(f"|{control_id}|".encode(), f"|{new_id}|".encode(), 1)


def _start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "cdr.cli", "serve"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


async def _wait_listening(
    port: int, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        await writer.wait_closed()
        return
    raise AssertionError(f"MLLP port {port} not listening within {timeout} s")


async def _sender(port: int, numbers: list[int], accepted: set[str], unanswered: list[int]) -> None:
    """An engine's connection: sends one message at a time and records each AA."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        unanswered.extend(numbers)
        return
    try:
        for index, number in enumerate(numbers):
            control_id, payload = _message(number)
            try:
                writer.write(SB + payload + EB)
                await writer.drain()
                reply = await asyncio.wait_for(read_frame(reader), 30)
            except (OSError, asyncio.IncompleteReadError, TimeoutError):
                unanswered.extend(numbers[index:])
                return
            assert f"MSA|AA|{control_id}".encode() in reply, reply
            accepted.add(control_id)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _inbox_counts(data_dir: Path) -> dict[str, int]:
    engine = sa.create_engine(f"sqlite:///{data_dir / 'cdr.sqlite3'}")
    try:
        with engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT status, count(*) FROM hl7_inbox GROUP BY status"
            ).all()
    finally:
        engine.dispose()
    return {status: int(count) for status, count in rows}


async def test_kill_9_mid_burst_loses_no_accepted_message_and_duplicates_no_result(tmp_path):
    receiver = await Receiver().start()
    mllp_port = _free_port()
    env = {
        **os.environ,
        "CDR_DATA_DIR": str(tmp_path),
        "CDR_HTTP_PORT": str(_free_port()),
        "CDR_MLLP_PORT": str(mllp_port),
        "CDR_SANDBOX_PORT": str(_free_port()),
        "CDR_HL7_DESTINATIONS": json.dumps([f"127.0.0.1:{receiver.port}"]),
        # Lookups lag behind the ACKs, so the kill finds messages accepted and not processed.
        "CDR_SANDBOX_FAULTS": json.dumps({"*": {"latency_ms": 30}}),
        "CDR_CACHE_TTL_S": "0",
        "CDR_LOG_FORMAT": "text",
    }
    for name in ("CDR_REGIMES_URL", "CDR_DATABASE_URL", "CDR_WORKERS"):
        env.pop(name, None)
    accepted: set[str] = set()
    unanswered: list[int] = []
    total, connections = 400, 4
    log = tmp_path / "gateway.log"
    gateway = _start(env, log)
    try:
        await _wait_listening(mllp_port, gateway, log)
        senders = [
            asyncio.create_task(
                _sender(mllp_port, list(range(c, total, connections)), accepted, unanswered)
            )
            for c in range(connections)
        ]
        deadline = time.monotonic() + 60
        while len(accepted) < 80 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        gateway.kill()  # SIGKILL: no shutdown code runs
        gateway.wait(timeout=30)
        await asyncio.gather(*senders)
        accepted_before_kill = set(accepted)
        assert len(accepted_before_kill) >= 80
        assert unanswered, "the kill came after the whole burst: nothing was tested"
        stored = _inbox_counts(tmp_path)
        # Every AA is on disk; some were still waiting for their lookup when the gateway died.
        assert sum(stored.values()) >= len(accepted_before_kill)
        assert stored.get("pending", 0) > 0, stored

        # The engine resends what got no ACK; the restarted gateway carries on.
        gateway = _start(env, log)
        await _wait_listening(mllp_port, gateway, log)
        await _sender(mllp_port, sorted(unanswered), accepted, [])
        assert len(accepted) == total

        def results_by_inbound() -> dict[str, set[str]]:
            found: dict[str, set[str]] = defaultdict(set)
            for message in receiver.messages:
                found[message.first("ZRD").value(7)].add(message.control_id)
            return found

        await receiver.wait_until(lambda: len(results_by_inbound()) >= total, timeout=120)
        by_inbound = results_by_inbound()
        assert set(by_inbound) == accepted
        # One result (one outbound MSH-10) per accepted message, even those accepted before
        # the kill and processed, or delivered, after the restart.
        assert all(len(ids) == 1 for ids in by_inbound.values()), {
            k: v for k, v in by_inbound.items() if len(v) != 1
        }
        assert _inbox_counts(tmp_path) == {"done": total}
    finally:
        if gateway.poll() is None:
            gateway.kill()
            gateway.wait(timeout=30)
        await receiver.stop()


async def test_the_aa_leaves_only_after_its_commit_is_flushed_to_disk(
    sandbox, tmp_path, monkeypatch
):
    """CDR_SQLITE_SYNCHRONOUS=full (the default): the WAL holding the message is flushed
    (fsync) before the AA is sent, so an AA'd message survives a power loss."""
    runtime: Hl7Runtime | None = None
    seen_at_flush: list[tuple[int, int]] = []  # (messages stored, AAs sent) at each flush
    real_flush = WalSync._flush

    def flush(self: WalSync) -> None:
        assert runtime is not None
        stored = runtime.inbox.last_id()
        real_flush(self)
        seen_at_flush.append((stored, runtime.intake.counters.accepted))

    monkeypatch.setattr(WalSync, "_flush", flush)
    settings = gateway_settings(sandbox.url, tmp_path, mllp_port=0)
    assert settings.sqlite_synchronous == "full"
    gateway = build_gateway(settings)
    runtime = Hl7Runtime(gateway)
    await runtime.start()
    try:
        [reply] = await exchange(runtime.port, [fixture_bytes("good/adt-a01-ins-nir-latin1.hl7")])
        msa = parse_reply(reply).first("MSA")
        assert msa is not None and msa.value(1) == "AA"
        # committed before the flush, and no AA sent before the flush was over
        assert seen_at_flush and seen_at_flush[0] == (1, 0)
    finally:
        await runtime.stop()
        await gateway.aclose()
