"""`cdr card agent` as a desk runs it: a real process over the real pcscd and the emulated card,
asked over real HTTP as the portal's page asks it (its Origin): the card described, a login
with the PIN, an assertion signed, and the card taken out heard on the event stream, which
ends the session."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from card.agent import b64url
from tests.integration.card.conftest import DEMO_PIN, EmulatedCardProcess

Start = Callable[..., EmulatedCardProcess]
ORIGIN = "http://127.0.0.1:18080"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def agent() -> Iterator[httpx.Client]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDR_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "card", "agent", "--port", str(port)],
        env={**env, "CDR_CARD_AGENT_ORIGIN": ORIGIN},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Origin": ORIGIN})
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.get("/card", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stdout.read() if process.stdout else ""
                assert time.monotonic() < deadline, "the card agent did not start"
                time.sleep(0.05)
        yield client
    finally:
        client.close()
        process.terminate()
        output, _ = process.communicate(timeout=10)
        assert "Traceback" not in output, output


def _next_event(events: Iterator[str]) -> dict[str, bool]:
    for line in events:
        if line.startswith("data: "):
            return json.loads(line.removeprefix("data: "))  # type: ignore[no-any-return]
    raise AssertionError("the event stream ended")


def test_the_portal_logs_in_signs_and_hears_the_card_leave(
    emulated_card: Start, agent: httpx.Client
) -> None:
    card = emulated_card("cpe-secretaire")
    status = agent.get("/card").json()
    assert status["present"] and status["holder"]["identifier_kind"] == "structure"
    login = agent.post("/login", json={"challenge": b64url(b"nonce"), "pin": DEMO_PIN}, timeout=30)
    assert login.status_code == 200, login.text
    assert login.json()["holder"]["surname"] == "SECRETAIRE-TEST"
    signed = agent.post("/sign", json={"data": b64url(b"a.b")}, timeout=30)
    assert signed.status_code == 200 and signed.json()["signature"]
    with agent.stream("GET", "/events", timeout=30) as stream:
        events = stream.iter_lines()
        assert _next_event(events) == {"present": True, "session": True}
        card.remove()
        assert _next_event(events) == {"present": False, "session": False}
    refused = agent.post("/sign", json={"data": b64url(b"a.b")}, timeout=30)
    assert refused.status_code == 401 and refused.json()["code"] == "no-session"


def test_another_site_gets_nothing(emulated_card: Start, agent: httpx.Client) -> None:
    emulated_card("medecin")
    response = agent.get("/card", headers={"Origin": "https://ailleurs.example"})
    assert response.status_code == 403 and response.json()["code"] == "forbidden-origin"
