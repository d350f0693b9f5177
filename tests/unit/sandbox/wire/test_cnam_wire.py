"""The cnam wire end to end without sockets: sandbox routes under ASGI, driven by the adapter."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import replace

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from starlette.routing import Route

from regimes.cnam import CnamGateway
from regimes.httpx_port import HttpxPort
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected
from rights.identifiers import parse_nir
from sandbox.directory import Directory
from sandbox.wire import cnam as wire
from tests.unit.regimes.cnam.test_codec import FULL, QUERY
from tests.unit.sandbox.wire.wire_fakes import (
    BASE_URL,
    FakeDirectory,
    Holding,
    regime_rights,
    serving,
    with_atmp,
)

CATALOGUE = default_catalogue()
REGIME = CATALOGUE.get("cnam")
CONSULTATIONS = "/regimes/cnam/cdri/v1/consultations"
IDENTIFICATION: dict[str, object] = {"nir": "180057505604226", "rangNaissance": 1}
VALID: dict[str, object] = {"identification": IDENTIFICATION, "dateReference": "20250301"}


def sandbox(
    directory: Directory, regimes=tuple(CATALOGUE)
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return serving(wire.routes(list(regimes), directory))


async def test_the_adapter_gets_back_exactly_what_the_directory_holds():
    directory = FakeDirectory(("cnam", FULL))
    async with sandbox(directory) as client:
        rights = await CnamGateway(HttpxPort(client, BASE_URL)).fetch(REGIME, QUERY)
    assert rights == FULL
    assert directory.calls == [("cnam", "180057505604226", "1985-05-12", 1)]


async def test_unknown_person_is_none_and_a_200_status_block():
    directory = FakeDirectory(("cnam", FULL))
    query = replace(QUERY, nir=parse_nir("1610299123456"))
    async with sandbox(directory) as client:
        assert await CnamGateway(HttpxPort(client, BASE_URL)).fetch(REGIME, query) is None
        raw = await client.post(
            CONSULTATIONS, json=VALID | {"identification": {"nir": "1610299123456"}}
        )
    assert raw.status_code == 200
    assert raw.json()["statut"]["code"] == "INCONNU"


async def test_a_lunar_birth_date_reaches_the_directory_as_given():
    directory = FakeDirectory()
    async with sandbox(directory) as client:
        await CnamGateway(HttpxPort(client, BASE_URL)).fetch(
            REGIME, replace(QUERY, birth_date="1982-00-00")
        )
    assert directory.calls == [("cnam", "180057505604226", "1982-00-00", 1)]


def test_routes_serve_only_the_cnam_regimes():
    served = wire.routes(list(CATALOGUE), FakeDirectory())
    assert [route.path for route in served if isinstance(route, Route)] == [CONSULTATIONS]


async def test_another_cnam_family_regime_is_served_under_its_own_code():
    other = replace(REGIME, code="cnam-outremer")
    held = replace(FULL, organisation=replace(FULL.organisation, cdr_regime="cnam-outremer"))
    directory = FakeDirectory(("cnam-outremer", held))
    async with sandbox(directory, [REGIME, other]) as client:
        assert await CnamGateway(HttpxPort(client, BASE_URL)).fetch(other, QUERY) == held
    assert directory.calls[0][0] == "cnam-outremer"


async def test_a_regime_of_another_family_is_a_rejection_not_an_unknown_person():
    async with sandbox(FakeDirectory(("msa", FULL))) as client:
        with pytest.raises(RegimeRejected, match="HTTP 404") as caught:
            await CnamGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get("msa"), QUERY)
    assert caught.value.regime == "msa"


def _identification(**fields: object) -> dict[str, object]:
    return VALID | {"identification": IDENTIFICATION | fields}


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (b"{nir: 1}", "REQUETE_INVALIDE", ""),
        (b"[]", "REQUETE_INVALIDE", ""),
        ({"dateReference": "20250301"}, "REQUETE_INVALIDE", "identification"),
        (_identification(nir=180057505604226), "REQUETE_INVALIDE", "identification.nir"),
        (_identification(nir="180057505604299"), "NIR_INVALIDE", "identification.nir"),
        (_identification(nir="18005750560"), "NIR_INVALIDE", "identification.nir"),
        (
            _identification(dateNaissance="1985-05-12"),
            "REQUETE_INVALIDE",
            "identification.dateNaissance",
        ),
        (_identification(rangNaissance=0), "REQUETE_INVALIDE", "identification.rangNaissance"),
        (_identification(rangNaissance="1"), "REQUETE_INVALIDE", "identification.rangNaissance"),
        (_identification(rangNaissance=True), "REQUETE_INVALIDE", "identification.rangNaissance"),
        (VALID | {"dateReference": "2025-03-01"}, "REQUETE_INVALIDE", "dateReference"),
        (VALID | {"dateReference": "20250230"}, "REQUETE_INVALIDE", "dateReference"),
        ({"identification": IDENTIFICATION}, "REQUETE_INVALIDE", "dateReference"),
    ],
    ids=[
        "not-json",
        "not-an-object",
        "no-identification",
        "nir-number",
        "nir-key",
        "nir-length",
        "birth-date-format",
        "rang-zero",
        "rang-text",
        "rang-boolean",
        "reference-format",
        "reference-impossible",
        "no-reference",
    ],
)
async def test_a_malformed_request_is_a_coded_400_naming_the_field(body, code, field):
    directory = FakeDirectory(("cnam", FULL))
    async with sandbox(directory) as client:
        if isinstance(body, bytes):
            response = await client.post(CONSULTATIONS, content=body)
        else:
            response = await client.post(CONSULTATIONS, json=body)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json()["erreur"]["code"] == code
    assert response.json()["erreur"]["champ"] == field
    assert directory.calls == []


async def test_the_adapter_reports_a_coded_400_as_a_rejection():
    async with sandbox(FakeDirectory()) as client:
        gateway = CnamGateway(HttpxPort(client, BASE_URL))
        with pytest.raises(
            RegimeRejected, match=r"REQUETE_INVALIDE at identification\.dateNaissance"
        ):
            await gateway.fetch(REGIME, replace(QUERY, birth_date="12 mai 1985"))


async def test_only_post_is_served():
    async with sandbox(FakeDirectory(("cnam", FULL))) as client:
        response = await client.get(CONSULTATIONS)
    assert response.status_code == 405


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rights=with_atmp(regime_rights("cnam")))
async def test_any_rights_survive_the_wire(rights):
    async with sandbox(Holding(rights)) as client:
        assert await CnamGateway(HttpxPort(client, BASE_URL)).fetch(REGIME, QUERY) == rights
