"""FHIR XML over HTTP (issue 21.7): every interaction takes and gives application/fhir+xml, and
says the same thing as in JSON. The posted XML are committed twins of the documented JSON
examples; answers are read back with lxml and the R4 models, then checked with the R4 JSON
schema like every JSON answer."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from fhir_server.xml_format import xml_to_resource
from tests.e2e.test_fhir_api import fhir, outcome  # noqa: F401  (fixture)
from tests.unit.mapping.fhir_schema import assert_valid

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"
XML = "application/fhir+xml"
NS = "{http://hl7.org/fhir}"


def _xml_request(name: str) -> bytes:
    return (FIXTURES / "xml" / name).read_bytes()


def _read(response: httpx.Response, resource_type: str) -> dict[str, Any]:
    """The answer as XML a FHIR client reads it: UTF-8, the FHIR namespace, the resource type
    as the root element; then its JSON form, valid against the R4 schema."""
    assert response.headers["content-type"] == f"{XML}; charset=utf-8", response.text
    root = etree.fromstring(response.content)
    assert root.tag == f"{NS}{resource_type}"
    # Values are attributes (<status value="active"/>), never element text, as R4 xml.html says,
    # except in the XHTML narrative.
    for element in root.iter(f"{NS}*"):
        assert not (element.text or "").strip(), element.tag
    resource = xml_to_resource(response.content)
    assert resource["resourceType"] == resource_type
    assert_valid(resource)
    return resource


def _post_xml(url: str, body: bytes, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{url}/CoverageEligibilityRequest/$submit",
        content=body,
        headers={"Content-Type": XML, "Accept": XML, **headers},
        timeout=30,
    )


@pytest.mark.parametrize(
    "name",
    ["validation-known-regime", "discovery-identifier-only", "discovery-twin-rang-2"],
)
def test_an_xml_request_is_answered_as_its_json_twin(fhir, name: str) -> None:  # noqa: F811
    as_xml = _read(_post_xml(fhir, _xml_request(f"{name}.xml")), "CoverageEligibilityResponse")
    twin = json.loads((FIXTURES / "examples" / f"{name}.json").read_text("utf-8"))
    as_json = httpx.post(f"{fhir}/CoverageEligibilityRequest/$submit", json=twin, timeout=30).json()

    def comparable(response: dict[str, Any]) -> dict[str, Any]:
        # The same lookup twice differs only by its ids, times and references to them, and by
        # how long each regime took (elapsedMs).
        keep = ("outcome", "purpose", "status", "servicedDate", "servicedPeriod")
        statuses = sorted(
            json.dumps(
                [p for p in e.get("extension", []) if p["url"] != "elapsedMs"], sort_keys=True
            )
            for e in response.get("extension", [])
        )
        return {k: response.get(k) for k in keep} | {
            "insurance": len(response.get("insurance", [])),
            "statuses": statuses,
        }

    assert comparable(as_xml) == comparable(as_json)


def test_every_read_and_search_answers_in_xml(fhir) -> None:  # noqa: F811
    answer = _read(
        _post_xml(fhir, _xml_request("validation-known-regime.xml")),
        "CoverageEligibilityResponse",
    )
    patient_url = f"{fhir}/{answer['patient']['reference']}"
    patient = _read(httpx.get(patient_url, headers={"Accept": XML}), "Patient")
    assert patient == httpx.get(patient_url).json()
    response_url = f"{fhir}/CoverageEligibilityResponse/{answer['id']}"
    assert _read(httpx.get(response_url, params={"_format": "xml"}), "CoverageEligibilityResponse")
    bundle = _read(
        httpx.get(
            f"{fhir}/Coverage",
            params={"beneficiary": answer["patient"]["reference"]},
            headers={"Accept": XML},
        ),
        "Bundle",
    )
    assert bundle["type"] == "searchset" and bundle["entry"]
    statement = _read(
        httpx.get(f"{fhir}/metadata", params={"_format": "xml"}), "CapabilityStatement"
    )
    assert "application/fhir+xml" in statement["format"]


def test_errors_answer_in_xml_when_xml_is_asked(fhir) -> None:  # noqa: F811
    missing = httpx.get(f"{fhir}/Patient/nobody", headers={"Accept": XML})
    assert missing.status_code == 404
    assert _read(missing, "OperationOutcome")["issue"][0]["code"] == "not-found"
    body = _xml_request("validation-known-regime.xml").replace(
        b'<status value="active"/>', b'<status value="sleeping"/>'
    )
    refused = _post_xml(fhir, body)
    assert refused.status_code == 400
    issues = _read(refused, "OperationOutcome")["issue"]
    assert any("status" in (issue.get("diagnostics") or "") for issue in issues), issues


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<CoverageEligibilityRequest", "not well-formed"),
        (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><x/>', "document type"),
        (b'<CoverageEligibilityRequest xmlns="urn:other"/>', "FHIR namespace"),
        (b'<Nonsense xmlns="http://hl7.org/fhir"/>', "not a FHIR R4 resource"),
    ],
)
def test_bad_xml_is_400_naming_the_fault(fhir, body: bytes, says: str) -> None:  # noqa: F811
    response = httpx.post(
        f"{fhir}/CoverageEligibilityRequest/$submit",
        content=body,
        headers={"Content-Type": XML},
    )
    issues = outcome(response, 400)
    assert says in issues[0]["diagnostics"]


def test_an_async_xml_request_is_queued_then_read_in_xml(fhir) -> None:  # noqa: F811
    queued = _post_xml(fhir, _xml_request("discovery-identifier-only.xml"), Prefer="respond-async")
    assert queued.status_code == 200, queued.text
    first_answer = _read(queued, "CoverageEligibilityResponse")
    url = f"{fhir}/CoverageEligibilityResponse/{first_answer['id']}"
    deadline = time.monotonic() + 20
    polled = _read(httpx.get(url, headers={"Accept": XML}), "CoverageEligibilityResponse")
    while polled["outcome"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
        polled = _read(httpx.get(url, headers={"Accept": XML}), "CoverageEligibilityResponse")
    assert polled["outcome"] == "complete"
