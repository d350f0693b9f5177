"""The special wire end to end without sockets: sandbox routes under ASGI, driven by the adapter."""

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
from regimes.special import SpecialGateway, codec
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected
from rights.identifiers import parse_nir
from rights.model import AccidentDeclaration, Period
from sandbox.wire import special as wire
from tests.unit.regimes.special.test_codec import FULL, QUERY
from tests.unit.sandbox.wire.wire_fakes import (
    BASE_URL,
    FakeDirectory,
    regime_rights,
    serving,
)

CATALOGUE = default_catalogue()
SPECIAL_CODES = [r.code for r in CATALOGUE if r.family == "special"]
BODY = {
    "nir": "278057511230274",
    "date_naissance": "1978-05-02",
    "rang": 1,
    "date_soins": "2026-03-02",
}


def sandbox(directory: FakeDirectory) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return serving(wire.routes(list(CATALOGUE), directory))


def held_by(code: str):
    rights = replace(FULL, organisation=replace(FULL.organisation, cdr_regime=code))
    return rights if code in wire.CONTRACT_REGIMES else replace(rights, sncf_contract=None)


async def test_the_adapter_gets_back_exactly_what_the_directory_holds():
    directory = FakeDirectory(("cprpf", FULL))
    async with sandbox(directory) as client:
        rights = await SpecialGateway(HttpxPort(client, BASE_URL)).fetch(
            CATALOGUE.get("cprpf"), QUERY
        )
    assert rights == FULL
    assert rights is not None and rights.sncf_contract is not None
    assert directory.calls == [("cprpf", "278057511230274", "1978-05-02", 1)]


@pytest.mark.parametrize("code", SPECIAL_CODES)
async def test_every_special_regime_is_served_under_its_own_code(code):
    directory = FakeDirectory((code, held_by(code)))
    async with sandbox(directory) as client:
        rights = await SpecialGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get(code), QUERY)
    assert rights == held_by(code)
    assert directory.calls[0][0] == code


async def test_only_the_cprp_sncf_returns_the_contrat_particulier():
    held = replace(FULL, organisation=replace(FULL.organisation, cdr_regime="ccas-ratp"))
    async with sandbox(FakeDirectory(("ccas-ratp", held))) as client:
        rights = await SpecialGateway(HttpxPort(client, BASE_URL)).fetch(
            CATALOGUE.get("ccas-ratp"), QUERY
        )
        raw = await client.post("/regimes/ccas-ratp/droits", json=BODY)
    assert rights == replace(held, sncf_contract=None)
    assert not any(key.startswith("contrat") for key in raw.json())


async def test_the_ouvrant_droit_number_finds_the_rights_too():
    directory = FakeDirectory(("cprpf", FULL))
    query = replace(QUERY, nir=parse_nir("1750575112301"), birth_date=None)
    async with sandbox(directory) as client:
        rights = await SpecialGateway(HttpxPort(client, BASE_URL)).fetch(
            CATALOGUE.get("cprpf"), query
        )
    assert rights == FULL
    assert directory.calls == [("cprpf", "175057511230178", None, 1)]


async def test_unknown_person_is_a_200_not_found_and_none():
    directory = FakeDirectory(("cprpf", FULL))
    async with sandbox(directory) as client:
        assert (
            await SpecialGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get("cnmss"), QUERY)
            is None
        )
        raw = await client.post("/regimes/cnmss/droits", json=BODY)
    assert raw.status_code == 200
    assert raw.json()["trouve"] is False


async def test_atmp_is_never_emitted():
    held = replace(
        FULL,
        default_at_organisation="041100000",
        accidents=(AccidentDeclaration("123456782", "041100000", Period(date(2024, 5, 2))),),
    )
    async with sandbox(FakeDirectory(("cprpf", held))) as client:
        rights = await SpecialGateway(HttpxPort(client, BASE_URL)).fetch(
            CATALOGUE.get("cprpf"), QUERY
        )
        raw = await client.post("/regimes/cprpf/droits", json=BODY)
    assert rights == FULL
    assert "accident" not in raw.text.lower() and "041100000" not in raw.text


def test_routes_serve_only_the_special_regimes():
    served = wire.routes(list(CATALOGUE), FakeDirectory())
    paths = {route.path for route in served if isinstance(route, Route)}
    assert len(paths) == len(served)
    assert paths == {f"/regimes/{code}/droits" for code in SPECIAL_CODES}


async def test_a_regime_without_special_routes_is_a_rejection():
    async with sandbox(FakeDirectory(("mgen", FULL))) as client:
        with pytest.raises(RegimeRejected, match="HTTP 404") as caught:
            await SpecialGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get("mgen"), QUERY)
    assert caught.value.regime == "mgen"


@pytest.mark.parametrize(
    ("content", "error", "field"),
    [
        (b"nir=278057511230274", "CORPS_INVALIDE", ""),
        (b'["278057511230274"]', "CORPS_INVALIDE", ""),
        (b"\xff\xfe{}", "CORPS_INVALIDE", ""),
        (json.dumps({**BODY, "nir": None}).encode(), "NIR_ABSENT", "nir"),
        (json.dumps({**BODY, "nir": 278057511230274}).encode(), "NIR_ABSENT", "nir"),
        (json.dumps({**BODY, "nir": "278057511230299"}).encode(), "NIR_INVALIDE", "nir"),
        (json.dumps({**BODY, "date_soins": None}).encode(), "DATE_SOINS_ABSENTE", "date_soins"),
        (
            json.dumps({**BODY, "date_soins": "02/03/2026"}).encode(),
            "DATE_SOINS_INVALIDE",
            "date_soins",
        ),
        (
            json.dumps({**BODY, "date_soins": "2026-02-29"}).encode(),
            "DATE_SOINS_INVALIDE",
            "date_soins",
        ),
        (
            json.dumps({**BODY, "date_naissance": 19780502}).encode(),
            "DATE_NAISSANCE_INVALIDE",
            "date_naissance",
        ),
        (json.dumps({**BODY, "rang": "1"}).encode(), "RANG_INVALIDE", "rang"),
        (json.dumps({**BODY, "rang": True}).encode(), "RANG_INVALIDE", "rang"),
        (json.dumps({**BODY, "rang": 0}).encode(), "RANG_INVALIDE", "rang"),
    ],
    ids=[
        "form-body",
        "list-body",
        "not-utf-8",
        "no-nir",
        "nir-number",
        "nir-key",
        "no-date-of-care",
        "french-date",
        "impossible-date",
        "birth-date-number",
        "rang-string",
        "rang-boolean",
        "rang-zero",
    ],
)
async def test_a_malformed_request_is_a_422_naming_the_field(content, error, field):
    directory = FakeDirectory(("cprpf", FULL))
    async with sandbox(directory) as client:
        response = await client.post(
            "/regimes/cprpf/droits", content=content, headers={"content-type": "application/json"}
        )
    assert response.status_code == 422
    assert response.json()["erreur"] == error
    assert response.json()["champ"] == field
    assert response.json()["message"]
    assert directory.calls == []


async def test_the_adapter_reports_a_422_as_a_rejection():
    async with sandbox(FakeDirectory()) as client:
        gateway = SpecialGateway(HttpxPort(client, BASE_URL))
        with pytest.raises(RegimeRejected, match="HTTP 422: DATE_NAISSANCE_INVALIDE"):
            await gateway.fetch(CATALOGUE.get("enim"), replace(QUERY, birth_date="2 mai 1978"))


async def test_a_lunar_birth_date_is_passed_through():
    directory = FakeDirectory()
    async with sandbox(directory) as client:
        response = await client.post(
            "/regimes/senat/droits",
            json={
                "nir": "1750575112301",
                "date_naissance": "1975-05-00",
                "date_soins": "2026-03-02",
            },
        )
    assert response.json()["trouve"] is False
    assert directory.calls == [("senat", "175057511230178", "1975-05-00", None)]


async def test_only_post_is_served():
    async with sandbox(FakeDirectory(("cprpf", FULL))) as client:
        response = await client.get("/regimes/cprpf/droits")
    assert response.status_code == 405


@given(rights=regime_rights("cprpf", sncf=True))
def test_any_cprpf_rights_survive_rendering_and_parsing(rights):
    payload = wire.rights_to_payload(rights, CATALOGUE.get("cprpf"), date(2026, 3, 2))
    assert codec.payload_to_rights(json.loads(json.dumps(payload)), "cprpf") == rights


@given(rights=regime_rights("cavimac"))
def test_any_rights_of_another_special_regime_survive_rendering_and_parsing(rights):
    payload = wire.rights_to_payload(rights, CATALOGUE.get("cavimac"), date(2026, 3, 2))
    assert codec.payload_to_rights(json.loads(json.dumps(payload)), "cavimac") == rights
