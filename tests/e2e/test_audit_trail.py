"""The audit trail of a running gateway (CDR_AUTH=on, real HTTP, real tokens): every lookup and
every refusal is an AuditEvent, searchable under its own scope; `cdr audit verify` passes on
the live trail and fails on a tampered copy, naming the event (issue 14, item 4)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.test_api_auth import Api, bearer, submit, token_form
from tests.e2e.test_api_auth import api as api

AUDIT = "/fhir/AuditEvent"


def _events(api: Api, token: str, query: str) -> list[dict]:
    response = httpx.get(f"{api.url}{AUDIT}?{query}", headers=bearer(token))
    assert response.status_code == 200, response.text
    bundle = response.json()
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def test_a_submit_is_audited_with_the_client_that_asked(api: Api) -> None:
    token = api.token("lab", "system/CoverageEligibilityRequest.c system/AuditEvent.rs")
    answered = submit(api, bearer(token))
    assert answered.status_code == 200, answered.text
    patient = answered.json()["patient"]["reference"]
    [event] = _events(api, token, f"agent=fhir-lab&patient={patient}&subtype=fhir-submit")
    assert event["type"]["code"] == "110112"
    assert event["outcome"] == "0"
    client = event["agent"][0]
    assert client["who"]["display"] == "lab" and client["requestor"] is True
    assert client["network"]["address"] == "127.0.0.1"
    read = httpx.get(f"{api.url}{AUDIT}/{event['id']}", headers=bearer(token))
    assert read.status_code == 200
    assert read.json() == event


def test_refusals_are_audited_too(api: Api) -> None:
    assert submit(api, {}).status_code == 401
    bad = token_form(api.keys["lab"], "lab", "system/CoverageEligibilityRequest.c", aud="x")
    assert api.post_token(bad).status_code == 401
    reader = api.token("reader", "system/Coverage.read")
    assert httpx.get(f"{api.url}/fhir/Patient", headers=bearer(reader)).status_code == 403

    token = api.token("lab", "system/AuditEvent.rs")
    refusals = _events(api, token, "outcome=4&type=rest&_count=50")
    reasons = [e["outcomeDesc"] for e in refusals]
    assert any("bearer token" in r for r in reasons), reasons
    [scope] = [e for e in refusals if "system/Patient.s" in e["outcomeDesc"]]
    assert scope["agent"][0]["who"]["display"] == "reader"
    assert scope["subtype"][0]["code"] == "search-type"
    logins = _events(api, token, "type=110114&_count=50")
    assert any(e["outcomeDesc"].startswith("invalid_client") for e in logins)


def test_the_audit_trail_has_its_own_scope(api: Api) -> None:
    reader = api.token("reader", "system/Coverage.read")
    response = httpx.get(f"{api.url}{AUDIT}", headers=bearer(reader))
    assert response.status_code == 403
    assert "system/AuditEvent.s" in response.text
    assert httpx.get(f"{api.url}{AUDIT}").status_code == 401


def _verify(data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CDR_DATA_DIR": str(data_dir)}
    env.pop("CDR_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "cdr.cli", "audit", "verify"],
        env=env,
        cwd=data_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_audit_verify_passes_on_the_live_trail_and_fails_on_a_tampered_copy(
    api: Api, tmp_path: Path
) -> None:
    token = api.token("lab", "system/CoverageEligibilityRequest.c")
    assert submit(api, bearer(token)).status_code == 200
    live = _verify(api.data_dir)
    assert live.returncode == 0, live.stderr
    assert "audit trail intact" in live.stdout

    copy = tmp_path / "cdr.sqlite3"
    with sqlite3.connect(api.data_dir / "cdr.sqlite3") as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as connection:
        connection.execute("UPDATE audit_events SET outcome = '8' WHERE seq = 1")
    tampered = _verify(tmp_path)
    assert tampered.returncode == 1
    assert "ae-1 (seq 1)" in tampered.stderr and "outcome" in tampered.stderr
