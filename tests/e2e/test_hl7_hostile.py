"""Hostile and careless MLLP peers against the running HL7 side, over real sockets.

Each case is bounded in count and bytes and stays on loopback. Every test also checks that the
gateway logged no traceback: a hostile input is answered, never crashed on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cdr.bootstrap import build_gateway
from cdr.hl7_runtime import Hl7Runtime
from sandbox.server import RunningServer
from tests.conftest import gateway_settings
from tests.e2e.hl7_peers import exchange, fixture_bytes, parse_reply

A01 = "good/adt-a01-ins-nir-latin1.hl7"


@pytest.fixture(autouse=True)
def no_traceback_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level(logging.INFO)
    yield
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info]
    assert tracebacks == [], f"the gateway logged tracebacks: {tracebacks}"


async def _runtime(sandbox: RunningServer, tmp_path: Path, **overrides: object) -> Hl7Runtime:
    settings = gateway_settings(sandbox.url, tmp_path, mllp_port=0, **overrides)
    runtime = Hl7Runtime(build_gateway(settings))
    await runtime.start()
    return runtime


@pytest.fixture
async def hl7(sandbox: RunningServer, tmp_path: Path) -> AsyncIterator[Hl7Runtime]:
    runtime = await _runtime(sandbox, tmp_path)
    yield runtime
    await runtime.stop()
    await runtime._gateway.aclose()


# --- input that is not an HL7 message ------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        b"\xc9v\xe9nement|^~\\&|non ascii\r",
        "PID|1||é".encode(),
        b"\xff\xfe\x00M\x00S\x00H",
    ],
    ids=["http", "latin-1", "utf-8-pid-first", "utf-16"],
)
async def test_a_frame_without_msh_is_rejected_ar_100_at_msh_whatever_its_bytes(
    hl7: Hl7Runtime, payload: bytes
) -> None:
    # docs/hl7-interface.md §5: no readable MSH -> AR, empty MSA-2, ERR 100 at MSH^1
    [reply] = await exchange(hl7.port, [payload])
    ack = parse_reply(reply)
    msa, err = ack.first("MSA"), ack.first("ERR")
    assert msa is not None and (msa.value(1), msa.value(2)) == ("AR", "")
    assert err is not None
    assert (err.field(2), err.value(3, 1), err.value(4)) == ("MSH^1", "100", "E")
    # and the gateway goes on serving
    [after] = await exchange(hl7.port, [fixture_bytes(A01)])
    after_msa = parse_reply(after).first("MSA")
    assert after_msa is not None and after_msa.value(1) == "AA"


# --- fields over their length bound (mapping/hl7v2/lengths.py) -------------------------------


def _with_field(payload: bytes, segment: bytes, number: int, value: bytes) -> bytes:
    lines = payload.split(b"\r")
    for index, line in enumerate(lines):
        if line.startswith(segment + b"|"):
            fields = line.split(b"|")
            position = number if segment != b"MSH" else number - 1
            fields += [b""] * (position + 1 - len(fields))
            fields[position] = value
            lines[index] = b"|".join(fields)
            return b"\r".join(lines)
    raise AssertionError(f"no {segment!r} in the fixture")


async def test_a_megabyte_msh_10_is_refused_ar_102_and_not_stored(hl7: Hl7Runtime) -> None:
    payload = _with_field(fixture_bytes(A01), b"MSH", 10, b"X" * 1_000_000)
    replies = await exchange(hl7.port, [payload, payload])
    for reply in replies:  # sent twice: nothing remembered, nothing echoed
        assert len(reply) < 2_000
        ack = parse_reply(reply)
        msa, err = ack.first("MSA"), ack.first("ERR")
        assert msa is not None and (msa.value(1), msa.value(2)) == ("AR", "")
        assert err is not None and (err.field(2), err.value(3, 1)) == ("MSH^1^10", "102")
        assert "1,000,000 characters" in err.value(8)
    assert hl7.inbox.last_id() == 0


async def test_an_msh_10_of_199_characters_is_accepted_and_echoed(hl7: Hl7Runtime) -> None:
    control_id = b"C" * 199  # ST 20 in v2.5, 199 from v2.7: the tolerant bound
    [reply] = await exchange(hl7.port, [_with_field(fixture_bytes(A01), b"MSH", 10, control_id)])
    msa = parse_reply(reply).first("MSA")
    assert msa is not None and (msa.value(1), msa.value(2)) == ("AA", control_id.decode())


@pytest.mark.parametrize(
    ("segment", "number", "length", "location"),
    [
        (b"PID", 7, 100_000, "PID^1^7"),
        (b"PID", 5, 300, "PID^1^5"),
        (b"PID", 3, 50_000, "PID^1^3"),
        (b"PV1", 19, 251, "PV1^1^19"),
    ],
)
async def test_an_oversized_field_is_refused_ae_102_at_the_field_with_a_short_ack(
    hl7: Hl7Runtime, segment: bytes, number: int, length: int, location: str
) -> None:
    payload = _with_field(fixture_bytes(A01), segment, number, b"7" * length)
    [reply] = await exchange(hl7.port, [payload])
    assert len(reply) < 2_000  # no ERR-8 quoting the whole value
    ack = parse_reply(reply)
    msa, err = ack.first("MSA"), ack.first("ERR")
    assert msa is not None and msa.value(1) == "AE"
    assert err is not None and (err.field(2), err.value(3, 1)) == (location, "102")
    assert hl7.inbox.last_id() == 0


# --- peers that send and never read (hl7_listener/server.py flow control) ------------------


async def test_a_peer_that_sends_big_frames_and_never_reads_holds_bounded_memory(
    sandbox: RunningServer, tmp_path: Path
) -> None:
    bound = 256 * 1024
    runtime = await _runtime(sandbox, tmp_path, mllp_max_pending_bytes=bound)
    server = runtime.server
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", runtime.port)
        count, size = 60, 200_000  # 12 MB of frames that are no HL7 message
        writer.write((b"\x0b" + b"z" * size + b"\x1c\x0d") * count)
        held: list[int] = []
        deadline = asyncio.get_running_loop().time() + 30
        while runtime.intake.counters.rejected < count:
            held.append(server.pending_bytes)
            assert asyncio.get_running_loop().time() < deadline, "the frames were not handled"
            await asyncio.sleep(0.005)
        # never more than the bound, one read of the event loop and the frame in progress
        assert max(held) <= bound + 256 * 1024 + size
        # meanwhile and after, others are served
        [reply] = await exchange(runtime.port, [fixture_bytes(A01)])
        msa = parse_reply(reply).first("MSA")
        assert msa is not None and msa.value(1) == "AA"
        writer.close()
        del reader
    finally:
        await runtime.stop()
        await runtime._gateway.aclose()
