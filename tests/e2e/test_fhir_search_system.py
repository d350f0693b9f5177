"""Whole-system search over HTTP (R4 search-system, IHE FAIS Claims Manager): the resources of
several types in one searchset, newest first, paged by next links that neither repeat nor miss
a resource across types."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from cdr.bootstrap import build_gateway, build_http_app, publish_conformance
from fhir_server.auth.access import interaction_of
from fhir_server.search_system import SYSTEM_TYPES
from sandbox.server import RunningServer, start_in_thread
from tests.conftest import gateway_settings
from tests.e2e.test_fhir_api import cer_for, first, post
from tests.unit.mapping.fhir_schema import assert_valid

BASE_URL = "http://gateway.test/fhir"


@pytest.fixture(scope="module")
def fhir(sandbox: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    settings = gateway_settings(
        sandbox.url, tmp_path_factory.mktemp("system"), fhir_base_url=BASE_URL
    )
    gateway = build_gateway(settings)
    publish_conformance(gateway)
    server = start_in_thread(build_http_app(gateway, tune_gc=False))
    base = f"{server.url}/fhir"
    for tag in ("atmp", "medecin-traitant", "open", "c2s"):
        assert post(base, cer_for(first(tag))).status_code == 200
    yield base
    server.stop()


def _matches(bundle: dict) -> list[dict]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


def _next(fhir: str, bundle: dict, path: str = "") -> str | None:
    """The next link, on the test server: the links name the configured base URL, and the
    test server listens on another port."""
    url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)
    return None if url is None else f"{fhir}{path}?{urlsplit(url).query}"


def _every(fhir: str, kind: str) -> set[str]:
    found: set[str] = set()
    url: str | None = f"{fhir}/{kind}?_count=100"
    while url:
        bundle = httpx.get(url).json()
        found |= {f"{kind}/{r['id']}" for r in _matches(bundle)}
        url = _next(fhir, bundle, f"/{kind}")
    return found


def test_the_types_asked_come_newest_first_each_with_its_own_full_url(fhir: str) -> None:
    response = httpx.get(fhir, params={"_type": "Patient,Coverage", "_count": 100})
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert_valid(bundle)
    resources = _matches(bundle)
    assert {r["resourceType"] for r in resources} == {"Patient", "Coverage"}
    stamps = [r["meta"]["lastUpdated"] for r in resources]
    assert stamps == sorted(stamps, reverse=True)
    base = BASE_URL  # the configured base, which the links and full URLs name
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == f"{base}/{resource['resourceType']}/{resource['id']}"
    assert bundle["link"][0]["url"].startswith(f"{base}?")


def test_next_links_walk_every_type_once(fhir: str) -> None:
    expected = set().union(*(_every(fhir, kind) for kind in SYSTEM_TYPES))
    seen: list[str] = []
    url: str | None = f"{fhir}?_count=3"
    pages = 0
    while url:
        bundle = httpx.get(url).json()
        page = [f"{r['resourceType']}/{r['id']}" for r in _matches(bundle)]
        assert 0 < len(page) <= 3
        seen += page
        url = _next(fhir, bundle)
        pages += 1
    assert len(seen) == len(set(seen)), "a resource came twice"
    assert set(seen) == expected
    assert pages > 3


def test_shared_parameters_filter_and_post_searches_alike(fhir: str) -> None:
    [patient] = _matches(httpx.get(f"{fhir}/Patient", params={"_count": 1}).json())
    by_id = _matches(httpx.get(fhir, params={"_id": patient["id"]}).json())
    assert [r["id"] for r in by_id] == [patient["id"]]
    day = patient["meta"]["lastUpdated"][:10]
    later = _matches(httpx.get(fhir, params={"_lastUpdated": f"gt{day}"}).json())
    assert later == []
    posted = httpx.post(
        f"{fhir}/_search",
        data={"_type": "Patient", "_id": patient["id"]},
    )
    assert posted.status_code == 200
    assert [r["id"] for r in _matches(posted.json())] == [patient["id"]]
    total = httpx.get(fhir, params={"_type": "Patient", "_total": "accurate"}).json()
    assert total["total"] == len(_every(fhir, "Patient"))


@pytest.mark.parametrize(
    ("params", "headers", "location"),
    [
        ({"_type": "AuditEvent"}, {}, "_type"),
        ({"_type": "Nonsense"}, {}, "_type"),
        ({"_offset": "5"}, {}, "_offset"),
        ({"patient": "Patient/x"}, {"Prefer": "handling=strict"}, "patient"),
        ({"_page": "bm90LWEtcG9zaXRpb24"}, {}, "_page"),
    ],
)
def test_what_it_cannot_do_is_a_400_naming_the_parameter(
    fhir: str, params: dict, headers: dict, location: str
) -> None:
    response = httpx.get(fhir, params=params, headers=headers)
    assert response.status_code == 400, response.text
    [issue] = response.json()["issue"]
    assert issue["expression"] == [location] or location in issue["diagnostics"]


def test_a_type_parameter_is_ignored_with_a_warning_under_lenient_handling(fhir: str) -> None:
    bundle = httpx.get(fhir, params={"_type": "Patient", "birthdate": "1980"}).json()
    [outcome] = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert "birthdate" in outcome["issue"][0]["diagnostics"]


def test_the_capability_statement_claims_it_and_it_needs_every_types_search_scope(
    fhir: str,
) -> None:
    (rest,) = httpx.get(f"{fhir}/metadata").json()["rest"]
    assert rest["interaction"] == [{"code": "search-system"}]
    assert [p["name"] for p in rest["searchParam"]] == ["_id", "_lastUpdated"]
    for method, path in (("GET", "/fhir"), ("GET", "/fhir/"), ("POST", "/fhir/_search")):
        interaction = interaction_of(method, path)
        assert interaction is not None
        assert (interaction.name, interaction.resource_type, interaction.permission) == (
            "search-system",
            "*",
            "s",
        )
