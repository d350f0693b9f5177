"""Bad input at the FHIR API answered 4xx with an OperationOutcome, never 500 (issue 11, items
2, 3, 5, 6, 7): overflowing numbers and dates in every search parameter the
CapabilityStatement advertises, `$submit` bodies with dates no lookup can be made with, the
trailing-slash redirect, charsets, Bundle types. The module's server fails the suite if its log
holds a traceback (conftest)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.test_fhir_api import FHIR_JSON, cer_for, first
from tests.integration.http.conftest import Served, exchange, status_and_outcome

# Values that broke or could break a parser, a date library or a database integer.
NUMBERS = ["99999999999999999999999999", "-1", "1e3", "+1", "1_0", "٣", "9" * 5000]
DATES = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "2026-13-45",
    "2026-02-30",
    "2026-02-30T10:00:00Z",
    "2026-11-24T25:00",
    "99999-01-01",
    "ge0000",
    "xx2026",
    "ap2026",  # approximately: not supported, said so
]
ANY = ["a" * 4000, "x\x00y", "%", "|", ",,,", "Patient/", "é", "\U0001f600"]


def outcome_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body


@pytest.fixture(scope="module")
def advertised(served: Served) -> list[tuple[str, str, str]]:
    statement = httpx.get(f"{served.base}/metadata").json()
    return [
        (resource["type"], param["name"], param["type"])
        for resource in statement["rest"][0]["resource"]
        for param in resource["searchParam"]
    ]


def test_every_advertised_search_parameter_refuses_bad_values_without_failing(
    served: Served, advertised: list[tuple[str, str, str]]
) -> None:
    assert len(advertised) > 20  # the CapabilityStatement was read
    with httpx.Client(base_url=served.base) as client:
        for resource_type, name, kind in advertised:
            values = DATES if kind == "date" else NUMBERS + ANY
            for value in values:
                response = client.get(f"/{resource_type}", params={name: value})
                where = f"{resource_type}?{name}={value[:40]!r}"
                assert response.status_code in (200, 400), where
                if kind == "date":  # none of DATES is a date a search can use
                    assert response.status_code == 400, where
                    outcome_of(response)


@pytest.mark.parametrize("name", ["_count", "_offset"])
@pytest.mark.parametrize("value", NUMBERS)
def test_paging_numbers_out_of_range_are_400(served: Served, name: str, value: str) -> None:
    response = httpx.get(f"{served.base}/Patient", params={name: value})
    assert response.status_code == 400
    assert outcome_of(response)["issue"][0]["expression"] == [name]


def test_an_offset_past_the_results_is_an_empty_page(served: Served) -> None:
    response = httpx.get(f"{served.base}/Patient", params={"_offset": "10000"})
    assert response.status_code == 200
    assert response.json()["entry"] == []


def test_a_deep_offset_is_too_costly_not_a_crash(served: Served) -> None:
    # Deep pages are reached by the next links' positions (issue 19); a large _offset is refused.
    response = httpx.get(f"{served.base}/Patient", params={"_offset": "1000000000"})
    assert response.status_code == 400
    issue = outcome_of(response)["issue"][0]
    assert issue["code"] == "too-costly" and issue["expression"] == ["_offset"]


def test_count_0_gives_the_total_and_no_page_to_move_to(served: Served) -> None:
    for _ in range(2):  # two stored CoverageEligibilityResponses at least
        assert _submit(served, cer_for(first("open"))).status_code == 200
    bundle = httpx.get(f"{served.base}/CoverageEligibilityResponse", params={"_count": "0"}).json()
    assert bundle["total"] >= 2
    assert bundle["entry"] == []
    assert [link["relation"] for link in bundle["link"]] == ["self"]


def _submit(served: Served, body: Any, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{served.base}/CoverageEligibilityRequest/$submit",
        json=body,
        headers={"Content-Type": FHIR_JSON, **headers},
        timeout=30,
    )


@pytest.mark.parametrize("created", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"])
@pytest.mark.parametrize("prefer", ["", "respond-async"])
def test_a_created_with_no_utc_instant_is_400_before_any_lookup(
    served: Served, created: str, prefer: str
) -> None:
    body = cer_for(first("open"))
    body["created"] = created
    response = _submit(served, body, Prefer=prefer)
    assert response.status_code == 400
    assert outcome_of(response)["issue"][0]["expression"] == ["CoverageEligibilityRequest.created"]


@pytest.mark.parametrize(
    ("element", "value", "status"),
    [
        ("birthDate", "2099-01-01", 400),
        ("birthDate", "1962-02-30", 400),
        # A real day, but outside what CDR serves: a business rule, 422.
        ("servicedDate", "0001-01-01", 422),
    ],
)
def test_dates_no_lookup_can_be_made_with_are_refused(
    served: Served, element: str, value: str, status: int
) -> None:
    body = cer_for(first("open"))
    if element == "birthDate":
        body["contained"][0]["birthDate"] = value
    else:
        body[element] = value
    response = _submit(served, body)
    assert response.status_code == status
    (issue,) = outcome_of(response)["issue"]
    assert issue["expression"][0].endswith(element)


def test_the_trailing_slash_is_not_redirected_anywhere(served: Served) -> None:
    request = (
        b"POST /fhir/CoverageEligibilityRequest/$submit/ HTTP/1.1\r\nHost: evil.example\r\n"
        b"Content-Type: application/fhir+json\r\nContent-Length: 2\r\n"
        b"Connection: close\r\n\r\n{}"
    )
    response = exchange(served.port, request)
    status, _ = status_and_outcome(response)
    assert status == 404
    assert b"evil.example" not in response
    assert httpx.get(f"{served.base}/metadata/").status_code == 404


def test_a_charset_other_than_utf_8_is_415(served: Served) -> None:
    body = cer_for(first("open"))
    response = _submit(served, body, **{"Content-Type": f"{FHIR_JSON}; charset=iso-8859-1"})
    assert response.status_code == 415
    assert "charset" in outcome_of(response)["issue"][0]["diagnostics"]
    for fine in ("utf-8", '"UTF-8"'):
        response = _submit(served, body, **{"Content-Type": f"{FHIR_JSON}; charset={fine}"})
        assert response.status_code == 200


def test_a_transaction_bundle_is_refused_with_a_reason(served: Served) -> None:
    cer = cer_for(first("open"))
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:6f1c1d1e-0000-4000-8000-000000000001",
                "resource": cer,
                "request": {"method": "POST", "url": "CoverageEligibilityRequest"},
            }
        ],
    }
    response = _submit(served, bundle)
    assert response.status_code == 400
    (issue,) = outcome_of(response)["issue"]
    assert issue["expression"] == ["Bundle.type"]
    assert "transaction" in issue["diagnostics"]


@pytest.mark.parametrize(("value", "shown"), [(1, "1"), (None, "None"), ([], "[]")])
def test_a_resource_type_that_is_no_string_is_reported_as_sent(
    served: Served, value: Any, shown: str
) -> None:
    response = _submit(served, {"resourceType": value})
    assert response.status_code == 400
    assert f"got resourceType {shown}" in outcome_of(response)["issue"][0]["diagnostics"]


@pytest.mark.parametrize("where", ["family", "identifier", "request-identifier", "display"])
def test_nul_characters_in_a_submitted_request_are_no_failure(served: Served, where: str) -> None:
    body = cer_for(first("open"))
    patient = body["contained"][0]
    if where == "family":
        patient["name"][0]["family"] = "DU\x00PONT"
    elif where == "identifier":
        patient["identifier"].append({"system": "urn:oid:1.2.3\x00", "value": "x\x00y"})
    elif where == "request-identifier":
        body["identifier"] = [{"system": "https://dpi.example/cer", "value": "a\x00b"}]
    else:
        body["insurer"] = {"display": "C\x00DR"}
    response = _submit(served, body)
    assert response.status_code in (200, 400), response.text


@pytest.mark.parametrize("resource_id", ["a%00b", "a" * 65, "%E2%82%AC", "a%20b"])
def test_a_read_of_no_fhir_id_is_404(
    served: Served, advertised: list[tuple[str, str, str]], resource_id: str
) -> None:
    for resource_type in sorted({t for t, _, _ in advertised}):
        response = httpx.get(f"{served.base}/{resource_type}/{resource_id}")
        assert response.status_code == 404, (resource_type, response.text)
        outcome_of(response)


def _hostile_bodies() -> list[Any]:
    def with_(change: Any) -> Any:
        body = cer_for(first("open"))
        change(body)
        return body

    rang = "https://cdr-gateway.example.org/fhir/StructureDefinition/cdr-rang"
    return [
        with_(
            lambda b: b["contained"][0].update(
                extension=[{"url": rang, "valuePositiveInt": 10**30}]
            )
        ),
        with_(
            lambda b: b["contained"][0].update(extension=[{"url": rang, "valuePositiveInt": 1e308}])
        ),
        with_(lambda b: b["contained"][0].update(birthDate=19620417)),
        with_(lambda b: b.update(created=20261124)),
        with_(lambda b: b.update(servicedDate="+10000-01-01")),
        with_(
            lambda b: (
                b.update(servicedPeriod={"start": "0001-01-01T00:00:00+14:00"})
                or b.pop("servicedDate")
            )
        ),
        with_(lambda b: b["contained"][0]["identifier"][0].update(value="1" * 100_000)),
        with_(lambda b: b.update(purpose=["validation"] * 10_000)),
        with_(lambda b: b.update(contained=[b["contained"][0]] * 500)),
        {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {}}] * 1000},
        {"resourceType": "Parameters", "parameter": [{"name": "resource", "resource": 1}]},
    ]


@pytest.mark.parametrize("index", range(11))
def test_hostile_submit_bodies_are_answered_without_failing(served: Served, index: int) -> None:
    response = _submit(served, _hostile_bodies()[index])
    assert response.status_code in (200, 400, 413, 422), response.text
    if response.status_code != 200:
        outcome_of(response)
