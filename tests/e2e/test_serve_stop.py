"""`cdr serve` stops within a bound on SIGTERM, even while a search runs that would never end
(issue 19: it ignored SIGTERM for more than 12 s and had to be killed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from cdr.storage import Database
from tests.e2e.test_serve import _free_port, _wait_ready
from tests.unit.cdr.storage.endless_index import make_index_endless

STOP_BOUND_S = 15  # generous: the shutdown grace is 5 s; no assertion on speed below it


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_sigterm_stops_cdr_serve_during_an_endless_search(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
    database.migrate()
    make_index_endless(database.engine)
    database.dispose()
    http_port, sandbox_port, mllp_port = _free_port(), _free_port(), _free_port()
    env = {
        **os.environ,
        "CDR_DATA_DIR": str(tmp_path),
        "CDR_SANDBOX_PORT": str(sandbox_port),
        "CDR_HTTP_PORT": str(http_port),
        "CDR_MLLP_PORT": str(mllp_port),
        # No budget to save the day: the stop itself must end the search.
        "CDR_SEARCH_TIMEOUT_S": "3600",
    }
    env.pop("CDR_REGIMES_URL", None)
    env.pop("CDR_DATABASE_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "serve"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    answers: list[object] = []

    def search() -> None:
        try:
            answers.append(
                httpx.get(
                    f"http://127.0.0.1:{http_port}/fhir/Patient?identifier=185057505612345",
                    timeout=120,
                ).status_code
            )
        except httpx.HTTPError as exc:
            answers.append(exc)

    client = threading.Thread(target=search, daemon=True)
    try:
        _wait_ready(f"http://127.0.0.1:{http_port}/readyz", server)
        idle = _cpu_seconds(server.pid)
        client.start()
        # The endless search burns a core: wait until it has clearly started.
        deadline = time.monotonic() + 60
        while _cpu_seconds(server.pid) - idle < 0.5:
            assert time.monotonic() < deadline, "the search did not start within 60 s"
            assert server.poll() is None
            time.sleep(0.05)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=STOP_BOUND_S)
    finally:
        if server.poll() is None:
            server.kill()
        _, err = server.communicate()
    client.join(timeout=60)
    assert answers and answers[0] != 200, answers
    assert "Traceback" not in err, err
