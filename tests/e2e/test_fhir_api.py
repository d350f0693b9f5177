"""The FHIR API over real HTTP: the gateway app under uvicorn on port 0, the sandbox behind it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cdr.bootstrap import build_gateway, build_http_app, publish_conformance
from fhir_server.app import create_app
from sandbox.population import Member
from sandbox.server import RunningServer, start_in_thread
from tests.conftest import gateway_settings
from tests.e2e.test_scenarios import ALL_TAGS, POPULATION
from tests.unit.mapping.fhir_invariants import assert_invariants
from tests.unit.mapping.fhir_schema import assert_valid

NIR_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
FHIR_JSON = "application/fhir+json"


@pytest.fixture(scope="module")
def fhir(sandbox: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    # No answer cache: every $submit really asks the sandbox (faults apply, async is observable).
    settings = gateway_settings(
        sandbox.url, tmp_path_factory.mktemp("fhir"), fhir_max_body_bytes=4096, cache_ttl_s=0
    )
    gateway = build_gateway(settings)
    publish_conformance(gateway)
    # Exactly what `cdr serve` runs, but for the collector settings of a server process.
    server = start_in_thread(build_http_app(gateway, tune_gc=False))
    yield f"{server.url}/fhir"
    server.stop()  # the app's shutdown closes the gateway


def cer_for(
    member: Member, *, purpose: str = "validation", regime: str | None = "member"
) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": "p1",
        "identifier": [{"system": NIR_SYSTEM, "value": member.nir}],
        "name": [{"family": member.family_name, "given": [member.given_name]}],
        "birthDate": member.birth_date,
    }
    if member.rang != 1:
        patient["extension"] = [
            {
                "url": "https://cdr-gateway.example.org/fhir/StructureDefinition/cdr-rang",
                "valuePositiveInt": member.rang,
            }
        ]
    cer: dict[str, Any] = {
        "resourceType": "CoverageEligibilityRequest",
        "contained": [patient],
        "status": "active",
        "purpose": [purpose],
        "patient": {"reference": "#p1"},
        "created": "2026-11-24T10:00:00+01:00",
        "insurer": {"display": "CDR"},
        "servicedDate": member.date_of_care.isoformat(),
    }
    code = member.regime if regime == "member" else regime
    if code and purpose == "validation":
        cer["contained"].append(
            {
                "resourceType": "Coverage",
                "id": "c1",
                "status": "active",
                "beneficiary": {"reference": "#p1"},
                "payor": [{"display": code}],
                "class": [
                    {
                        "type": {
                            "coding": [
                                {
                                    "system": "https://cdr-gateway.example.org/fhir/CodeSystem/cdr-coverage-class",
                                    "code": "cdr-regime",
                                }
                            ]
                        },
                        "value": code,
                    }
                ],
            }
        )
        cer["insurance"] = [{"focal": True, "coverage": {"reference": "#c1"}}]
    return cer


def post(url: str, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{url}/CoverageEligibilityRequest/$submit",
        json=body,
        headers={"Content-Type": FHIR_JSON, **headers},
        timeout=30,
    )


def first(tag: str) -> Member:
    return next(m for m in POPULATION.members if tag in m.scenarios)


def test_metadata_is_a_truthful_capability_statement(fhir):
    response = httpx.get(f"{fhir}/metadata")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(FHIR_JSON)
    statement = response.json()
    assert_valid(statement)
    assert_invariants(statement)
    assert statement["fhirVersion"] == "4.0.1"
    rest = statement["rest"][0]
    types = {r["type"]: r for r in rest["resource"]}
    assert {"CoverageEligibilityResponse", "Coverage", "Patient"} <= types.keys()
    assert {p["name"] for p in types["Coverage"]["searchParam"]} >= {
        "beneficiary", "patient", "payor", "status"
    }  # fmt: skip
    assert types["CoverageEligibilityRequest"]["operation"][0]["name"] == "submit"
    assert "operation" not in rest  # $submit is type-level only


def test_submit_returns_a_valid_response_with_its_coverage_and_persists_it(fhir):
    member = first("c2s")
    response = post(fhir, cer_for(member))
    assert response.status_code == 200, response.text
    cersp = response.json()
    assert_valid(cersp)
    assert cersp["resourceType"] == "CoverageEligibilityResponse"
    assert cersp["outcome"] == "complete"
    # A 200 names its response with Content-Location; Location is a create header (R4 http).
    assert "Location" not in response.headers
    assert response.headers["Content-Location"].endswith(
        f"/CoverageEligibilityResponse/{cersp['id']}"
    )
    inforce = [i for i in cersp["insurance"] if i.get("inforce")]
    assert inforce
    coverage_ref = inforce[0]["coverage"]["reference"]
    coverage = httpx.get(f"{fhir}/{coverage_ref}")
    assert coverage.status_code == 200
    assert_valid(coverage.json())
    assert coverage.headers["ETag"].startswith('W/"')
    assert "Last-Modified" in coverage.headers
    stored = httpx.get(f"{fhir}/CoverageEligibilityResponse/{cersp['id']}").json()
    assert stored["outcome"] == "complete"
    request_ref = cersp["request"]["reference"]
    assert httpx.get(f"{fhir}/{request_ref}").status_code == 200
    found = httpx.get(f"{fhir}/CoverageEligibilityResponse", params={"request": request_ref})
    assert found.json()["total"] == 1


def test_repeating_a_lookup_does_not_duplicate_patient_or_coverage(fhir):
    member = first("etm")
    one = post(fhir, cer_for(member)).json()
    two = post(fhir, cer_for(member)).json()
    assert one["patient"] == two["patient"]
    assert [i["coverage"] for i in one["insurance"]] == [i["coverage"] for i in two["insurance"]]
    patients = httpx.get(f"{fhir}/Patient", params={"identifier": f"{NIR_SYSTEM}|{member.nir}"})
    assert patients.json()["total"] == 1
    coverages = httpx.get(f"{fhir}/Coverage", params={"beneficiary": one["patient"]["reference"]})
    assert coverages.json()["total"] == len(one["insurance"])


def test_etag_if_none_match_gives_304(fhir):
    cersp = post(fhir, cer_for(first("open"))).json()
    url = f"{fhir}/{cersp['patient']['reference']}"
    etag = httpx.get(url).headers["ETag"]
    assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304


def test_a_bundle_input_gets_a_collection_bundle(fhir):
    member = first("open")
    cer = cer_for(member)
    patient = cer["contained"].pop(0)
    cer["patient"] = {"reference": "urn:uuid:8c5a0c5e-7d1b-4d2e-9a55-1f0f8a0b7c11"}
    cer["contained"][0]["beneficiary"] = cer["patient"]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:0f0b5a1e-2c1d-4f6a-8e0b-0e5d1c2b3a49", "resource": cer},
            {"fullUrl": "urn:uuid:8c5a0c5e-7d1b-4d2e-9a55-1f0f8a0b7c11", "resource": patient},
        ],
    }
    response = post(fhir, bundle)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["resourceType"] == "Bundle" and body["type"] == "collection"
    kinds = [e["resource"]["resourceType"] for e in body["entry"]]
    assert kinds[0] == "CoverageEligibilityResponse"
    assert "Patient" in kinds
    for entry in body["entry"]:
        assert_valid(entry["resource"])


@pytest.mark.parametrize("tag", ALL_TAGS)
def test_every_scenario_over_http_emits_valid_resources(fhir, tag):
    member = first(tag)
    purpose = "discovery" if tag in ("unknown", "rejected-invoice") else "validation"
    response = post(fhir, cer_for(member, purpose=purpose))
    assert response.status_code == 200, response.text
    cersp = response.json()
    assert_valid(cersp)
    for insurance in cersp.get("insurance", []):
        coverage = httpx.get(f"{fhir}/{insurance['coverage']['reference']}")
        assert coverage.status_code == 200
        assert_valid(coverage.json())
    patient = httpx.get(f"{fhir}/{cersp['patient']['reference']}")
    assert_valid(patient.json())
    if tag == "unknown":
        assert not cersp.get("insurance")
        # Not being known is an answer (issue 21.5): complete, a warning, no error.
        assert cersp["outcome"] == "complete" and "error" not in cersp
        warnings = [
            part["valueCode"]
            for ext in cersp["extension"]
            if ext["url"].endswith("/cdr-warning")
            for part in ext["extension"]
            if part["url"] == "code"
        ]
        assert "unknown-person" in warnings


# --- bad input: every failure is an OperationOutcome with the right status ------------------


def outcome(response: httpx.Response, status: int) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert_valid(body)
    assert "Traceback" not in response.text
    return body["issue"]


def test_malformed_json_is_400(fhir):
    response = httpx.post(
        f"{fhir}/CoverageEligibilityRequest/$submit",
        content=b'{"resourceType": ',
        headers={"Content-Type": FHIR_JSON},
    )
    assert "not valid JSON" in outcome(response, 400)[0]["diagnostics"]


def test_wrong_resource_type_is_400(fhir):
    issues = outcome(post(fhir, {"resourceType": "Patient"}), 400)
    assert any("resourceType" in e for i in issues for e in i.get("expression", []))


def test_missing_required_elements_give_one_issue_each(fhir):
    body = {"resourceType": "CoverageEligibilityRequest"}
    issues = outcome(post(fhir, body), 400)
    expressions = {e for i in issues for e in i.get("expression", [])}
    for element in ("status", "purpose", "patient", "created", "insurer"):
        assert f"CoverageEligibilityRequest.{element}" in expressions
    assert all(i["code"] == "required" for i in issues)


def test_invalid_nir_names_the_identifier_and_the_check(fhir):
    member = first("open")
    cer = cer_for(member)
    wrong = member.nir[:13] + f"{(int(member.nir[13:]) % 97) + 1:02d}"
    cer["contained"][0]["identifier"][0]["value"] = wrong
    # Valid FHIR breaking a rule of the NIR: 422, not 400 (R4 http.html).
    issues = outcome(post(fhir, cer), 422)
    assert any("identifier" in e for i in issues for e in i.get("expression", []))
    assert any(f"expected {member.nir[13:]}" in i["diagnostics"] for i in issues)
    assert any("[key]" in i["diagnostics"] for i in issues)


def test_unknown_id_and_unknown_type_are_404(fhir):
    outcome(httpx.get(f"{fhir}/Coverage/does-not-exist"), 404)
    outcome(httpx.get(f"{fhir}/Claim/1"), 404)


def test_method_not_allowed_is_405(fhir):
    outcome(httpx.delete(f"{fhir}/Patient/x"), 405)


def test_body_over_the_limit_is_413(fhir):
    body = {"resourceType": "CoverageEligibilityRequest", "text": {"div": "x" * 5000}}
    outcome(post(fhir, body), 413)


def test_formats_we_do_not_speak_are_406_and_415(fhir):
    outcome(httpx.get(f"{fhir}/metadata", headers={"Accept": "text/html"}), 406)
    outcome(httpx.get(f"{fhir}/metadata", params={"_format": "ttl"}), 406)
    response = httpx.post(
        f"{fhir}/CoverageEligibilityRequest/$submit",
        content=b"name=value",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    outcome(response, 415)


def test_application_json_is_accepted_and_echoed(fhir):
    response = httpx.get(f"{fhir}/metadata", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")


def test_unknown_search_parameter_is_400_when_strict(fhir):
    strict = {"Prefer": "handling=strict"}
    issues = outcome(httpx.get(f"{fhir}/Coverage", params={"colour": "blue"}, headers=strict), 400)
    assert "not supported" in issues[0]["diagnostics"]


def test_search_paging_has_total_and_links(fhir):
    for tag in ("open", "closed", "future"):
        post(fhir, cer_for(first(tag)))
    page = httpx.get(f"{fhir}/CoverageEligibilityResponse", params={"_count": "1"}).json()
    assert page["type"] == "searchset"
    assert page["total"] >= 3
    assert len(page["entry"]) == 1
    relations = {link["relation"] for link in page["link"]}
    assert {"self", "next"} <= relations
    assert_valid(page)


def test_conformance_resources_are_published(fhir):
    systems = httpx.get(f"{fhir}/CodeSystem").json()
    assert systems["total"] >= 3
    for entry in systems["entry"]:
        assert_valid(entry["resource"])


def test_unexpected_failure_is_500_with_a_correlation_id(tmp_path: Path):
    class BrokenStore:
        def read(self, *args):
            raise RuntimeError("disk on fire")

    app = create_app({}, version="t", store=BrokenStore(), submit=object())  # type: ignore[arg-type]
    server = start_in_thread(app)
    try:
        response = httpx.get(f"{server.url}/fhir/Patient/x")
    finally:
        server.stop()
    issues = outcome(response, 500)
    correlation = response.headers["X-Correlation-ID"]
    assert correlation in issues[0]["diagnostics"]
    assert "disk on fire" not in response.text


def test_submit_edge_rules_hold_on_its_direct_path(fhir):
    # `$submit` is served by the direct dispatch (fhir_server.app._DirectDispatch): the edge's
    # rules must hold there as on every other route.
    outcome(httpx.get(f"{fhir}/CoverageEligibilityRequest/$submit"), 405)
    outcome(post(fhir, cer_for(first("open")), Accept="text/csv"), 406)
    response = post(fhir, cer_for(first("open")), **{"X-Request-ID": "sub-7"})
    assert response.status_code == 200
    assert response.headers["X-Correlation-ID"] == "sub-7"
    assert response.headers["content-type"] == "application/fhir+json; charset=utf-8"
    assert int(response.headers["content-length"]) == len(response.content)
    as_json = post(fhir, cer_for(first("open")), Accept="application/json")
    assert as_json.headers["content-type"] == "application/json; charset=utf-8"


def test_unexpected_submit_failure_is_500_with_a_correlation_id():
    class BrokenSubmit:
        async def submit(self, body):
            raise RuntimeError("regime cable cut")

    app = create_app({}, version="t", store=object(), submit=BrokenSubmit())  # type: ignore[arg-type]
    server = start_in_thread(app)
    try:
        response = httpx.post(
            f"{server.url}/fhir/CoverageEligibilityRequest/$submit",
            json={"resourceType": "CoverageEligibilityRequest"},
        )
    finally:
        server.stop()
    issues = outcome(response, 500)
    assert response.headers["X-Correlation-ID"] in issues[0]["diagnostics"]
    assert "cable" not in response.text


def test_respond_async_queues_then_completes(fhir, sandbox):
    member = first("medecin-traitant")
    httpx.put(
        f"{sandbox.url}/admin/faults/{member.regime}", json={"latency_ms": 1000}
    ).raise_for_status()
    try:
        response = post(fhir, cer_for(member), Prefer="respond-async")
        # IHE FAIS, not FHIR's async pattern: a normal 200 whose response says queued.
        assert response.status_code == 200, response.text
        assert "Preference-Applied" not in response.headers
        queued = response.json()
        assert_valid(queued)
        assert queued["outcome"] == "queued"
        location = response.headers["Content-Location"]
        assert location.endswith(f"/CoverageEligibilityResponse/{queued['id']}")
        url = f"{fhir}/CoverageEligibilityResponse/{queued['id']}"
        first_poll = httpx.get(url)
        assert first_poll.json()["outcome"] == "queued"
        assert first_poll.headers["Retry-After"] == "1"
        # Every reference of the queued answer resolves while the lookup runs.
        for ref in (queued["patient"], queued["request"], queued["insurer"]):
            resolved = httpx.get(f"{fhir}/{ref['reference']}")
            assert resolved.status_code == 200, ref
            assert_valid(resolved.json())
        deadline = time.monotonic() + 20
        while True:
            polled = httpx.get(url).json()
            if polled["outcome"] != "queued" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        httpx.delete(f"{sandbox.url}/admin/faults").raise_for_status()
    assert polled["outcome"] == "complete"
    assert_valid(polled)
    assert any(i.get("inforce") for i in polled["insurance"])
    assert polled["request"] == queued["request"]
    assert "Retry-After" not in httpx.get(url).headers


def test_respond_async_still_checks_the_request_at_once(fhir):
    issues = outcome(
        post(fhir, {"resourceType": "CoverageEligibilityRequest"}, Prefer="respond-async"), 400
    )
    assert len(issues) == 5


def test_metrics_count_lookups_and_requests(fhir):
    post(fhir, cer_for(first("open")))
    response = httpx.get(fhir.removesuffix("/fhir") + "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'cdr_lookups_total{mode="validation",outcome="complete"}' in text
    assert "cdr_regime_latency_seconds_bucket" in text
    assert 'route="/fhir/CoverageEligibilityRequest/$submit",status="200"' in text
    assert 'cdr_circuit_breaker_state{regime="cnam"} 0' in text


def test_every_answer_carries_a_correlation_id(fhir):
    response = httpx.get(f"{fhir}/metadata", headers={"X-Request-ID": "req-42"})
    assert response.headers["X-Correlation-ID"] == "req-42"
    assert len(httpx.get(f"{fhir}/metadata").headers["X-Correlation-ID"]) == 32


def test_readiness_holds_while_one_regime_is_down(fhir, sandbox):
    root = fhir.removesuffix("/fhir")
    httpx.put(f"{sandbox.url}/admin/faults/msa", json={"down": True}).raise_for_status()
    try:
        ready = httpx.get(f"{root}/readyz")
    finally:
        httpx.delete(f"{sandbox.url}/admin/faults").raise_for_status()
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "regimes": True}


def test_readiness_fails_when_every_regime_is_down(fhir, sandbox):
    root = fhir.removesuffix("/fhir")
    httpx.put(f"{sandbox.url}/admin/faults/*", json={"down": True}).raise_for_status()
    try:
        ready = httpx.get(f"{root}/readyz")
    finally:
        httpx.delete(f"{sandbox.url}/admin/faults").raise_for_status()
    assert ready.status_code == 503
    assert ready.json()["checks"]["regimes"] is False


# --- one Patient per person (issue 18.1) ----------------------------------------------------


def by_identifier(member: Member) -> dict[str, Any]:
    """The request naming the person by a logical reference: the NIR only, no birth date."""
    cer = cer_for(member)
    del cer["contained"][0]
    cer["patient"] = {"identifier": {"system": NIR_SYSTEM, "value": member.nir}}
    cer["contained"][0]["beneficiary"] = cer["patient"]
    return cer


def test_the_patient_is_the_person_the_regime_answered_for_whatever_the_client_sent(fhir):
    member = first("mtm")
    bare = post(fhir, by_identifier(member))
    assert bare.status_code == 200, bare.text
    one = bare.json()
    two = post(fhir, cer_for(member)).json()  # a contained Patient with its birth date
    assert one["patient"] == two["patient"]
    coverages = [i["coverage"]["reference"] for i in one["insurance"]]
    assert coverages == [i["coverage"]["reference"] for i in two["insurance"]]
    patients = httpx.get(f"{fhir}/Patient", params={"identifier": f"{NIR_SYSTEM}|{member.nir}"})
    assert patients.json()["total"] == 1
    found = httpx.get(f"{fhir}/Coverage", params={"beneficiary": one["patient"]["reference"]})
    assert found.json()["total"] == len(coverages)
    for reference in coverages:  # updated in place: each still the first Patient's
        coverage = httpx.get(f"{fhir}/{reference}").json()
        assert coverage["beneficiary"]["reference"] == one["patient"]["reference"]


def test_twins_on_one_nir_stay_two_patients(fhir):
    twins = [m for m in POPULATION.with_tag("twins")]
    assert {m.rang for m in twins} >= {1, 2} and len({m.nir for m in twins}) == 1
    answers = [post(fhir, cer_for(m)).json() for m in twins]
    assert len({a["patient"]["reference"] for a in answers}) == len(twins)
    for answer in answers:
        found = httpx.get(
            f"{fhir}/Coverage", params={"beneficiary": answer["patient"]["reference"]}
        )
        assert found.json()["total"] == len(answer["insurance"])


# --- the requester is never substituted (issue 18.2) -----------------------------------------


@pytest.mark.parametrize(
    ("element", "system", "value", "where"),
    [
        ("provider", "urn:oid:1.2.250.1.71.4.2.2", "999999999", "provider.identifier.value"),
        ("facility", "https://finess.esante.gouv.fr", "999999999", "facility.identifier.value"),
        ("enterer", "urn:oid:1.2.250.1.71.4.2.1", "10001234567", "enterer.identifier.value"),
        ("provider", "https://hopital.example.org/uf", "UF-42", "provider.identifier"),
    ],
)
def test_a_requester_we_cannot_read_is_400_naming_the_field(fhir, element, system, value, where):
    cer = cer_for(first("open"))
    kind = {"provider": "Organization", "facility": "Location", "enterer": "Practitioner"}
    cer[element] = {"type": kind[element], "identifier": {"system": system, "value": value}}
    issues = outcome(post(fhir, cer), 400)
    assert [e for i in issues for e in i.get("expression", [])] == [
        f"CoverageEligibilityRequest.{where}"
    ]
    assert repr(value) in issues[0]["diagnostics"] or "FINESS" in issues[0]["diagnostics"]


# --- refusals are refusals (issue 18.3) -----------------------------------------------------


def test_a_structure_the_regimes_refuse_gets_requester_refused_not_unavailable(fhir):
    cer = cer_for(first("open"))
    ehpad = {"system": "https://finess.esante.gouv.fr", "value": "130100050"}
    cer["provider"] = {"type": "Organization", "identifier": ehpad}
    response = post(fhir, cer)
    assert response.status_code == 200, response.text
    cersp = response.json()
    assert cersp["outcome"] == "error"
    codes = [c["code"] for e in cersp["error"] for c in e["code"]["coding"]]
    assert codes == ["requester-refused"]
    assert "refused the requesting structure" in cersp["disposition"]


def test_if_none_match_compares_weakly_and_takes_lists(fhir):
    answer = post(fhir, cer_for(first("open"))).json()
    url = f"{fhir}/{answer['patient']['reference']}"
    etag = httpx.get(url).headers["ETag"]
    strong = etag.removeprefix("W/")
    for header in (etag, strong, f'"nope", {etag}', "*"):
        assert httpx.get(url, headers={"If-None-Match": header}).status_code == 304, header
    assert httpx.get(url, headers={"If-None-Match": '"999"'}).status_code == 200


@pytest.mark.parametrize("status", ["cancelled", "entered-in-error", "draft"])
def test_a_request_that_is_not_active_is_not_processed(fhir, status):
    cer = {**cer_for(first("open")), "status": status}
    issues = outcome(post(fhir, cer), 422)
    assert issues[0]["expression"] == ["CoverageEligibilityRequest.status"]
    assert status in issues[0]["diagnostics"]


def test_a_fhir_fault_beside_a_business_one_is_400(fhir):
    member = first("open")
    cer = {**cer_for(member), "status": "cancelled"}
    del cer["purpose"]  # required by FHIR itself
    issues = outcome(post(fhir, cer), 400)
    assert {i["expression"][0] for i in issues} >= {
        "CoverageEligibilityRequest.status",
        "CoverageEligibilityRequest.purpose",
    }
