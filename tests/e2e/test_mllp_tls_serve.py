"""MLLP over TLS as `cdr serve` runs it (on uvloop, its listening socket bound before the
start): an engine with a client certificate our CA signed gets its AA over TLS; one without a
certificate is refused, and the log names its address and the reason."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys

import pytest

from tests.e2e.hl7_peers import SB, fixture_bytes
from tests.e2e.test_serve import _free_port, _wait_ready, interrupt
from tests.tls import make_pki

EB = b"\x1c\x0d"


def _exchange_tls(port: int, payload: bytes, context: ssl.SSLContext) -> bytes:
    with (
        socket.create_connection(("127.0.0.1", port), timeout=30) as raw,
        context.wrap_socket(raw, server_hostname="localhost") as sock,
    ):
        sock.sendall(SB + payload + EB)
        data = b""
        while not data.endswith(EB):
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed before the reply")
            data += chunk
    return data[data.index(SB) + 1 : -2]


def test_cdr_serve_speaks_mllp_over_tls_to_certified_engines_only(tmp_path) -> None:
    pki = make_pki(tmp_path / "pki")
    http_port, mllp_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "CDR_DATA_DIR": str(tmp_path / "data"),
        "CDR_SANDBOX_PORT": str(_free_port()),
        "CDR_HTTP_PORT": str(http_port),
        "CDR_MLLP_PORT": str(mllp_port),
        "CDR_MLLP_TLS_CERT_FILE": str(pki.server_cert),
        "CDR_MLLP_TLS_KEY_FILE": str(pki.server_key),
        "CDR_MLLP_TLS_CLIENT_CA_FILE": str(pki.ca),
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
        trusted = ssl.create_default_context(cafile=pki.ca)
        trusted.load_cert_chain(pki.client_cert, pki.client_key)
        ack = _exchange_tls(mllp_port, fixture_bytes("good/adt-a01-ins-nir-latin1.hl7"), trusted)
        assert b"MSA|AA|CPAGE-000184213" in ack
        anonymous = ssl.create_default_context(cafile=pki.ca)
        with pytest.raises((ssl.SSLError, ConnectionError)):
            _exchange_tls(mllp_port, fixture_bytes("good/adt-a01-ins-nir-latin1.hl7"), anonymous)
    finally:
        _, err = interrupt(server, timeout=15)
    assert server.returncode == 0, err
    assert "Traceback" not in err
    lines = [json.loads(line) for line in err.splitlines()]
    assert any("(TLS, client certificates required;" in x["message"] for x in lines)
    opened = [x for x in lines if x.get("event") == "mllp_open"]
    assert opened and "(TLS, CN=" in opened[0]["message"]
    refused = [x for x in lines if x.get("event") == "mllp_refused"]
    assert len(refused) == 1 and "TLS handshake failed" in refused[0]["message"]
    assert "127.0.0.1" in refused[0]["message"]
