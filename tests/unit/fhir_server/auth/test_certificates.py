"""Clients known by their TLS certificate: the RFC 8705 thumbprint, the certificate read from
the ASGI TLS extension, and what a certificate is granted (with its short per-process cache)."""

from __future__ import annotations

import base64
import ssl
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from fhir_server.auth import (
    CertificateClients,
    RegisteredClient,
    certificate_thumbprint,
    client_certificate,
)
from fhir_server.auth.errors import InvalidToken
from tests.tls import Pki, make_pki

T0 = datetime(2026, 12, 16, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _pem(path: Path) -> str:
    return path.read_text(encoding="ascii")


def test_the_thumbprint_is_rfc_8705_x5t_s256(pki: Pki) -> None:
    certificate = x509.load_pem_x509_certificate(pki.client_cert.read_bytes())
    der = ssl.PEM_cert_to_DER_cert(_pem(pki.client_cert))
    thumbprint = certificate_thumbprint(der)
    # base64url of the SHA-256 of the DER, without padding: 43 characters.
    assert len(thumbprint) == 43 and "=" not in thumbprint
    assert base64.urlsafe_b64decode(thumbprint + "=") == certificate.fingerprint(hashes.SHA256())
    other = ssl.PEM_cert_to_DER_cert(_pem(pki.other_client_cert))
    assert certificate_thumbprint(other) != thumbprint


def test_the_certificate_is_read_from_the_tls_extension_only(pki: Pki) -> None:
    pem = _pem(pki.client_cert)
    assert client_certificate({"type": "http"}) is None  # plain HTTP: no extension
    assert client_certificate({"extensions": {}}) is None
    no_certificate = {"tls": {"client_cert_chain": [], "client_cert_name": None}}
    assert client_certificate({"extensions": no_certificate}) is None
    presented = {"tls": {"client_cert_chain": [pem], "client_cert_name": "CN=750712184"}}
    assert client_certificate({"extensions": presented}) == (pem, "CN=750712184")


class Registry:
    """The registry as the database answers it, counting its reads."""

    def __init__(self, *clients: RegisteredClient) -> None:
        self.clients = list(clients)
        self.reads = 0

    def get(self, name: str) -> RegisteredClient | None:
        return next((c for c in self.clients if c.name == name), None)

    def by_certificate(self, thumbprint: str) -> RegisteredClient | None:
        self.reads += 1
        return next((c for c in self.clients if c.certificate_thumbprint == thumbprint), None)


def _registered(pki: Pki, *scopes: str) -> RegisteredClient:
    der = ssl.PEM_cert_to_DER_cert(_pem(pki.client_cert))
    return RegisteredClient("his", scopes, T0, certificate_thumbprint=certificate_thumbprint(der))


async def test_a_registered_certificate_is_granted_its_client_s_scopes(pki: Pki) -> None:
    clients = CertificateClients(Registry(_registered(pki, "system/Coverage.rs")))
    grant = await clients.grant(_pem(pki.client_cert), "CN=750712184")
    assert grant.client == "his"
    assert grant.grants == {("Coverage", "r"), ("Coverage", "s")}


async def test_an_unregistered_certificate_is_401_naming_its_subject(pki: Pki) -> None:
    clients = CertificateClients(Registry(_registered(pki, "system/Coverage.rs")))
    with pytest.raises(InvalidToken) as raised:
        await clients.grant(_pem(pki.other_client_cert), "CN=2A0000014")
    assert raised.value.present is False  # no token was sent: no error code in the challenge
    assert "CN=2A0000014" in raised.value.message and "not registered" in raised.value.message


async def test_answers_are_kept_a_while_then_asked_again(pki: Pki) -> None:
    now = [0.0]
    registry = Registry(_registered(pki, "system/Coverage.rs"))
    clients = CertificateClients(registry, ttl_s=30, clock=lambda: now[0])
    known, unknown = _pem(pki.client_cert), _pem(pki.other_client_cert)
    for _ in range(3):
        await clients.grant(known, None)
        with pytest.raises(InvalidToken):
            await clients.grant(unknown, None)
    assert registry.reads == 2  # one each: found and not found are both remembered
    registry.clients.clear()  # the client removed: seen once its answer is older than ttl_s
    now[0] = 29.0
    await clients.grant(known, None)
    now[0] = 30.0
    with pytest.raises(InvalidToken):
        await clients.grant(known, None)
    assert registry.reads == 3


async def test_the_cache_holds_at_most_cache_size_certificates(pki: Pki) -> None:
    registry = Registry(_registered(pki, "system/Coverage.rs"))
    clients = CertificateClients(registry, cache_size=1)
    known, unknown = _pem(pki.client_cert), _pem(pki.other_client_cert)
    await clients.grant(known, None)
    with pytest.raises(InvalidToken):
        await clients.grant(unknown, None)  # pushes ``known`` out
    await clients.grant(known, None)
    assert registry.reads == 3
