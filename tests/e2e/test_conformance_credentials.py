"""The kit against a secured gateway (`cdr serve` with CDR_AUTH=on): as a registered SMART
backend-services client it gets a token from the target's own token endpoint and the FHIR cases
pass; without credentials, or as a client the gateway does not know, each FHIR case fails with
the reason, and the HL7 cases still run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_serve import _free_port, _wait_ready, interrupt

CLI = [sys.executable, "-m", "cdr.cli"]


def _cdr(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_kit_carries_a_smart_client_to_a_secured_gateway(tmp_path: Path) -> None:
    http_port, mllp_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDR_")}
    env.update(
        CDR_DATA_DIR=str(tmp_path / "gateway"),
        CDR_HTTP_PORT=str(http_port),
        CDR_MLLP_PORT=str(mllp_port),
        CDR_SANDBOX_PORT=str(_free_port()),
        CDR_AUTH="on",
        CDR_MLLP_ALLOWED_PEERS='["127.0.0.1"]',
        CDR_DEMO_CARD="off",
    )
    assert _cdr(env, "db", "upgrade").returncode == 0  # the database the clients go in
    keys = tmp_path / "tester"
    assert _cdr(env, "clients", "keygen", str(keys)).returncode == 0
    added = _cdr(
        env,
        "clients",
        "add",
        "interface-tests",
        "--jwks",
        f"{keys}.jwks.json",
        "--scope",
        "system/CoverageEligibilityRequest.c",
    )
    assert added.returncode == 0, added.stderr
    server = subprocess.Popen(
        [*CLI, "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_ready(f"http://127.0.0.1:{http_port}/readyz", server)
        fhir = f"http://127.0.0.1:{http_port}/fhir"
        targets = ["--fhir", fhir, "--mllp", f"127.0.0.1:{mllp_port}", "--only", "submit"]
        signed = _cdr(
            env, "conformance", "run", *targets, "--client", "interface-tests", "--key",
            f"{keys}.key.pem",
        )  # fmt: skip
        assert signed.returncode == 0, signed.stdout[-2000:] + signed.stderr
        assert signed.stdout.rstrip().endswith(" passed, 0 failed")
        anonymous = _cdr(env, "conformance", "run", *targets)
        assert anonymous.returncode == 1
        assert "HTTP status: expected 200, got 401" in anonymous.stdout
        stranger = _cdr(
            env, "conformance", "run", *targets, "--client", "someone-else", "--key",
            f"{keys}.key.pem",
        )  # fmt: skip
        assert stranger.returncode == 1
        assert "no access token:" in stranger.stdout and "HTTP 401" in stranger.stdout
        unpaired = _cdr(env, "conformance", "run", *targets, "--client", "interface-tests")
        assert unpaired.returncode == 2 and "--client and --key go together" in unpaired.stderr
    finally:
        interrupt(server, timeout=15)
