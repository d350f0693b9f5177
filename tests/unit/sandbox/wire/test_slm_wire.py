"""The slm wire end to end without sockets: sandbox routes under ASGI, driven by the adapter."""

from __future__ import annotations

import json
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import date

import httpx
import pytest
from hypothesis import given
from starlette.routing import Route

from regimes.httpx_port import HttpxPort
from regimes.slm import SlmGateway, codec
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected
from rights.identifiers import parse_nir
from rights.model import AccidentDeclaration, Period, SncfContract
from sandbox.wire import slm as wire
from tests.unit.regimes.slm.test_codec import FULL, QUERY
from tests.unit.sandbox.wire.wire_fakes import (
    BASE_URL,
    FakeDirectory,
    regime_rights,
    serving,
)

CATALOGUE = default_catalogue()
SLM_CODES = [r.code for r in CATALOGUE if r.family == "slm"]
DROITS = "/regimes/mgen/slm/v2/beneficiaires/212036748204521/droits"


def sandbox(directory: FakeDirectory) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return serving(wire.routes(list(CATALOGUE), directory))


async def test_the_adapter_gets_back_exactly_what_the_directory_holds():
    directory = FakeDirectory(("mgen", FULL))
    async with sandbox(directory) as client:
        rights = await SlmGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get("mgen"), QUERY)
    assert rights == FULL
    assert directory.calls == [("mgen", "212036748204521", "2012-03-08", 1)]


@pytest.mark.parametrize("code", SLM_CODES)
async def test_every_slm_regime_is_served_under_its_own_code(code):
    held = replace(FULL, organisation=replace(FULL.organisation, cdr_regime=code))
    directory = FakeDirectory((code, held))
    async with sandbox(directory) as client:
        rights = await SlmGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get(code), QUERY)
    assert rights == held
    assert directory.calls[0][0] == code


async def test_the_ouvrant_droit_number_finds_the_rights_too():
    directory = FakeDirectory(("mgen", FULL))
    query = replace(QUERY, nir=parse_nir("2840767482017"), birth_date=None)
    async with sandbox(directory) as client:
        rights = await SlmGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get("mgen"), query)
    assert rights == FULL
    assert directory.calls == [("mgen", "284076748201777", None, 1)]


async def test_unknown_person_is_none():
    directory = FakeDirectory(("mgen", FULL))
    query = replace(QUERY, nir=parse_nir("1610299123456"))
    async with sandbox(directory) as client:
        assert (
            await SlmGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get("mgen"), query)
            is None
        )
        raw = await client.get(
            "/regimes/mgen/slm/v2/beneficiaires/161029912345668/droits",
            params={"dateSoins": "2026-03-02"},
        )
    assert raw.status_code == 404
    assert raw.headers["content-type"].startswith("application/problem+json")
    assert raw.json()["type"] == wire.PROBLEM_UNKNOWN_PERSON


async def test_a_person_held_by_another_regime_is_unknown_here():
    directory = FakeDirectory(("mgp", FULL))
    async with sandbox(directory) as client:
        assert (
            await SlmGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get("mgen"), QUERY)
            is None
        )


async def test_atmp_and_the_sncf_contract_are_never_emitted():
    held = replace(
        FULL,
        default_at_organisation="916710506",
        accidents=(AccidentDeclaration("123456782", "916710506", Period(date(2024, 5, 2))),),
        sncf_contract=SncfContract(("18", "22"), Period(date(2004, 6, 12))),
    )
    async with sandbox(FakeDirectory(("mgen", held))) as client:
        rights = await SlmGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get("mgen"), QUERY)
        raw = await client.get(DROITS, params={"dateSoins": "2026-03-02"})
    assert rights == FULL
    assert "accident" not in raw.text.lower() and "atmp" not in raw.text.lower()


def test_routes_serve_only_the_slm_regimes():
    served = wire.routes(list(CATALOGUE), FakeDirectory())
    paths = {route.path for route in served if isinstance(route, Route)}
    assert len(paths) == len(served)
    assert paths == {f"/regimes/{c}/slm/v2/beneficiaires/{{nir}}/droits" for c in SLM_CODES}


async def test_a_regime_without_slm_routes_is_a_rejection_not_an_unknown_person():
    async with sandbox(FakeDirectory(("cnmss", FULL))) as client:
        with pytest.raises(RegimeRejected, match="wrong URL") as caught:
            await SlmGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get("cnmss"), QUERY)
    assert caught.value.regime == "cnmss"


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        (DROITS, {"rang": "1"}, "dateSoins"),
        (DROITS, {"dateSoins": "02/03/2026"}, "dateSoins"),
        (DROITS, {"dateSoins": "2026-02-30"}, "dateSoins"),
        (DROITS, {"dateSoins": "2026-03-02", "rang": "0"}, "rang"),
        (DROITS, {"dateSoins": "2026-03-02", "rang": "un"}, "rang"),
        (DROITS, {"dateSoins": "2026-03-02", "dateNaissance": "08/03/2012"}, "dateNaissance"),
        (DROITS.replace("204521", "204599"), {"dateSoins": "2026-03-02"}, "nir"),
        (DROITS.replace("212036748204521", "2120367482"), {"dateSoins": "2026-03-02"}, "nir"),
    ],
    ids=[
        "no-date-of-care",
        "french-date",
        "impossible-date",
        "rang-zero",
        "rang-word",
        "birth-date-format",
        "nir-key",
        "nir-length",
    ],
)
async def test_a_malformed_request_is_a_400_problem_naming_the_parameter(path, params, parameter):
    directory = FakeDirectory(("mgen", FULL))
    async with sandbox(directory) as client:
        response = await client.get(path, params=params)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == wire.PROBLEM_BAD_REQUEST
    assert problem["status"] == 400
    assert problem["parametresInvalides"][0]["nom"] == parameter
    assert directory.calls == []


async def test_the_adapter_reports_a_400_as_a_rejection():
    async with sandbox(FakeDirectory()) as client:
        gateway = SlmGateway(HttpxPort(client, BASE_URL))
        with pytest.raises(RegimeRejected, match=r"HTTP 400: Requête invalide.*dateNaissance"):
            await gateway.fetch(CATALOGUE.get("mgen"), replace(QUERY, birth_date="8 mars 2012"))


async def test_a_lunar_birth_date_is_passed_through():
    directory = FakeDirectory()
    async with sandbox(directory) as client:
        response = await client.get(
            DROITS, params={"dateSoins": "2026-03-02", "dateNaissance": "2012-00-00"}
        )
    assert response.status_code == 404
    assert directory.calls == [("mgen", "212036748204521", "2012-00-00", None)]


async def test_only_get_is_served():
    async with sandbox(FakeDirectory(("mgen", FULL))) as client:
        response = await client.post(DROITS, json={"dateSoins": "2026-03-02"})
    assert response.status_code == 405


@given(rights=regime_rights("mgp"))
def test_any_rights_survive_rendering_and_parsing(rights):
    payload = wire.rights_to_payload(rights, CATALOGUE.get("mgp"), date(2026, 3, 2))
    assert codec.payload_to_rights(json.loads(json.dumps(payload)), "mgp") == rights
