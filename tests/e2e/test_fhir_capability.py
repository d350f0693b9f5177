"""The CapabilityStatement, taken at its word (issue 21.3): a client reads it over HTTP and calls
every interaction, operation and search parameter it claims; each must work and find what it
should. A parameter advertised without a way to test it here fails the walk."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from cdr.bootstrap import build_gateway, build_http_app, publish_conformance
from sandbox.server import RunningServer, start_in_thread
from tests.conftest import gateway_settings
from tests.e2e.test_fhir_api import cer_for, first, post
from tests.unit.mapping.fhir_schema import assert_valid

Json = dict[str, Any]


@pytest.fixture(scope="module")
def fhir(sandbox: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = gateway_settings(sandbox.url, tmp_path_factory.mktemp("capability"))
    gateway = build_gateway(settings)
    publish_conformance(gateway)
    server = start_in_thread(build_http_app(gateway, tune_gc=False))
    base = f"{server.url}/fhir"
    # Something of every type to find: an AT/MP Coverage carries an identifier, a médecin
    # traitant makes a Practitioner.
    for tag in ("atmp", "medecin-traitant", "open"):
        assert post(base, cer_for(first(tag))).status_code == 200
    yield base
    server.stop()


def _reference(element: str) -> Callable[[Json], str]:
    def value(resource: Json) -> str:
        node = resource[element]
        return str((node[0] if isinstance(node, list) else node)["reference"])

    return value


def _identifier(resource: Json) -> str:
    identifier = resource["identifier"][0]
    return f"{identifier['system']}|{identifier['value']}"


# How to make a query from a resource that must find that resource, per advertised parameter.
_VALUE_OF: dict[str, Callable[[Json], str]] = {
    "_id": lambda r: str(r["id"]),
    "status": lambda r: str(r["status"]),
    "outcome": lambda r: str(r["outcome"]),
    "identifier": _identifier,
    "url": lambda r: str(r["url"]),
    "birthdate": lambda r: str(r["birthDate"]),
    "created": lambda r: "eq" + str(r["created"])[:10],
    "_lastUpdated": lambda r: "eq" + str(r["meta"]["lastUpdated"])[:10],
    "request": _reference("request"),
    "requestor": _reference("requestor"),
    "beneficiary": _reference("beneficiary"),
    "payor": _reference("payor"),
    # AuditEvent (the audit trail of the lookups above)
    "date": lambda r: "eq" + str(r["recorded"])[:10],
    "agent": lambda r: str(r["agent"][0]["who"]["reference"]),
    "type": lambda r: f"{r['type']['system']}|{r['type']['code']}",
    "subtype": lambda r: f"{r['subtype'][0]['system']}|{r['subtype'][0]['code']}",
}


def _value(resource_type: str, name: str, resource: Json) -> str:
    if name == "patient" and resource_type == "AuditEvent":
        return str(resource["entity"][0]["what"]["reference"])
    if name == "patient":
        element = "beneficiary" if resource_type == "Coverage" else "patient"
        return _reference(element)(resource)
    assert name in _VALUE_OF, f"{resource_type}?{name} is advertised but this walk cannot test it"
    return _VALUE_OF[name](resource)


def _sample(fhir: str, resource_type: str, needs: str | None) -> Json:
    """A stored resource of the type, one that has the element a parameter searches."""
    bundle = httpx.get(f"{fhir}/{resource_type}", params={"_count": 100}).json()
    resources = [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
    if needs == "identifier":
        resources = [r for r in resources if r.get("identifier")]
    assert resources, f"no {resource_type} stored to test {needs or 'read'} with"
    return resources[0]


def _statement(fhir: str) -> Json:
    response = httpx.get(f"{fhir}/metadata")
    assert response.status_code == 200
    statement: Json = response.json()
    return statement


def test_every_interaction_and_search_parameter_claimed_works(fhir: str) -> None:
    (rest,) = _statement(fhir)["rest"]
    for entry in rest["resource"]:
        kind = entry["type"]
        codes = {i["code"] for i in entry["interaction"]}
        assert codes == {"read", "vread", "history-instance", "search-type"}, kind
        resource = _sample(fhir, kind, None)
        read = httpx.get(f"{fhir}/{kind}/{resource['id']}")
        assert read.status_code == 200 and read.json()["id"] == resource["id"], kind
        version = read.json()["meta"]["versionId"]
        vread = httpx.get(f"{fhir}/{kind}/{resource['id']}/_history/{version}")
        assert vread.status_code == 200 and vread.json() == read.json(), kind
        history = httpx.get(f"{fhir}/{kind}/{resource['id']}/_history").json()
        assert history["type"] == "history" and history["entry"][0]["resource"] == read.json()
        assert_valid(history)
        for param in entry["searchParam"]:
            name = param["name"]
            holder = _sample(fhir, kind, name if name == "identifier" else None)
            value = _value(kind, name, holder)
            found = httpx.get(f"{fhir}/{kind}", params={name: value, "_count": 100})
            assert found.status_code == 200, f"{kind}?{name}={value}: {found.text}"
            ids = {e["resource"]["id"] for e in found.json().get("entry", [])}
            assert holder["id"] in ids, f"{kind}?{name}={value} does not find {holder['id']}"


def test_every_parameter_names_its_definition_and_every_profile_resolves(fhir: str) -> None:
    (rest,) = _statement(fhir)["rest"]
    for entry in rest["resource"]:
        for param in entry["searchParam"]:
            assert param["definition"].startswith("http://hl7.org/fhir/SearchParameter/"), param
        for profile in entry.get("supportedProfile", []):
            found = httpx.get(f"{fhir}/StructureDefinition", params={"url": profile}).json()
            (match,) = [e["resource"] for e in found["entry"] if e["search"]["mode"] == "match"]
            assert match["type"] == entry["type"] and match["fhirVersion"] == "4.0.1"
    types = {e["type"]: e for e in rest["resource"]}
    assert types["Coverage"]["supportedProfile"]


def test_operations_are_claimed_where_they_answer(fhir: str) -> None:
    (rest,) = _statement(fhir)["rest"]
    # $submit is a type-level operation: the statement claims no system-level one.
    assert "operation" not in rest
    assert httpx.post(f"{fhir}/$submit", json={}).status_code in (404, 405)
    for entry in rest["resource"]:
        for operation in entry.get("operation", []):
            assert (entry["type"], operation["name"]) == ("CoverageEligibilityRequest", "submit")
            response = post(fhir, cer_for(first("open")))
            assert response.status_code == 200
            assert response.json()["resourceType"] == "CoverageEligibilityResponse"
