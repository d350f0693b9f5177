from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from rights.catalogue import Regime, default_catalogue
from rights.errors import ConfigError
from sandbox.app import create_app
from sandbox.directory import Directory
from sandbox.eligibility import REQUESTER_FINESS_HEADER
from sandbox.faults import FaultBook
from sandbox.population import Population, build_population

CATALOGUE = default_catalogue()
EHPAD = "130100050"  # sample structure of category 500 (not eligible)


def fake_wire(regimes: Sequence[Regime], directory: Directory) -> list[BaseRoute]:
    """A stand-in wire module: one lookup route per regime, answering from the directory."""

    def lookup(code: str):
        async def endpoint(request: Request) -> JSONResponse:
            params = request.query_params
            rang = params.get("rang")
            found = directory.find(
                code, params["nir"], params.get("birth_date"), int(rang) if rang else None
            )
            if found is None:
                return JSONResponse({"found": False}, status_code=404)
            return JSONResponse({"found": True, "family_name": found.beneficiary.family_name})

        return endpoint

    return [Route(f"/regimes/{r.code}/lookup", lookup(r.code)) for r in regimes]


@pytest.fixture(scope="module")
def population() -> Population:
    return build_population(CATALOGUE, seed=11, today=date(2026, 11, 24), per_regime=3)


@pytest.fixture
def book() -> FaultBook:
    return FaultBook(CATALOGUE.codes, seed=1)


@pytest.fixture
def client(population, book):
    families = {family: fake_wire for family in sorted(CATALOGUE.families)}
    app = create_app(CATALOGUE, population, book, families=families)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox")


async def test_health_counts_the_regimes(client):
    async with client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "regimes": 17}


async def test_regime_health_is_up_then_down_then_unknown(client, book):
    async with client:
        up = await client.get("/regimes/mgen/health")
        book.update("mgen", {"down": True})
        down = await client.get("/regimes/mgen/health")
        unknown = await client.get("/regimes/cpam/health")
    assert up.status_code == 200 and up.json()["regime"] == "mgen"
    assert down.status_code == 503
    assert unknown.status_code == 404 and "cnam" in unknown.json()["valid"]


async def test_wire_routes_are_mounted_for_every_regime(client, population):
    twin = population.with_tag("twins")[1]
    stranger = population.with_tag("unknown")[0]
    async with client:
        responses = [
            await client.get(f"/regimes/{code}/lookup", params={"nir": stranger.nir})
            for code in CATALOGUE.codes
        ]
        found = await client.get(
            "/regimes/cnam/lookup",
            params={"nir": twin.nir, "birth_date": twin.birth_date, "rang": str(twin.rang)},
        )
    assert [r.status_code for r in responses] == [404] * 17  # the unknown person
    assert found.status_code == 200 and found.json()["family_name"] == twin.family_name


async def test_wire_routes_go_through_faults_and_eligibility(client, book, population):
    member = population.with_tag("open")[0]
    params = {"nir": member.nir}
    async with client:
        refused = await client.get(
            f"/regimes/{member.regime}/lookup",
            params=params,
            headers={REQUESTER_FINESS_HEADER: EHPAD},
        )
        book.update(member.regime, {"error_rate": 1})
        failed = await client.get(f"/regimes/{member.regime}/lookup", params=params)
    assert refused.status_code == 403 and refused.json()["finess"] == EHPAD
    assert failed.status_code == 500


async def test_admin_faults_lists_updates_and_resets(client):
    async with client:
        listed = (await client.get("/admin/faults")).json()
        one = await client.put("/admin/faults/msa", json={"latency_ms": 40, "down": True})
        after = (await client.get("/admin/faults")).json()
        every = await client.put("/admin/faults/*", json={"error_rate": 0.1})
        reset = await client.delete("/admin/faults")
    assert set(listed) == set(CATALOGUE.codes) and listed["cnam"]["hang_s"] == 30
    assert one.status_code == 200
    assert one.json() == {
        "msa": {
            "latency_ms": 40,
            "error_rate": 0,
            "timeout_rate": 0,
            "hang_s": 30,
            "down": True,
        }
    }
    assert after["msa"]["down"] is True and after["cnam"]["down"] is False
    assert every.status_code == 200 and len(every.json()) == 17
    assert every.json()["msa"]["down"] is True and every.json()["senat"]["error_rate"] == 0.1
    assert reset.status_code == 200 and reset.json()["msa"]["down"] is False


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"error_rate": 3}', "error_rate"),
        (b'{"speed": 3}', "speed"),
        (b'{"down": "no"}', "down"),
        (b"[1, 2]", "object"),
        (b"not json", "JSON"),
    ],
    ids=["range", "unknown-field", "type", "not-object", "not-json"],
)
async def test_admin_faults_refuses_bad_bodies_with_400(client, body, needle):
    async with client:
        response = await client.put(
            "/admin/faults/cnam", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == 400 and needle in response.json()["error"]


async def test_admin_faults_unknown_regime_is_404_listing_the_valid_ones(client):
    async with client:
        response = await client.put("/admin/faults/cpam", json={"down": True})
    assert response.status_code == 404
    assert response.json()["valid"] == list(CATALOGUE.codes)


async def test_admin_population_lists_and_filters(client, population):
    async with client:
        everyone = await client.get("/admin/population")
        twins = await client.get("/admin/population", params={"scenario": "twins"})
        nonsense = await client.get("/admin/population", params={"scenario": "vip"})
    assert everyone.status_code == 200 and len(everyone.json()) == len(population.members)
    assert [m["rang"] for m in twins.json()] == [1, 2]
    assert all(m["test_data"] is True for m in everyone.json())
    assert nonsense.status_code == 400 and "twins" in nonsense.json()["valid"]


def test_a_family_without_regimes_is_a_config_error(population, book):
    with pytest.raises(ConfigError):
        create_app(CATALOGUE, population, book, families={"hl7": fake_wire})


def test_a_fault_book_missing_regimes_is_a_config_error(population):
    with pytest.raises(ConfigError):
        create_app(CATALOGUE, population, FaultBook(["cnam"]), families={})
