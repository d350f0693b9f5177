"""The request examples of docs/fhir-profile.md (tests/fixtures/fhir/examples/) as the gateway
reads them and as the API answers them, so that the documentation stays true (issue 18.14)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cdr.clock import SystemClock
from cdr.settings import Settings
from mapping.fhir.cer_to_query import submit_body_to_ask
from mapping.fhir.common import EXT_RANG
from mapping.fhir.terms import EXT_REGIME_STATUS
from rights.catalogue import default_catalogue
from rights.model import Requester
from tests.e2e.test_fhir_api import fhir, post  # noqa: F401  (the module's API fixture)
from tests.unit.mapping.fhir_schema import assert_valid

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "fhir" / "examples"
EXPECTED: dict[str, dict[str, Any]] = json.loads((EXAMPLES / "expected.json").read_text("utf-8"))
DEFAULT_FINESS = Settings(_env_file=None).requester_finess  # type: ignore[call-arg]


def example(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return body


def test_every_example_has_its_expectations():
    assert sorted(EXPECTED) == sorted(
        p.name for p in EXAMPLES.glob("*.json") if p.name != "expected.json"
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_gateway_reads_each_example_as_documented(name):
    expected = EXPECTED[name]
    today = SystemClock().today()
    ask = submit_body_to_ask(
        example(name),
        catalogue=default_catalogue(),
        today=today,
        default_requester=Requester(DEFAULT_FINESS),
    )
    query = ask.query
    day = today.isoformat() if expected["date_of_care"] == "today" else expected["date_of_care"]
    finess = expected["requester_finess"]
    assert {
        "nir": query.nir.value,
        "birth_date": query.birth_date,
        "rang": query.rang,
        "date_of_care": query.date_of_care.isoformat(),
        "regime": query.regime,
        "requester_finess": query.requester.finess,
        "purpose": list(ask.purposes),
    } == {
        **{k: v for k, v in expected.items() if k not in ("regimes_asked", "found", "patient_nir")},
        "date_of_care": day,
        "requester_finess": DEFAULT_FINESS if finess == "default" else finess,
    }


def _statuses(response: dict[str, Any]) -> dict[str, str]:
    out = {}
    for ext in response.get("extension", []):
        if ext["url"] == EXT_REGIME_STATUS:
            parts = {
                p["url"]: next(v for k, v in p.items() if k.startswith("value"))
                for p in ext["extension"]
            }
            out[parts["regime"]] = parts["status"]
    return out


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_api_answers_each_example_as_documented(fhir, name):  # noqa: F811
    expected = EXPECTED[name]
    response = post(fhir, example(name))
    assert response.status_code == 200, response.text
    cersp = response.json()
    assert_valid(cersp)
    assert cersp["outcome"] == "complete"
    assert cersp["purpose"] == expected["purpose"]
    statuses = _statuses(cersp)
    assert len(statuses) == expected["regimes_asked"]
    assert sorted(r for r, s in statuses.items() if s == "found") == expected["found"]
    if expected["date_of_care"] != "today":
        assert cersp["servicedDate"] == expected["date_of_care"]
    patient = httpx.get(f"{fhir}/{cersp['patient']['reference']}").json()
    # The beneficiary's own certified NIR when the regime gives one (a child asked for by a
    # parent's NIR has one), else the NIR asked.
    assert patient["identifier"][0]["value"] == expected["patient_nir"]
    rang = [e["valuePositiveInt"] for e in patient["extension"] if e["url"] == EXT_RANG]
    assert rang == [expected["rang"]]
    assert patient["birthDate"] == expected["birth_date"] or expected["birth_date"] is None


def test_the_async_example_is_queued_then_completed(fhir):  # noqa: F811
    response = post(fhir, example("discovery-identifier-only.json"), Prefer="respond-async")
    assert response.status_code == 200, response.text
    queued = response.json()
    assert queued["outcome"] == "queued"
    assert response.headers["Content-Location"].endswith(
        f"/CoverageEligibilityResponse/{queued['id']}"
    )
    url = f"{fhir}/CoverageEligibilityResponse/{queued['id']}"
    deadline = time.monotonic() + 20
    polled = httpx.get(url).json()
    while polled["outcome"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
        polled = httpx.get(url).json()
    assert polled["outcome"] == "complete"
    assert "found" in _statuses(polled).values()
