"""The https branch for real: the sandbox serves TLS with a throwaway test PKI (made at test
time, tests/tls.py), optionally requiring client certificates, and the gateway reaches it
through both implementations of the regime port."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cdr.bootstrap import Gateway, build_gateway, build_sandbox, sandbox_tls
from cdr.clock import SystemClock
from cdr.settings import Settings
from regimes.endpoints import client_tls_context
from regimes.httpx_port import HttpxPort
from regimes.port import WireRequest
from rights.model import Requester
from rights.queries import build_query
from rights.result import LookupReport, RegimeStatus
from sandbox.server import RunningServer, SandboxTls, start_in_thread
from tests.conftest import gateway_settings
from tests.e2e.test_scenarios import POPULATION
from tests.tls import Pki, make_pki

MEMBER = next(m for m in POPULATION.members if m.regime == "cnam" and "open" in m.scenarios)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _sandbox(tls: SandboxTls) -> RunningServer:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    return start_in_thread(build_sandbox(settings, today=SystemClock().today()), tls=tls)


@pytest.fixture(scope="module")
def https_sandbox(pki: Pki) -> Iterator[RunningServer]:
    with _sandbox(SandboxTls(pki.server_cert, pki.server_key)) as server:
        yield server


@pytest.fixture(scope="module")
def mtls_sandbox(pki: Pki) -> Iterator[RunningServer]:
    with _sandbox(SandboxTls(pki.server_cert, pki.server_key, client_ca_file=pki.ca)) as server:
        yield server


async def lookup_and_health(gateway: Gateway) -> tuple[LookupReport, list[bool]]:
    query = build_query(
        MEMBER.nir,
        date_of_care=MEMBER.date_of_care,
        catalogue=gateway.catalogue,
        requester=Requester(finess="750712184"),
        birth_date=MEMBER.birth_date,
        rang=MEMBER.rang,
        regime="cnam",
    )
    try:
        report = await gateway.lookup.lookup(query)
        health = await asyncio.gather(
            *(gateway.registry.get(r.code).health(r) for r in gateway.catalogue)
        )
    finally:
        await gateway.aclose()
    return report, health


def gateway_for(server: RunningServer, tmp_path: Path, **settings: object) -> Gateway:
    return build_gateway(gateway_settings(server.url, tmp_path, regime_max_attempts=1, **settings))


def test_the_sandbox_serves_https(https_sandbox: RunningServer):
    assert https_sandbox.url.startswith("https://127.0.0.1:")


async def test_a_lookup_over_https_trusting_the_test_ca(https_sandbox, pki, tmp_path):
    report, health = await lookup_and_health(
        gateway_for(https_sandbox, tmp_path, regimes_ca_file=pki.ca)
    )
    (result,) = report.results
    assert result.status is RegimeStatus.FOUND
    assert all(health)


async def test_a_server_the_gateway_does_not_trust_is_never_asked(https_sandbox, tmp_path):
    report, health = await lookup_and_health(gateway_for(https_sandbox, tmp_path))
    (result,) = report.results
    assert result.status is RegimeStatus.UNAVAILABLE
    assert "CERTIFICATE_VERIFY_FAILED" in (result.detail or "")
    assert not any(health)


async def test_mutual_tls_with_the_client_certificate(mtls_sandbox, pki, tmp_path):
    report, health = await lookup_and_health(
        gateway_for(
            mtls_sandbox,
            tmp_path,
            regimes_ca_file=pki.ca,
            regimes_client_cert_file=pki.client_cert,
            regimes_client_key_file=pki.client_key,
        )
    )
    (result,) = report.results
    assert result.status is RegimeStatus.FOUND
    assert all(health)


@pytest.mark.parametrize("client", [None, "rogue"], ids=["no-certificate", "other-ca"])
async def test_mutual_tls_refuses_a_gateway_without_a_certificate_the_ca_signed(
    mtls_sandbox, pki, tmp_path, client
):
    certificate = {}
    if client == "rogue":
        certificate = {
            "regimes_client_cert_file": pki.rogue_client_cert,
            "regimes_client_key_file": pki.rogue_client_key,
        }
    report, health = await lookup_and_health(
        gateway_for(mtls_sandbox, tmp_path, regimes_ca_file=pki.ca, **certificate)
    )
    (result,) = report.results
    assert result.status is RegimeStatus.UNAVAILABLE
    assert not any(health)


async def test_a_regime_endpoint_of_its_own_presents_its_own_certificate(
    mtls_sandbox, pki, tmp_path
):
    # Only cnam has a certificate: it is served, the others are refused.
    gateway = gateway_for(
        mtls_sandbox,
        tmp_path,
        regimes_ca_file=pki.ca,
        regime_endpoints={
            "cnam": {
                "client_cert_file": str(pki.other_client_cert),
                "client_key_file": str(pki.other_client_key),
            }
        },
    )
    report, health = await lookup_and_health(gateway)
    assert report.results[0].status is RegimeStatus.FOUND
    up = {code for code, ok in zip(gateway.catalogue.codes, health, strict=True) if ok}
    assert up == {"cnam"}


@pytest.mark.parametrize("with_certificate", [True, False], ids=["certificate", "none"])
async def test_the_httpx_port_over_mutual_tls(mtls_sandbox, pki, with_certificate):
    cert = (pki.client_cert, pki.client_key) if with_certificate else (None, None)
    client = httpx.AsyncClient(verify=client_tls_context(pki.ca, *cert))
    port = HttpxPort(client, mtls_sandbox.url)
    try:
        if with_certificate:
            reply = await port.send(WireRequest("GET", "/regimes/cnam/health", {}))
            assert reply.status_code == 200
        else:
            with pytest.raises(httpx.TransportError):
                await port.send(WireRequest("GET", "/regimes/cnam/health", {}))
    finally:
        await port.aclose()


def test_the_sandbox_tls_settings_make_the_default_regimes_url_https(pki):
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        sandbox_tls_cert_file=pki.server_cert,
        sandbox_tls_key_file=pki.server_key,
        sandbox_tls_client_ca_file=pki.ca,
    )
    assert settings.effective_regimes_url == "https://127.0.0.1:8090"
    assert sandbox_tls(settings) == SandboxTls(pki.server_cert, pki.server_key, pki.ca)
    assert sandbox_tls(Settings(_env_file=None)) is None  # type: ignore[call-arg]
