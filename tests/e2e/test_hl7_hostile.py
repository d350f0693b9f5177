"""Hostile and careless MLLP peers against the running HL7 side, over real sockets.

Each case is bounded in count and bytes and stays on loopback. Every test also checks that the
gateway logged no traceback: a hostile input is answered, never crashed on.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from cdr.bootstrap import build_gateway
from cdr.hl7_runtime import Hl7Runtime
from regimes.sandbox.server import RunningServer
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

