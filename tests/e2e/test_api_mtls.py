"""The FHIR API over HTTPS with client certificates (issue 14, item 1: mutual TLS with a
structure certificate is the second way in, for systems that cannot do OAuth). The gateway app
under uvicorn as `cdr serve` runs it (the guarded protocol, our TLS context) on a loopback port
0, a test PKI shaped like IGC-Santé made by ``card.pki``, real handshakes from httpx."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec

from card.pki import PkiFiles, init_pki
from cdr.bootstrap import build_gateway, build_http_app, publish_conformance
from cdr.client_certificates import read_client_certificate
from cdr.client_keys import client_assertion, public_jwks
from cdr.http_guard import http_limits
from cdr.http_tls import api_protocol, http_tls
from cdr.storage.auth_clients import SqlClientRegistry
from fhir_server.auth import ASSERTION_TYPE, RegisteredClient
from sandbox.server import RunningServer
from tests.conftest import gateway_settings
from tests.e2e.test_api_auth import refused
from tests.e2e.test_fhir_api import cer_for, first

PUBLIC = "https://gateway.test"  # CDR_FHIR_BASE_URL: the address clients know the gateway by
SUBMIT = "/fhir/CoverageEligibilityRequest/$submit"
FINESS = "750100018"


@dataclass
class Https:
    url: str
    pki: PkiFiles
    lab_key: ec.EllipticCurvePrivateKey

    def client(self, identity: str | None = None) -> httpx.Client:
        """An HTTPS client trusting the test PKI, presenting ``identity``'s certificate (a key
        of ``PkiFiles.path``, without ``.cert``/``.key``), or none."""
        context = ssl.create_default_context(cafile=self.pki.chain)
        if identity is not None:
            context.load_cert_chain(
                self.pki.path(f"{identity}.cert"), self.pki.path(f"{identity}.key")
            )
        return httpx.Client(base_url=self.url, verify=context, trust_env=False, timeout=30)

    def submit(self, identity: str | None, headers: dict[str, str] | None = None) -> httpx.Response:
        with self.client(identity) as client:
            return client.post(
                SUBMIT,
                json=cer_for(first("c2s")),
                headers={"Content-Type": "application/fhir+json", **(headers or {})},
            )


@pytest.fixture(scope="module")
def https(sandbox: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Https]:
    pki = init_pki(
        tmp_path_factory.mktemp("pki"), structure_finess=FINESS, structure_name="CH TEST"
    )
    settings = gateway_settings(
        sandbox.url,
        tmp_path_factory.mktemp("mtls"),
        auth="on",
        fhir_base_url=f"{PUBLIC}/fhir",
        # The PKI's server certificate (localhost, 127.0.0.1) serves the API here; the chain of
        # both sub-CAs and the root is what client certificates are accepted from.
        http_tls_cert_file=pki.path("server.sandbox.cert"),
        http_tls_key_file=pki.path("server.sandbox.key"),
        http_tls_client_ca_file=pki.chain,
    )
    gateway = build_gateway(settings)
    publish_conformance(gateway)
    registry = SqlClientRegistry(gateway.database.engine)
    now = datetime.now(UTC)

    def by_certificate(name: str, identity: str, *scopes: str) -> None:
        read = read_client_certificate(pki.path(f"{identity}.cert"))
        client = RegisteredClient(
            name,
            scopes,
            now,
            certificate_thumbprint=read.thumbprint,
            certificate_subject=read.subject,
        )
        assert registry.add(client)

    # The structure's own ORG AUTH_CLI certificate: the hospital's system, unattended.
    by_certificate(
        "his-mtls", "structure.auth", "system/CoverageEligibilityRequest.c", "system/*.rs"
    )
    # Any certificate of the trusted PKI fit for client authentication can be registered;
    # here a card's, registered to read coverages only.
    by_certificate("coverage-reader", "card.infirmier.auth", "system/Coverage.rs")
    lab_key = ec.generate_private_key(ec.SECP384R1())
    registry.add(
        RegisteredClient(
            "lab",
            ("system/CoverageEligibilityRequest.c",),
            now,
            jwks=json.dumps(public_jwks(lab_key)),
        )
    )
    tls = http_tls(settings)
    assert tls is not None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        build_http_app(gateway, tune_gc=False),
        log_level="warning",
        log_config=None,
        access_log=False,
        http=api_protocol(http_limits(settings), tls=True),
        ws="none",
        **tls.uvicorn_options(),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        thread.join(0.01)
    try:
        yield Https(f"https://127.0.0.1:{sock.getsockname()[1]}", pki, lab_key)
    finally:
        server.should_exit = True
        thread.join(15)
        gateway.database.dispose()


def test_a_registered_structure_certificate_submits_without_a_token(https: Https) -> None:
    response = https.submit("structure.auth")
    assert response.status_code == 200, response.text
    assert response.json()["resourceType"] == "CoverageEligibilityResponse"
    # The client is the certificate's: it is the agent of the lookup's AuditEvent.
    patient = response.json()["patient"]["reference"]
    with https.client("structure.auth") as client:
        found = client.get(
            "/fhir/AuditEvent", params={"agent": "fhir-his-mtls", "patient": patient}
        )
    assert found.status_code == 200, found.text
    [event] = [e["resource"] for e in found.json()["entry"] if e["search"]["mode"] == "match"]
    assert event["agent"][0]["who"]["display"] == "his-mtls"


def test_the_capability_statement_tells_of_the_certificate_way_in(https: Https) -> None:
    with https.client(None) as client:
        statement = client.get("/fhir/metadata").json()
    assert "Over mutual TLS" in statement["rest"][0]["security"]["description"]


def test_neither_a_certificate_nor_a_token_is_401(https: Https) -> None:
    response = https.submit(None)
    diagnostics = refused(response, 401, "login")
    assert "bearer token" in diagnostics and "client certificate" in diagnostics
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="cdr-gateway"'


def test_a_certificate_no_client_registered_is_401_saying_so(https: Https) -> None:
    # Signed by a trusted CA, so the handshake passes; no client was registered with it.
    response = https.submit("card.medecin.auth")
    diagnostics = refused(response, 401, "login")
    assert "is not registered" in diagnostics
    assert "MEDECIN-TEST" in diagnostics  # its subject, for the operator to recognise
    # The refusal is in the audit trail, as every refusal.
    with https.client("structure.auth") as client:
        bundle = client.get("/fhir/AuditEvent", params={"outcome": "4", "_count": "50"}).json()
    reasons = [e["resource"].get("outcomeDesc", "") for e in bundle.get("entry", [])]
    assert any("is not registered" in reason for reason in reasons), reasons


def test_a_certificate_of_another_ca_fails_the_handshake(https: Https) -> None:
    with pytest.raises(httpx.TransportError):
        https.submit("bad.foreign")


def test_a_certificate_client_is_held_to_its_scopes(https: Https) -> None:
    response = https.submit("card.infirmier.auth")
    assert "system/CoverageEligibilityRequest.c" in refused(response, 403, "forbidden")
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    with https.client("card.infirmier.auth") as client:
        assert client.get("/fhir/Coverage").status_code == 200
        assert "system/Patient.s" in refused(client.get("/fhir/Patient"), 403, "forbidden")


def test_a_token_client_works_on_the_same_port_without_a_certificate(https: Https) -> None:
    token_url = f"{PUBLIC}/auth/token"
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(
            https.lab_key, "ES384", client="lab", token_url=token_url
        ),
        "scope": "system/CoverageEligibilityRequest.c",
    }
    with https.client(None) as client:
        configuration = client.get("/fhir/.well-known/smart-configuration").json()
        assert configuration["token_endpoint"] == token_url
        answer = client.post("/auth/token", data=form)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    response = https.submit(None, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


def test_with_a_token_and_a_certificate_the_token_decides(https: Https) -> None:
    # A registered certificate does not rescue a bad token: the header says which way in.
    response = https.submit("structure.auth", {"Authorization": "Bearer not.a.jwt"})
    assert "not a signed JWT" in refused(response, 401, "login")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_a_client_known_by_its_certificate_only_gets_no_token(https: Https) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(
            https.lab_key, "ES384", client="his-mtls", token_url=f"{PUBLIC}/auth/token"
        ),
        "scope": "system/Coverage.rs",
    }
    with https.client("structure.auth") as client:
        answer = client.post("/auth/token", data=form)
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    assert "registered no keys" in answer.json()["error_description"]
