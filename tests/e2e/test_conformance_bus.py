"""`cdr conformance simulate bus` as the engine's inbound channel of a real `cdr serve`: an
admission sent to the gateway comes back to the bus as a result, which the bus checks, records,
acknowledges AA and reports; stopped with Ctrl-C it writes the JSON report and exits 0."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.e2e.hl7_peers import exchange_sync, fixture_bytes
from tests.e2e.test_serve import _free_port, _wait_ready, interrupt


def test_the_bus_receives_checks_and_reports_the_gateway_s_result(tmp_path: Path) -> None:
    bus_port, http_port, mllp_port = _free_port(), _free_port(), _free_port()
    report = tmp_path / "bus.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDR_")}
    command = [sys.executable, "-m", "cdr.cli", "conformance", "simulate", "bus"]
    bus = subprocess.Popen(
        [*command, "--port", str(bus_port), "--json", str(report)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    assert bus.stdout is not None
    reading = threading.Thread(target=lambda: lines.extend(bus.stdout), daemon=True)  # type: ignore[arg-type]
    reading.start()
    server = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "serve"],
        env={
            **env,
            "CDR_DATA_DIR": str(tmp_path / "gateway"),
            "CDR_HTTP_PORT": str(http_port),
            "CDR_MLLP_PORT": str(mllp_port),
            "CDR_SANDBOX_PORT": str(_free_port()),
            "CDR_HL7_DESTINATIONS": json.dumps([f"127.0.0.1:{bus_port}"]),
            "CDR_DEMO_CARD": "off",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{http_port}/readyz", server)
        ack = exchange_sync(mllp_port, fixture_bytes("good/adt-a01-ins-nir-latin1.hl7"))
        assert b"MSA|AA|CPAGE-000184213" in ack
        deadline = time.monotonic() + 60
        while not any(line.startswith(("VALID", "INVALID")) for line in lines):
            assert time.monotonic() < deadline, f"no result reached the bus: {lines}"
            time.sleep(0.1)
    finally:
        interrupt(server, timeout=15)
        bus.send_signal(signal.SIGINT)
        bus.wait(timeout=15)
        reading.join(5)
        err = bus.stderr.read() if bus.stderr else ""
        for pipe in (bus.stdout, bus.stderr):
            if pipe is not None:
                pipe.close()
    out = "".join(lines)
    assert bus.returncode == 0, out + err
    assert "VALID   ADT^Z99" in out and "answers CPAGE-000184213" in out, out
    assert "1 results received: 1 valid, 0 invalid" in out
    saved = json.loads(report.read_text(encoding="utf-8"))
    [case] = saved["cases"]
    assert case["result"] == "passed" and "IN1|" in case["response"]
