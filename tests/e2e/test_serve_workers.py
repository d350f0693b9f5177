"""`cdr serve --workers 2` as a user starts it: the parent migrates and runs the sandbox, two
uvicorn workers serve the FHIR API; a $submit goes through; Ctrl-C stops everything cleanly.

On PostgreSQL too when `CDR_TEST_POSTGRES_URL` is set (a database of its own, dropped after)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.hl7_peers import exchange_sync, fixture_bytes
from tests.e2e.test_fhir_api import FHIR_JSON, cer_for
from tests.e2e.test_scenarios import POPULATION
from tests.e2e.test_serve import _free_port, _wait_ready, interrupt
from tests.postgres import scratch_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'cdr.sqlite3'}"
        return
    with scratch_database("cdr serve --workers on PostgreSQL") as url:
        yield url


def test_cdr_serve_with_two_workers_answers_submit_and_stops_cleanly(tmp_path, database_url):
    http_port, sandbox_port, mllp_port = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "CDR_DATA_DIR": str(tmp_path),
        "CDR_DATABASE_URL": database_url,
        # The ports come from the command line: the workers must receive them all the same.
        "CDR_HTTP_PORT": "1",
        "CDR_SANDBOX_PORT": "1",
        "CDR_MLLP_PORT": str(mllp_port),
    }
    env.pop("CDR_REGIMES_URL", None)
    env.pop("CDR_WORKERS", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cdr.cli",
            "serve",
            "--workers",
            "2",
            "--http-port",
            str(http_port),
            "--sandbox-port",
            str(sandbox_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        ready = _wait_ready(f"http://127.0.0.1:{http_port}/readyz", server, deadline_s=60)
        assert ready["checks"] == {"database": True, "regimes": True}
        member = next(m for m in POPULATION.members if "c2s" in m.scenarios)
        # Several requests, so that both workers are likely to serve some: each builds its own
        # gateway and must find the schema the parent migrated.
        for _ in range(4):
            response = httpx.post(
                f"http://127.0.0.1:{http_port}/fhir/CoverageEligibilityRequest/$submit",
                json=cer_for(member),
                headers={"Content-Type": FHIR_JSON},
                timeout=30,
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["resourceType"] == "CoverageEligibilityResponse"
            assert body["outcome"] == "complete"
            assert body["insurance"], body
        # The base URL in the workers' Content-Location comes from --http-port, not CDR_HTTP_PORT.
        assert response.headers["content-location"].startswith(
            f"http://127.0.0.1:{http_port}/fhir/"
        )
        stored = httpx.get(response.headers["content-location"], timeout=30)
        assert stored.status_code == 200
        # MLLP is served by the parent beside the HTTP workers.
        ack = exchange_sync(mllp_port, fixture_bytes("good/adt-a01-ins-nir-latin1.hl7"))
        assert b"MSA|AA|CPAGE-000184213" in ack
    finally:
        out, err = interrupt(server, timeout=30)
    assert server.returncode == 0, err
    # The whole traceback when there is one: a worker's, in a log line, is easy to lose.
    assert "Traceback" not in err, err[max(err.find("Traceback") - 300, 0) :][:4000]
    assert f"127.0.0.1:{sandbox_port}" in err + out
    assert "2 processes" in err + out


def test_a_busy_port_with_workers_is_a_clear_error(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {**os.environ, "CDR_DATA_DIR": str(tmp_path), "CDR_WORKERS": "2"}
        env.pop("CDR_REGIMES_URL", None)
        env.pop("CDR_DATABASE_URL", None)
        process = subprocess.run(
            [
                sys.executable,
                "-m",
                "cdr.cli",
                "serve",
                "--http-port",
                str(port),
                "--sandbox-port",
                str(_free_port()),
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert process.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port} (CDR_HTTP_PORT / --http-port)" in process.stderr
    assert "Traceback" not in process.stderr


def _scraped(port: int, series: str) -> float:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    found = re.search(rf"^{re.escape(series)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def _poll(read, expected: float, deadline_s: float = 30) -> float:
    deadline = time.monotonic() + deadline_s
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


def test_metrics_are_summed_over_the_workers(tmp_path):
    """Each scrape reports every process's counts, whichever worker answers it (issue 18.12)."""
    http_port, sandbox_port, mllp_port = _free_port(), _free_port(), _free_port()
    env = {**os.environ, "CDR_DATA_DIR": str(tmp_path), "CDR_MLLP_PORT": str(mllp_port)}
    for name in ("CDR_REGIMES_URL", "CDR_DATABASE_URL", "CDR_WORKERS", "CDR_METRICS_DIR"):
        env.pop(name, None)
    # A file left by an earlier run is not this run's: `cdr serve` empties the directory.
    (tmp_path / "metrics").mkdir()
    stale = {
        "cdr_http_requests_total": {
            "type": "counter",
            "help": "HTTP requests by method, route and status.",
            "labels": ["method", "route", "status"],
            "buckets": [],
            "series": [[["POST", "/fhir/CoverageEligibilityRequest/$submit", "200"], 1000]],
        }
    }
    (tmp_path / "metrics" / "1-stale.json").write_text(json.dumps(stale))
    server = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "serve", "--workers", "2",
         "--http-port", str(http_port), "--sandbox-port", str(sandbox_port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    submits = 'cdr_http_requests_total{method="POST",route="/fhir/CoverageEligibilityRequest/$submit",status="200"}'  # noqa: E501
    try:
        _wait_ready(f"http://127.0.0.1:{http_port}/readyz", server, deadline_s=60)
        member = next(m for m in POPULATION.members if "c2s" in m.scenarios)
        sent = 24
        for _ in range(sent):  # a connection each: the kernel spreads them over both workers
            response = httpx.post(
                f"http://127.0.0.1:{http_port}/fhir/CoverageEligibilityRequest/$submit",
                json=cer_for(member),
                headers={"Content-Type": FHIR_JSON},
                timeout=30,
            )
            assert response.status_code == 200, response.text
        assert _poll(lambda: _scraped(http_port, submits), sent) == sent
        # Every scrape, whichever worker answers it, gives the same total.
        assert {_scraped(http_port, submits) for _ in range(6)} == {sent}
        # The MLLP intake runs in the parent: its counter reaches the workers' scrape too.
        exchange_sync(mllp_port, fixture_bytes("good/adt-a01-ins-nir-latin1.hl7"))
        accepted = 'cdr_hl7_messages_total{ack="AA"}'
        assert _poll(lambda: _scraped(http_port, accepted), 1) == 1
    finally:
        out, err = interrupt(server, timeout=30)
    assert server.returncode == 0, err
