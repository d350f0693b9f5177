"""Attended mode end to end (issue 13): `cdr lookup --card` with the emulated card behind the real
pcscd, against the sandbox serving mutual TLS and requiring signed assertions. The card's
signature key signs; the lookup is the card holder's in the audit trail; the same lookup
without the card is the structure's; a structure CDR does not serve is refused either way and
the command line says why; a wrong PIN or a missing card stops the command before any regime
is asked, and nothing is recorded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from card.pki import PkiFiles, init_pki
from cdr.bootstrap import build_sandbox
from cdr.clock import SystemClock
from cdr.storage.audit import SqlAuditTrail
from sandbox.members import Member
from sandbox.server import RunningServer, SandboxTls, start_in_thread
from tests.conftest import gateway_settings
from tests.e2e.test_scenarios import POPULATION
from tests.integration.card.conftest import DEMO_PIN, EmulatedCardProcess

Start = Callable[..., EmulatedCardProcess]
DOCTOR_RPPS = "10100234567"  # card.pki.PROFILES["medecin"]: 8 + RPPS
EHPAD = "130100050"  # in the sandbox's FINESS directory, category 500: not served by CDR


def _secured_sandbox(pki: PkiFiles, data: Path) -> RunningServer:
    settings = gateway_settings(
        "http://unused",
        data,
        sandbox_tls_cert_file=pki.path("server.sandbox.cert"),
        sandbox_tls_key_file=pki.path("server.sandbox.key"),
        sandbox_tls_client_ca_file=pki.path("ca.chain"),
        sandbox_require_assertions=True,
        sandbox_crl_files=[pki.path("crl.persons"), pki.path("crl.organisations")],
    )
    tls = SandboxTls(
        pki.path("server.sandbox.cert"), pki.path("server.sandbox.key"), pki.path("ca.chain")
    )
    return start_in_thread(build_sandbox(settings, today=SystemClock().today()), tls=tls)


@pytest.fixture(scope="module")
def demo_pki(pki_dir: Path) -> PkiFiles:
    manifest = json.loads((pki_dir / "manifest.json").read_text(encoding="utf-8"))
    return PkiFiles(pki_dir, pki_dir / "ca/root.pem", pki_dir / "ca/chain.pem", manifest)


@pytest.fixture(scope="module")
def sandbox(demo_pki: PkiFiles, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = _secured_sandbox(demo_pki, tmp_path_factory.mktemp("sandbox"))
    yield server.url
    server.stop()


def _env(pki: PkiFiles, url: str, data: Path, finess: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CDR_")}
    env.update(
        CDR_REGIMES_URL=url,
        CDR_DATA_DIR=str(data),
        CDR_REQUESTER_FINESS=finess,
        CDR_REGIMES_CA_FILE=str(pki.path("ca.chain")),
        CDR_REGIMES_CLIENT_CERT_FILE=str(pki.path("structure.auth.cert")),
        CDR_REGIMES_CLIENT_KEY_FILE=str(pki.path("structure.auth.key")),
        CDR_STRUCTURE_SIGN_CERT_FILE=str(pki.path("structure.sign.cert")),
        CDR_STRUCTURE_SIGN_KEY_FILE=str(pki.path("structure.sign.key")),
        CDR_REGIME_RETRIES="0",
    )
    return env


def _lookup(
    env: dict[str, str], member: Member, *extra: str, pin: str = DEMO_PIN
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cdr.cli", "lookup", "--nir", member.nir, "--json"]
    command += ["--birth-date", member.birth_date, "--rang", str(member.rang)]
    command += ["--regime", member.regime, "--date", member.date_of_care.isoformat(), *extra]
    return subprocess.run(
        command, input=f"{pin}\n", capture_output=True, text=True, env=env, timeout=90, check=False
    )


def _events(data: Path) -> list[dict[str, Any]]:
    engine = create_engine(f"sqlite:///{data / 'cdr.sqlite3'}")
    try:
        return [event for _seq, _id, event in SqlAuditTrail(engine).events_after(0, 100)]
    finally:
        engine.dispose()


def _professionals(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in event["agent"] if a["type"]["coding"][0]["code"] == "PROV"]


def _open_member() -> Member:
    return next(m for m in POPULATION.members if "open" in m.scenarios)


def test_a_card_lookup_is_the_holders_and_a_plain_one_the_structures(
    emulated_card: Start, demo_pki: PkiFiles, sandbox: str, tmp_path: Path
) -> None:
    emulated_card("medecin")
    env = _env(demo_pki, sandbox, tmp_path, "750100018")
    member = _open_member()
    attended = _lookup(env, member, "--card", "--pin-stdin")
    assert attended.returncode == 0, attended.stderr
    assert "acting as CLAIRE MEDECIN-TEST (Médecin, RPPS 10100234567)" in attended.stderr
    answer = json.loads(attended.stdout)
    assert [r["status"] for r in answer["results"]] == ["found"], answer
    unattended = _lookup(env, member)
    assert unattended.returncode == 0, unattended.stderr
    first, second = _events(tmp_path)
    [doctor] = _professionals(first)
    assert doctor["who"]["identifier"]["value"] == DOCTOR_RPPS
    assert doctor["who"]["display"] == "CLAIRE MEDECIN-TEST" and doctor["requestor"] is True
    assert _professionals(second) == []  # the structure asked on its own


def test_a_wrong_pin_or_no_card_stops_before_any_regime_is_asked(
    emulated_card: Start, demo_pki: PkiFiles, sandbox: str, tmp_path: Path
) -> None:
    env = _env(demo_pki, sandbox, tmp_path, "750100018")
    member = _open_member()
    no_card = _lookup(env, member, "--card", "--pin-stdin")
    assert no_card.returncode == 1 and "cdr: error:" in no_card.stderr, no_card.stderr
    assert "Traceback" not in no_card.stderr
    emulated_card("infirmier")
    wrong = _lookup(env, member, "--card", "--pin-stdin", pin="0000")
    assert wrong.returncode == 1
    assert "2 tries left" in wrong.stderr and "Traceback" not in wrong.stderr, wrong.stderr
    both = _lookup(env, member, "--card", "--pin-stdin", "--rpps", DOCTOR_RPPS)
    assert both.returncode == 2 and "--rpps" in both.stderr
    assert not (tmp_path / "cdr.sqlite3").exists() or _events(tmp_path) == []


def test_a_structure_cdr_does_not_serve_is_refused_with_or_without_a_card(
    emulated_card: Start, tmp_path_factory: pytest.TempPathFactory
) -> None:
    pki = init_pki(
        tmp_path_factory.mktemp("ehpad-pki"),
        structure_finess=EHPAD,
        structure_name="EHPAD de démonstration",
    )
    server = _secured_sandbox(pki, tmp_path_factory.mktemp("ehpad-sandbox"))
    try:
        emulated_card("medecin", pki.directory)
        data = tmp_path_factory.mktemp("ehpad-gateway")
        env = _env(pki, server.url, data, EHPAD)
        member = _open_member()
        for extra in (("--card", "--pin-stdin"), ()):
            refused = _lookup(env, member, *extra)
            assert refused.returncode == 1, refused.stderr
            [result] = json.loads(refused.stdout)["results"]
            assert (result["status"], result["reason"]) == ("rejected", "requester-refused")
            assert "category 500" in result["detail"] and "not eligible" in result["detail"]
    finally:
        server.stop()
