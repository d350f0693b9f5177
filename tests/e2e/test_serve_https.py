"""`cdr serve` with the API over HTTPS and client certificates accepted (CDR_HTTP_TLS_*), in one
process and with `--workers 2`: /readyz answers over https to a client trusting our CA; a
client registered by its certificate (`cdr clients add --certificate`) submits without a
token, and a token client (`cdr clients token --cacert`) without one; plain HTTP on that port
gets no answer; the start line says https."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time

import httpx
import pytest

from tests.e2e.test_fhir_api import FHIR_JSON, cer_for, first
from tests.e2e.test_serve import _free_port, interrupt
from tests.tls import make_pki


def wait_ready_https(
    url: str, process: subprocess.Popen[str], context: ssl.SSLContext, deadline_s: float
) -> dict:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            response = httpx.get(url, timeout=1, verify=context, trust_env=False)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{url} not ready within {deadline_s} s")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_cdr_serve_answers_over_https_and_knows_clients_by_certificate(tmp_path, workers):
    pki = make_pki(tmp_path / "pki")
    http_port = _free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("CDR_")} | {
        "CDR_DATA_DIR": str(tmp_path / "data"),
        "CDR_AUTH": "on",
        "CDR_SANDBOX_PORT": str(_free_port()),
        "CDR_HTTP_PORT": str(http_port),
        "CDR_MLLP_PORT": str(_free_port()),
        "CDR_HTTP_TLS_CERT_FILE": str(pki.server_cert),
        "CDR_HTTP_TLS_KEY_FILE": str(pki.server_key),
        "CDR_HTTP_TLS_CLIENT_CA_FILE": str(pki.ca),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "serve", "--workers", workers],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"https://127.0.0.1:{http_port}"

    def cdr(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cdr.cli", *argv],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    trusting = ssl.create_default_context(cafile=pki.ca)
    try:
        ready = wait_ready_https(f"{base}/readyz", server, trusting, deadline_s=60)
        assert ready["checks"] == {"database": True, "regimes": True}
        scope = "system/CoverageEligibilityRequest.c"
        added = cdr(
            "clients", "add", "his", "--certificate", str(pki.client_cert), "--scope", scope
        )
        assert added.returncode == 0, added.stderr
        presenting = ssl.create_default_context(cafile=pki.ca)
        presenting.load_cert_chain(pki.client_cert, pki.client_key)
        body = cer_for(first("c2s"))
        headers = {"Content-Type": FHIR_JSON}
        with httpx.Client(
            base_url=base, verify=presenting, headers=headers, trust_env=False, timeout=30
        ) as his:
            # Several requests, so that with two workers both are likely to serve some.
            for _ in range(3):
                response = his.post("/fhir/CoverageEligibilityRequest/$submit", json=body)
                assert response.status_code == 200, response.text
        anonymous = httpx.post(
            f"{base}/fhir/CoverageEligibilityRequest/$submit",
            json=body,
            headers=headers,
            verify=trusting,
            trust_env=False,
            timeout=30,
        )
        assert anonymous.status_code == 401
        # A token client, over the same port without a certificate (`cdr clients token`
        # trusting our CA with --cacert).
        assert cdr("clients", "keygen", str(tmp_path / "lab")).returncode == 0
        jwks = str(tmp_path / "lab.jwks.json")
        assert cdr("clients", "add", "lab", "--jwks", jwks, "--scope", scope).returncode == 0
        token = cdr(
            "clients", "token", "lab", "--key", str(tmp_path / "lab.key.pem"),
            "--cacert", str(pki.ca), "--url", f"{base}/fhir",
        )  # fmt: skip
        assert token.returncode == 0, token.stderr
        with_token = httpx.post(
            f"{base}/fhir/CoverageEligibilityRequest/$submit",
            json=body,
            headers={**headers, "Authorization": f"Bearer {token.stdout.strip()}"},
            verify=trusting,
            trust_env=False,
            timeout=30,
        )
        assert with_token.status_code == 200, with_token.text
        with pytest.raises(httpx.TransportError):  # plain HTTP on the HTTPS port: no answer
            httpx.get(f"http://127.0.0.1:{http_port}/readyz", timeout=5, trust_env=False)
    finally:
        _, err = interrupt(server, timeout=30)
    assert server.returncode == 0, err
    assert "Traceback" not in err
    messages = [json.loads(line)["message"] for line in err.splitlines()]
    [api] = [m for m in messages if m.startswith("FHIR API")]
    assert f"https://127.0.0.1:{http_port}/fhir" in api
    assert "(https, client certificates accepted;" in api
