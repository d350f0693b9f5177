"""The two simulators together, as a tester uses them before the gateway is installed: `cdr
conformance simulate gateway` answers every case of the kit as the gateway does (the kit's
own run passes against it), and sends a result after each accepted admission to `cdr
conformance simulate bus`, which finds each one valid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

CLI = [sys.executable, "-m", "cdr.cli", "conformance"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def _stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0, out + err
    assert "Traceback" not in err, err
    return out


def test_the_kit_passes_against_the_simulated_gateway_and_its_results_reach_the_bus() -> None:
    bus_port, mllp_port, fhir_port = _free_port(), _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDR_")}
    popen = {"env": env, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    bus = subprocess.Popen([*CLI, "simulate", "bus", "--port", str(bus_port)], **popen)  # type: ignore[call-overload]
    ports = ["--mllp-port", str(mllp_port), "--fhir-port", str(fhir_port)]
    gateway = subprocess.Popen(  # type: ignore[call-overload]
        [*CLI, "simulate", "gateway", *ports, "--bus", f"127.0.0.1:{bus_port}"], **popen
    )
    try:
        deadline = time.monotonic() + 30
        while not (_listening(bus_port) and _listening(mllp_port) and _listening(fhir_port)):
            assert time.monotonic() < deadline, "the simulators did not start"
            time.sleep(0.1)
        targets = [
            "--mllp",
            f"127.0.0.1:{mllp_port}",
            "--fhir",
            f"http://127.0.0.1:{fhir_port}/fhir",
        ]
        run = subprocess.run(
            [*CLI, "run", *targets],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 0, run.stdout[-3000:]
        assert run.stdout.rstrip().endswith(" passed, 0 failed")
        time.sleep(1)  # the last results on their way to the bus
    finally:
        said = _stop(gateway)
        seen = _stop(bus)
    accepted = int(said.split("admissions answered: ")[1].split(" AA")[0])
    assert accepted > 10
    # Every accepted admission gave a result (an RQI^I01 query's answer is its reply).
    assert f"{accepted} results received: {accepted} valid, 0 invalid" in seen, seen[-500:]
