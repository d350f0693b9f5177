"""`cdr serve` as a user starts it: a real process with the sandbox alongside, then `cdr lookup`
from another process against it."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.hl7_peers import exchange_sync, fixture_bytes
from tests.e2e.test_scenarios import POPULATION
from tests.unit.cdr.test_audit_syslog import Collector


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[str], deadline_s: float = 30) -> dict:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            response = httpx.get(url, timeout=1)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready within {deadline_s} s")


def interrupt(server: subprocess.Popen[str], *, timeout: float) -> tuple[str, str]:
    """Ctrl-C, as a person stops `cdr serve`; kill only if it does not stop in time."""
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=timeout)
    finally:
        if server.poll() is None:
            server.kill()
    return server.communicate()


def test_cdr_serve_runs_the_whole_system_and_lookup_reaches_it(tmp_path):
    http_port, sandbox_port, mllp_port = _free_port(), _free_port(), _free_port()
    agent_port = _free_port()
    collector = Collector()  # the site's syslog collector: the audit trail is copied there
    env = {
        **os.environ,
        "CDR_DATA_DIR": str(tmp_path),
        "CDR_SANDBOX_PORT": str(sandbox_port),
        "CDR_HTTP_PORT": str(http_port),
        "CDR_MLLP_PORT": str(mllp_port),
        "CDR_AUDIT_SYSLOG_URL": f"tcp://127.0.0.1:{collector.port}",
        "CDR_CARD_AGENT_PORT": str(agent_port),
    }
    env.pop("CDR_REGIMES_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = _wait_ready(f"http://127.0.0.1:{http_port}/readyz", server)
        assert ready["checks"] == {"database": True, "regimes": True}
        # The demo is secured as the service is (issue 13 item 6): a test PKI in the data
        # directory, the sandbox over mutual TLS, refusing a client without a certificate.
        chain = tmp_path / "pki" / "ca" / "chain.pem"
        assert (tmp_path / "pki" / "manifest.json").is_file()
        with pytest.raises(httpx.HTTPError):
            httpx.get(
                f"https://127.0.0.1:{sandbox_port}/regimes/cnam/health",
                verify=ssl.create_default_context(cafile=str(chain)),
                timeout=5,
            ).raise_for_status()
        # The desk's card agent runs beside the demo card, for the portal's origin only.
        origin = {"Origin": f"http://127.0.0.1:{http_port}"}
        card = httpx.get(f"http://127.0.0.1:{agent_port}/card", headers=origin, timeout=10)
        assert card.status_code == 200 and "present" in card.json()
        other = httpx.get(f"http://127.0.0.1:{agent_port}/card", timeout=10)
        assert other.status_code == 403
        member = next(m for m in POPULATION.members if "c2s" in m.scenarios)
        lookup = subprocess.run(
            [sys.executable, "-m", "cdr.cli", "lookup", "--nir", member.nir, "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert lookup.returncode == 0, lookup.stderr
        report = json.loads(lookup.stdout)
        found = [r for r in report["results"] if r["status"] == "found"]
        assert [r["regime"] for r in found] == [member.regime]
        assert found[0]["rights"]["situations"][0]["kind"] == "c2s"
        assert (tmp_path / "cdr.sqlite3").exists()
        # The MLLP listener answers an admission with AA once it is stored.
        ack = exchange_sync(mllp_port, fixture_bytes("good/adt-a01-ins-nir-latin1.hl7"))
        assert b"MSA|AA|CPAGE-000184213" in ack
        # What the HTTP parser refuses is an OperationOutcome, and a JSON line in the log.
        with socket.create_connection(("127.0.0.1", http_port), timeout=10) as client:
            client.sendall(b"POST /fhir/metadata HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n")
            refused = b""
            while chunk := client.recv(4096):
                refused += chunk
        assert refused.startswith(b"HTTP/1.1 400 ")
        assert b'"resourceType":"OperationOutcome"' in refused
        # Both lookups are in the audit trail, intact, and copied to the collector.
        messages = collector.wait_for(2)
        assert any('"code":"cli-lookup"' in m for m in messages)
        assert any('"code":"hl7-admission"' in m for m in messages)
        verify = subprocess.run(
            [sys.executable, "-m", "cdr.cli", "audit", "verify"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert verify.returncode == 0, verify.stderr
        assert "audit trail intact: 2 events" in verify.stdout
    finally:
        collector.close()
        out, err = interrupt(server, timeout=15)
    assert server.returncode == 0, err
    assert "Traceback" not in err
    assert f"127.0.0.1:{http_port}" in err + out
    # CDR_LOG_FORMAT=json (the default): every line of the log is a JSON object, uvicorn's too.
    lines = [json.loads(line) for line in err.splitlines()]
    assert any(line["message"] == "invalid HTTP request refused" for line in lines)
    said = "\n".join(line["message"] for line in lines)
    assert "regime security  mutual TLS and a signed assertion on every call" in said
    assert (
        "demo card        CPS card of CLAIRE MEDECIN-TEST (Médecin, 810100234567), PIN 1234" in said
    )


def test_the_plain_http_demo_stays_one_setting_away(tmp_path):
    http_port, sandbox_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "CDR_DATA_DIR": str(tmp_path),
        "CDR_SANDBOX_PORT": str(sandbox_port),
        "CDR_HTTP_PORT": str(http_port),
        "CDR_MLLP_PORT": str(_free_port()),
        "CDR_DEMO_SECURITY": "off",
    }
    env.pop("CDR_REGIMES_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{http_port}/readyz", server)
        health = httpx.get(f"http://127.0.0.1:{sandbox_port}/regimes/cnam/health", timeout=5)
        assert health.status_code == 200
        assert not (tmp_path / "pki").exists()
    finally:
        _out, err = interrupt(server, timeout=15)
    assert "regime security" not in err and "demo card" not in err


def test_a_busy_port_is_a_clear_error_not_a_traceback(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {
            **os.environ,
            "CDR_DATA_DIR": str(tmp_path),
            "CDR_SANDBOX_PORT": str(_free_port()),
            "CDR_HTTP_PORT": str(port),
        }
        process = subprocess.run(
            [sys.executable, "-m", "cdr.cli", "serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert process.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port} (CDR_HTTP_PORT / --http-port)" in process.stderr
    assert "Traceback" not in process.stderr


def test_invalid_setting_names_the_variable(tmp_path):
    process = subprocess.run(
        [sys.executable, "-m", "cdr.cli", "lookup", "--nir", "1850575056123"],
        env={**os.environ, "CDR_DATA_DIR": str(tmp_path), "CDR_REGIME_TIMEOUT_S": "soon"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 2
    assert "CDR_REGIME_TIMEOUT_S" in process.stderr
    assert "Traceback" not in process.stderr
