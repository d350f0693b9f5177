"""Search as FHIR R4 §3.1.1 defines it, over HTTP (issue 21.4): lenient by default, strict on
request; references written as absolute URLs; code elements' implicit systems; every date
prefix we claim, at any precision down to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.e2e.test_fhir_api import cer_for, fhir, first, outcome, post  # noqa: F401  (fixture)
from tests.unit.mapping.fhir_schema import assert_valid

STRICT = {"Prefer": "handling=strict"}


def _ids(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"}


def _self_params(bundle: dict[str, Any]) -> list[tuple[str, str]]:
    url = next(link["url"] for link in bundle["link"] if link["relation"] == "self")
    return parse_qsl(urlsplit(url).query, keep_blank_values=True)


@pytest.fixture(scope="module")
def answer(fhir) -> dict[str, Any]:  # noqa: F811
    response = post(fhir, cer_for(first("open")))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_unknown_and_empty_parameters_are_ignored_and_said(fhir, answer) -> None:  # noqa: F811
    patient = answer["patient"]["reference"]
    plain = httpx.get(f"{fhir}/CoverageEligibilityResponse", params={"patient": patient}).json()
    params = [("patient", patient), ("colour", "blue"), ("status", ""), ("_summary", "true")]
    lenient = httpx.get(f"{fhir}/CoverageEligibilityResponse", params=params)
    assert lenient.status_code == 200
    bundle = lenient.json()
    assert_valid(bundle)
    assert _ids(bundle) == _ids(plain) and answer["id"] in _ids(bundle)
    # The self link is the search as understood: the ignored parameters are not in it.
    assert [k for k, _ in _self_params(bundle)] == ["patient", "_count", "_offset"]
    said = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    diagnostics = said[0]["resource"]["issue"][0]["diagnostics"]
    assert "colour" in diagnostics and "status" in diagnostics and "_summary" in diagnostics
    explicit = httpx.get(
        f"{fhir}/CoverageEligibilityResponse",
        params=params,
        headers={"Prefer": "handling=lenient"},
    )
    assert _ids(explicit.json()) == _ids(plain)


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"colour": "blue"}, "'colour' is not supported"),
        ({"status": ""}, "has no value"),
        ({"_sort": "-created"}, "'_sort' is not supported"),
    ],
)
def test_strict_handling_refuses_what_lenient_ignores(fhir, params, says) -> None:  # noqa: F811
    issues = outcome(
        httpx.get(f"{fhir}/CoverageEligibilityResponse", params=params, headers=STRICT), 400
    )
    assert says in issues[0]["diagnostics"]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"patient:missing": "true"}, "modifier :missing"),
        ({"status:not": "active"}, "modifier :not"),
        ({"_include": "CoverageEligibilityResponse:patient"}, "'_include' is not supported"),
    ],
)
def test_what_would_change_the_result_unseen_is_refused_even_lenient(
    fhir,  # noqa: F811
    params: dict[str, str],
    says: str,
) -> None:
    issues = outcome(httpx.get(f"{fhir}/CoverageEligibilityResponse", params=params), 400)
    assert says in issues[0]["diagnostics"]


def test_a_reference_may_be_our_absolute_url_or_typed(fhir, answer) -> None:  # noqa: F811
    patient = answer["patient"]["reference"]
    base = httpx.get(f"{fhir}/metadata").json()["implementation"]["url"]
    relative = _ids(httpx.get(f"{fhir}/Coverage", params={"patient": patient}).json())
    assert relative
    for value in (f"{base}/{patient}", f"{base}/{patient}/_history/1", patient.split("/")[1]):
        found = httpx.get(f"{fhir}/Coverage", params={"patient": value}).json()
        assert _ids(found) == relative, value
    typed = httpx.get(f"{fhir}/Coverage", params={"beneficiary:Patient": patient}).json()
    assert _ids(typed) == relative


def test_code_elements_have_their_implicit_system(fhir, answer) -> None:  # noqa: F811
    patient = answer["patient"]["reference"]
    search = f"{fhir}/CoverageEligibilityResponse"
    plain = _ids(httpx.get(search, params={"patient": patient, "status": "active"}).json())
    assert answer["id"] in plain
    systems = {
        "status": "http://hl7.org/fhir/fm-status|active",
        "outcome": f"http://hl7.org/fhir/remittance-outcome|{answer['outcome']}",
    }
    for name, value in systems.items():
        found = httpx.get(search, params={"patient": patient, name: value}).json()
        assert answer["id"] in _ids(found), value
    other = httpx.get(search, params={"patient": patient, "status": "urn:other|active"}).json()
    assert _ids(other) == set()


def test_every_date_prefix_at_every_precision(fhir, answer) -> None:  # noqa: F811
    patient = answer["patient"]["reference"]
    created = datetime.fromisoformat(answer["created"].replace("Z", "+00:00")).astimezone(UTC)
    assert created.microsecond, "the answer's instant carries microseconds"
    exact = created.isoformat(timespec="microseconds").replace("+00:00", "Z")
    second = created.replace(microsecond=0).isoformat().replace("+00:00", "Z")
    later = (created + timedelta(microseconds=1)).isoformat(timespec="microseconds")
    day = created.date().isoformat()
    expectations = {
        f"eq{exact}": True,
        f"{exact}": True,
        f"eq{second}": True,  # the whole second holds the instant
        f"ne{exact}": False,
        f"ne{later}": True,
        f"gt{exact}": False,
        f"sa{exact}": False,
        f"lt{later}": True,
        f"eb{later}": True,
        f"eb{exact}": False,
        f"ge{day}": True,
        f"le{day}": True,
        f"gt{day}": False,  # gt a day starts after the whole day
        f"ne{day}": False,
    }
    search = f"{fhir}/CoverageEligibilityResponse"
    for value, expected in expectations.items():
        found = httpx.get(search, params={"patient": patient, "created": value})
        assert found.status_code == 200, (value, found.text)
        assert (answer["id"] in _ids(found.json())) is expected, value
    issues = outcome(httpx.get(search, params={"created": f"ap{day}"}), 400)
    assert "ap" in issues[0]["diagnostics"]


def test_head_answers_the_headers_of_a_get(fhir, answer) -> None:  # noqa: F811
    for url in (
        f"{fhir}/{answer['patient']['reference']}",
        f"{fhir}/Coverage?patient={answer['patient']['reference']}",
        f"{fhir}/metadata",
    ):
        got, head = httpx.get(url), httpx.head(url)
        assert head.status_code == 200 and head.content == b"", url
        assert head.headers["content-type"] == got.headers["content-type"]
        assert head.headers.get("etag") == got.headers.get("etag")


def test_a_search_by_post_is_the_search_by_get(fhir, answer) -> None:  # noqa: F811
    patient = answer["patient"]["reference"]
    by_get = httpx.get(f"{fhir}/Coverage", params={"patient": patient, "status": "active"})
    by_post = httpx.post(
        f"{fhir}/Coverage/_search",
        params={"status": "active"},
        data={"patient": patient},
    )
    assert by_post.status_code == 200, by_post.text
    assert _ids(by_post.json()) == _ids(by_get.json()) != set()
    # Its self link is a GET a client can follow.
    assert dict(_self_params(by_post.json()))["patient"] == patient
    refused = httpx.post(f"{fhir}/Coverage/_search", json={"patient": patient})
    assert outcome(refused, 415)[0]["expression"] == ["Content-Type"]


def test_last_updated_takes_every_prefix(fhir, answer) -> None:  # noqa: F811
    url = f"{fhir}/CoverageEligibilityResponse/{answer['id']}"
    stamp = httpx.get(url).json()["meta"]["lastUpdated"]
    written = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    exact = stamp.replace("Z", "")
    before = (written - timedelta(seconds=1)).isoformat().replace("+00:00", "")
    after = (written + timedelta(seconds=1)).isoformat().replace("+00:00", "")
    day = written.date().isoformat()
    expectations = {
        f"eq{exact}": True,
        f"ne{exact}": False,
        f"ge{before}": True,
        f"gt{after}": False,
        f"lt{after}": True,
        f"le{before}": False,
        f"sa{before}": True,
        f"eb{after}": True,
        day: True,
        f"gt{day}": False,
        f"eq{day[:7]}": True,
        f"lt{day[:4]}": False,
    }
    search = f"{fhir}/CoverageEligibilityResponse"
    for value, expected in expectations.items():
        found = httpx.get(search, params={"_id": answer["id"], "_lastUpdated": value})
        assert found.status_code == 200, (value, found.text)
        assert (answer["id"] in _ids(found.json())) is expected, value


def test_the_structure_that_asked_is_the_requestor_and_searchable(fhir, answer) -> None:  # noqa: F811
    """IHE FAIS's Claims Manager searches responses by ``requestor``: the structure the
    lookup was made for (its FINESS), an Organization stored with the answer."""
    requestor = answer["requestor"]["reference"]
    assert requestor.startswith("Organization/structure-")
    structure = httpx.get(f"{fhir}/{requestor}").json()
    (identifier,) = structure["identifier"]
    assert identifier["system"] == "https://finess.esante.gouv.fr"
    assert len(identifier["value"]) == 9 and identifier["value"].isdigit()
    found = httpx.get(f"{fhir}/CoverageEligibilityResponse", params={"requestor": requestor})
    assert answer["id"] in _ids(found.json())
    by_finess = httpx.get(
        f"{fhir}/Organization",
        params={"identifier": f"{identifier['system']}|{identifier['value']}"},
    ).json()
    assert _ids(by_finess) == {structure["id"]}
    other = httpx.get(
        f"{fhir}/CoverageEligibilityResponse", params={"requestor": "Organization/structure-0"}
    ).json()
    assert answer["id"] not in _ids(other)
