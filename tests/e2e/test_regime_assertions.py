"""Authenticated regime calls end to end (issue 13, item 4, unattended mode): the sandbox serves
mutual TLS with the test IGC-Santé PKI and requires the structure's signed assertion on every
call; the gateway signs with its ORG SIGN key, bound to its ORG AUTH_CLI certificate. A lookup
is answered; the same gateway with a revoked identity is refused, the reason in the report."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from card.pki import PkiFiles, init_pki
from cdr.bootstrap import build_gateway, build_sandbox
from cdr.clock import SystemClock
from regimes.assertion import StructureAssertionSigner
from rights.result import RegimeStatus
from sandbox.server import RunningServer, SandboxTls, start_in_thread
from tests.conftest import gateway_settings
from tests.e2e.test_scenarios import POPULATION, look


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return init_pki(
        tmp_path_factory.mktemp("pki"),
        structure_finess="750100018",
        structure_name="Centre hospitalier de démonstration Paris-Lutèce",
    )


@pytest.fixture(scope="module")
def sandbox(pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = gateway_settings(
        "http://unused",
        tmp_path_factory.mktemp("sandbox"),
        sandbox_tls_cert_file=pki.path("server.sandbox.cert"),
        sandbox_tls_key_file=pki.path("server.sandbox.key"),
        sandbox_tls_client_ca_file=pki.path("ca.chain"),
        sandbox_require_assertions=True,
        sandbox_crl_files=[pki.path("crl.persons"), pki.path("crl.organisations")],
    )
    tls = SandboxTls(
        pki.path("server.sandbox.cert"), pki.path("server.sandbox.key"), pki.path("ca.chain")
    )
    server = start_in_thread(build_sandbox(settings, today=SystemClock().today()), tls=tls)
    yield server
    server.stop()


def _settings(pki: PkiFiles, sandbox: RunningServer, data: Path, *, tls: str) -> object:
    return gateway_settings(
        sandbox.url,
        data,
        regimes_ca_file=pki.path("ca.chain"),
        regimes_client_cert_file=pki.path(f"{tls}.cert"),
        regimes_client_key_file=pki.path(f"{tls}.key"),
        structure_sign_cert_file=pki.path("structure.sign.cert"),
        structure_sign_key_file=pki.path("structure.sign.key"),
        regime_retries=0,
    )


def _member(tag: str):
    return next(m for m in POPULATION.members if tag in m.scenarios)


async def test_a_signed_lookup_over_mutual_tls_is_answered(pki, sandbox, tmp_path) -> None:
    assert sandbox.url.startswith("https://")
    gateway = build_gateway(_settings(pki, sandbox, tmp_path, tls="structure.auth"))  # type: ignore[arg-type]
    try:
        member = _member("open")
        report = await look(gateway, member)
        assert [r.status for r in report.results] == [RegimeStatus.FOUND], report.results
        signers = {type(p._sign.__self__) for p in gateway.regime_ports}  # type: ignore[attr-defined]
        assert signers == {StructureAssertionSigner}
        # One assertion for the whole lookup and its neighbours: reused, not signed per call.
        await look(gateway, _member("closed"))
        signer = gateway.regime_ports[0]._sign.__self__  # type: ignore[attr-defined]
        assert signer.signed == 1
    finally:
        await gateway.aclose()


async def test_a_revoked_identity_is_refused_with_its_reason(pki, sandbox, tmp_path) -> None:
    settings = _settings(pki, sandbox, tmp_path, tls="bad.revoked_structure")
    gateway = build_gateway(settings)  # type: ignore[arg-type]
    try:
        report = await look(gateway, _member("open"))
        (result,) = report.results
        assert result.status is RegimeStatus.REJECTED
        assert "revoked" in (result.detail or ""), result.detail
    finally:
        await gateway.aclose()
