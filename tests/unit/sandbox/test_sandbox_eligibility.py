from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from rights.errors import ConfigError
from rights.identifiers import parse_finess
from sandbox.eligibility import (
    REQUESTER_FINESS_HEADER,
    REQUESTER_WARNING_HEADER,
    EligibilityMiddleware,
    StructureTable,
    check_requester,
    default_structures,
)

# The seed list of eligible categories (CDR service offer), centres de santé included.
SEED_CATEGORIES = {
    "101", "106", "109", "108", "119", "135", "144", "163", "173", "179", "431", "114", "115",
    "122", "127", "128", "129", "131", "141", "146", "156", "161", "292", "355", "430", "362",
    "365", "697", "698", "124", "125", "130", "289", "297", "439",
}  # fmt: skip


def structure_of(category: str) -> str:
    table = default_structures()
    return next(f for f, s in table.structures.items() if s.category.code == category)


def test_the_eligible_categories_are_the_seed_list():
    assert set(default_structures().eligible_codes) == SEED_CATEGORIES


def test_sample_structures_have_valid_finess_and_cover_the_cases():
    table = default_structures()
    for finess in table.structures:
        assert parse_finess(finess).value == finess
    departments = {f[:2] for f in table.structures}
    assert {"2A", "2B"} <= departments
    categories = {s.category.code for s in table.structures.values()}
    assert {"500", "130", "124"} <= categories


def test_the_table_iterates_over_its_structures():
    table = default_structures()
    assert {s.finess for s in table} == set(table.structures)
    assert {s.finess for s in table if not s.eligible} == {structure_of("500"), structure_of("620")}


def test_the_1xx_categories_nest_under_109():
    table = default_structures()
    for code in ("108", "119", "135", "144", "163", "173", "179", "431"):
        category = table.categories.get(code)
        assert category is not None and category.parent == "109"


@pytest.mark.parametrize("finess", [None, "", "   "], ids=["absent", "empty", "blank"])
def test_a_missing_requester_is_accepted(finess):
    assert check_requester(finess) is None


def test_a_valid_finess_the_sandbox_does_not_know_is_accepted():
    assert check_requester("750712184") is None  # AP-HP (EJ), not in the sample table


@pytest.mark.parametrize(
    "finess", ["750712185", "75071218", "ABCDEFGHI", "2C0000014"], ids=["key", "length", "x", "2C"]
)
def test_an_invalid_finess_is_refused(finess):
    reason = check_requester(finess)
    assert reason is not None and "not valid" in reason


def test_a_known_structure_of_an_ineligible_category_is_refused():
    reason = check_requester(structure_of("500"))
    assert reason is not None and "500" in reason and "not eligible" in reason


def test_eligible_structures_are_accepted_and_a_closed_category_warns():
    table = default_structures()
    assert check_requester(structure_of("355")) is None
    assert check_requester("2A0100046") is None
    verdict = table.assess(structure_of("130"))
    assert verdict.allowed and verdict.warning is not None and "130" in verdict.warning


def test_a_table_with_a_bad_sample_finess_is_refused():
    text = """
version = "t"
[[category]]
code = "355"
label = "CH"
eligible = true
group = "es"
[[structure]]
finess = "750100019"
name = "wrong key"
category = "355"
"""
    with pytest.raises(ConfigError):
        StructureTable.from_toml(text)
    with pytest.raises(ConfigError):
        StructureTable.from_toml("version = 1\nstructure = 3")


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def _client() -> httpx.AsyncClient:
    app = Starlette(
        routes=[Route("/regimes/{code}/rights", _ok), Route("/regimes/{code}/health", _ok)],
        middleware=[Middleware(EligibilityMiddleware)],
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


async def test_middleware_refuses_with_403_and_names_the_finess():
    ehpad = structure_of("500")
    async with _client() as client:
        refused = await client.get("/regimes/cnam/rights", headers={REQUESTER_FINESS_HEADER: ehpad})
        malformed = await client.get("/regimes/cnam/rights", headers={REQUESTER_FINESS_HEADER: "1"})
    assert refused.status_code == 403
    assert refused.json()["finess"] == ehpad and "500" in refused.json()["error"]
    assert malformed.status_code == 403 and malformed.json()["finess"] == "1"


async def test_middleware_lets_eligible_and_anonymous_requests_through():
    async with _client() as client:
        anonymous = await client.get("/regimes/cnam/rights")
        hospital = await client.get(
            "/regimes/cnam/rights", headers={REQUESTER_FINESS_HEADER: structure_of("101")}
        )
        health = await client.get(
            "/regimes/cnam/health", headers={REQUESTER_FINESS_HEADER: structure_of("500")}
        )
    assert anonymous.status_code == hospital.status_code == health.status_code == 200
    assert REQUESTER_WARNING_HEADER not in hospital.headers


async def test_middleware_adds_a_warning_for_a_closed_category():
    async with _client() as client:
        response = await client.get(
            "/regimes/msa/rights", headers={REQUESTER_FINESS_HEADER: structure_of("130")}
        )
    assert response.status_code == 200
    assert "130" in response.headers[REQUESTER_WARNING_HEADER]
