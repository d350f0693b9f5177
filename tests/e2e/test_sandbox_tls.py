"""`cdr sandbox serve` over mutual TLS as an operator runs it (CDR_SANDBOX_TLS_*), and
`cdr regimes` from another process reaching it with, then without, the gateway's client
certificate (CDR_REGIMES_*). The test PKI is made at test time."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time

import httpx

from tests.e2e.test_serve import _free_port, interrupt
from tests.tls import make_pki


def _wait_ready(url: str, process: subprocess.Popen[str], context: ssl.SSLContext) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(url, timeout=1, verify=context).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready within 30 s")


def test_cdr_sandbox_serve_requires_the_client_certificate_cdr_regimes_presents(tmp_path):
    pki = make_pki(tmp_path / "pki")
    port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CDR_")} | {
        "CDR_DATA_DIR": str(tmp_path),
        "CDR_SANDBOX_PORT": str(port),
    }
    sandbox_env = env | {
        "CDR_SANDBOX_TLS_CERT_FILE": str(pki.server_cert),
        "CDR_SANDBOX_TLS_KEY_FILE": str(pki.server_key),
        "CDR_SANDBOX_TLS_CLIENT_CA_FILE": str(pki.ca),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "sandbox", "serve"],
        env=sandbox_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        context = ssl.create_default_context(cafile=str(pki.ca))
        context.load_cert_chain(pki.client_cert, pki.client_key)
        _wait_ready(f"https://127.0.0.1:{port}/regimes/cnam/health", server, context)

        def regimes(**files: object) -> subprocess.CompletedProcess[str]:
            extra = {f"CDR_REGIMES_{name.upper()}": str(path) for name, path in files.items()}
            return subprocess.run(
                [sys.executable, "-m", "cdr.cli", "regimes", "--json"],
                env=sandbox_env | extra,  # the regimes URL follows the sandbox's TLS settings
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                cwd=tmp_path,
            )

        served = regimes(
            ca_file=pki.ca, client_cert_file=pki.client_cert, client_key_file=pki.client_key
        )
        assert served.returncode == 0, served.stderr
        assert all(r["up"] for r in json.loads(served.stdout)["regimes"])
        refused = regimes(ca_file=pki.ca)
        assert refused.returncode == 1
        assert not any(r["up"] for r in json.loads(refused.stdout)["regimes"])
        assert f"https://127.0.0.1:{port}" in refused.stderr
        assert "TLS settings" in refused.stderr
        with httpx.Client(verify=ssl.create_default_context(cafile=str(pki.ca))) as plain:
            try:
                plain.get(f"https://127.0.0.1:{port}/regimes/cnam/health")
            except httpx.TransportError:
                pass
            else:
                raise AssertionError("served a client without a certificate")
    finally:
        _, err = interrupt(server, timeout=10)
    assert f"regime sandbox   https://127.0.0.1:{port}" in err
