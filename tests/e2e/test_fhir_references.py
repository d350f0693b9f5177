"""Every reference we store or return resolves (issue 21.1), for every committed request
fixture, sync and async: a ``Type/id`` reads 200 here, a ``#id`` names a contained resource of
the same resource, and every contained resource is referenced (dom-3). The other DomainResource
invariants are checked with them: no nested contained (dom-2), no version or security label on
a contained resource (dom-4, dom-5). Written as plain checks of the JSON, which say which
reference failed; and every resource reached also passes every R4 invariant of its type,
evaluated with fhirpathpy (``tests/unit/mapping/fhir_invariants.py``)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mapping.fhir.cer_stored import reference_texts
from tests.e2e.test_fhir_api import fhir, post  # noqa: F401  (fixture)
from tests.unit.mapping.fhir_invariants import assert_invariants
from tests.unit.mapping.fhir_schema import assert_valid

REQUESTS = Path(__file__).resolve().parents[1] / "fixtures" / "fhir" / "requests"
NAMES = sorted(p.name for p in REQUESTS.glob("*.json") if p.name != "expected.json")


def _all_references(resource: dict[str, Any]) -> Iterator[str]:
    yield from reference_texts(resource)
    for contained in resource.get("contained", []):
        yield from reference_texts(contained)


def check_resolves(fhir_base: str, resource: dict[str, Any], seen: set[str]) -> None:
    """``resource`` meets dom-2..5 and each of its references resolves; the resources they
    point to are checked in turn (``seen`` stops the walk)."""
    key = f"{resource['resourceType']}/{resource.get('id')}"
    if key in seen:
        return
    seen.add(key)
    assert_valid(resource)
    assert_invariants(resource)
    contained = resource.get("contained", [])
    local = {c.get("id") for c in contained}
    for c in contained:
        assert "contained" not in c, f"{key}: dom-2"
        meta = c.get("meta", {})
        assert "versionId" not in meta and "lastUpdated" not in meta, f"{key}: dom-4"
        assert "security" not in meta, f"{key}: dom-5"
    targets = list(_all_references(resource))
    for c in contained:
        assert f"#{c.get('id')}" in targets or "#" in targets, f"{key}: dom-3, #{c.get('id')}"
    for target in targets:
        if target.startswith("#"):
            assert target == "#" or target[1:] in local, f"{key}: {target} is not contained"
            continue
        assert not target.startswith("urn:"), f"{key}: {target} names nothing stored"
        if target.startswith(("http://", "https://")):
            # Another server's resource (an insurer in a national directory): an absolute
            # URL, resolvable there; never an address of this server written absolutely.
            assert not target.startswith(fhir_base), f"{key}: {target}"
            continue
        read = httpx.get(f"{fhir_base}/{target}")
        assert read.status_code == 200, f"{key}: {target} answers {read.status_code}"
        check_resolves(fhir_base, read.json(), seen)


def _answers(body: dict[str, Any]) -> list[dict[str, Any]]:
    if body["resourceType"] == "Bundle":
        return [e["resource"] for e in body["entry"]]
    return [body]


@pytest.mark.parametrize("name", NAMES)
def test_every_reference_of_a_sync_answer_resolves(fhir, name: str) -> None:  # noqa: F811
    response = post(fhir, json.loads((REQUESTS / name).read_text("utf-8")))
    assert response.status_code == 200, response.text
    seen: set[str] = set()
    for resource in _answers(response.json()):
        check_resolves(fhir, resource, seen)
    assert any(key.startswith("CoverageEligibilityRequest/") for key in seen)


@pytest.mark.parametrize("name", NAMES)
def test_every_reference_of_an_async_answer_resolves(fhir, name: str) -> None:  # noqa: F811
    body = json.loads((REQUESTS / name).read_text("utf-8"))
    response = post(fhir, body, Prefer="respond-async")
    assert response.status_code == 200, response.text
    answers = _answers(response.json())
    # The same shape as a sync answer: a Bundle input gets a Bundle back.
    sync = post(fhir, body).json()
    assert response.json()["resourceType"] == sync["resourceType"]
    queued = next(r for r in answers if r["resourceType"] == "CoverageEligibilityResponse")
    for resource in answers:  # while queued (or already done), everything resolves
        check_resolves(fhir, resource, set())
    url = f"{fhir}/CoverageEligibilityResponse/{queued['id']}"
    deadline = time.monotonic() + 20
    done = httpx.get(url).json()
    while done["outcome"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
        done = httpx.get(url).json()
    assert done["outcome"] != "queued"
    check_resolves(fhir, done, set())


def test_a_bundle_request_contains_what_it_referenced(fhir) -> None:  # noqa: F811
    body = json.loads((REQUESTS / "fais-bundle-collection.json").read_text("utf-8"))
    sent = {e["fullUrl"] for e in body["entry"] if "fullUrl" in e}
    response = post(fhir, body)
    answer = next(
        r for r in _answers(response.json()) if r["resourceType"] == "CoverageEligibilityResponse"
    )
    stored = httpx.get(f"{fhir}/{answer['request']['reference']}").json()
    texts = set(reference_texts(stored))
    assert not texts & sent, "a reference still names a Bundle entry"
    assert {c["resourceType"] for c in stored.get("contained", [])} >= {"Organization"}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("prefer", ["", "respond-async"])
def test_every_request_answers_in_xml_as_in_json(fhir, name: str, prefer: str) -> None:  # noqa: F811
    """Every committed request posted as XML, answered in XML: the answer reads back into a
    resource that validates and whose references resolve, as its JSON twin's do."""
    from lxml import etree

    from fhir_server.xml_format import resource_to_xml, xml_to_resource

    body = json.loads((REQUESTS / name).read_text("utf-8"))
    response = httpx.post(
        f"{fhir}/CoverageEligibilityRequest/$submit",
        content=resource_to_xml(body),
        headers={
            "Content-Type": "application/fhir+xml",
            "Accept": "application/fhir+xml",
            "Prefer": prefer,
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert etree.fromstring(response.content).tag.startswith("{http://hl7.org/fhir}")
    answer = xml_to_resource(response.content)
    seen: set[str] = set()
    for resource in _answers(answer):
        check_resolves(fhir, resource, seen)
