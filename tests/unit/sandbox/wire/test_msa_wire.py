"""The msa wire end to end without sockets: sandbox routes under ASGI, driven by the adapter."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from dataclasses import astuple, replace

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from starlette.routing import Route

from regimes.httpx_port import HttpxPort
from regimes.msa import MsaGateway
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected
from rights.identifiers import parse_nir
from rights.model import RegimeRights
from sandbox.directory import Directory
from sandbox.wire import msa as wire
from tests.unit.regimes.msa.test_codec import FULL, QUERY
from tests.unit.sandbox.wire.wire_fakes import (
    BASE_URL,
    FakeDirectory,
    Holding,
    regime_rights,
    serving,
    with_atmp,
)

CATALOGUE = default_catalogue()
REGIME = CATALOGUE.get("msa")
CONSULTATION = "/regimes/msa/ws/ConsultationDroits"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
MSA = "urn:cdr-gateway:msa:consultation-droits:1"
HEADERS = {"content-type": "text/xml; charset=utf-8", "soapaction": f'"{MSA}#consultationDroits"'}
IDENTIFICATION = "<m:nir>168024700100502</m:nir><m:rangNaissance>1</m:rangNaissance>"
DAY_OF_CARE = "<m:dateSoins>01/03/2025</m:dateSoins>"


def envelope(identification: str = IDENTIFICATION, day_of_care: str = DAY_OF_CARE) -> bytes:
    return (
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><m:demandeConsultationDroits xmlns:m="{MSA}">'
        f"<m:identification>{identification}</m:identification>{day_of_care}"
        "</m:demandeConsultationDroits></s:Body></s:Envelope>"
    ).encode()


def sandbox(
    directory: Directory, regimes=tuple(CATALOGUE)
) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    return serving(wire.routes(list(regimes), directory))


async def test_the_adapter_gets_back_exactly_what_the_directory_holds():
    directory = FakeDirectory(("msa", FULL))
    async with sandbox(directory) as client:
        rights = await MsaGateway(HttpxPort(client, BASE_URL)).fetch(REGIME, QUERY)
    assert rights == FULL
    assert directory.calls == [("msa", "168024700100502", "1970-02-08", 1)]


async def test_unknown_person_is_none_and_code_retour_01():
    directory = FakeDirectory(("msa", FULL))
    query = replace(QUERY, nir=parse_nir("1610299123456"))
    async with sandbox(directory) as client:
        assert await MsaGateway(HttpxPort(client, BASE_URL)).fetch(REGIME, query) is None
        raw = await client.post(
            CONSULTATION, content=envelope("<m:nir>1610299123456</m:nir>"), headers=HEADERS
        )
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "text/xml; charset=utf-8"
    assert ET.fromstring(raw.content).findtext(f".//{{{MSA}}}codeRetour") == "01"


async def test_the_msa_provisional_number_and_a_lunar_birth_date_reach_the_directory():
    directory = FakeDirectory()
    query = replace(QUERY, nir=parse_nir("5555550000123"), birth_date="1982-00-00", rang=2)
    async with sandbox(directory) as client:
        assert await MsaGateway(HttpxPort(client, BASE_URL)).fetch(REGIME, query) is None
    assert directory.calls == [("msa", "555555000012351", "1982-00-00", 2)]


def test_routes_serve_only_the_msa_regimes():
    served = wire.routes(list(CATALOGUE), FakeDirectory())
    assert [route.path for route in served if isinstance(route, Route)] == [CONSULTATION]


async def test_another_msa_family_regime_is_served_under_its_own_code():
    other = replace(REGIME, code="msa-bis")
    held = replace(FULL, organisation=replace(FULL.organisation, cdr_regime="msa-bis"))
    directory = FakeDirectory(("msa-bis", held))
    async with sandbox(directory, [REGIME, other]) as client:
        assert await MsaGateway(HttpxPort(client, BASE_URL)).fetch(other, QUERY) == held
    assert directory.calls[0][0] == "msa-bis"


async def test_a_regime_of_another_family_is_a_rejection_not_an_unknown_person():
    async with sandbox(FakeDirectory(("cnam", FULL))) as client:
        with pytest.raises(RegimeRejected, match="HTTP 404") as caught:
            await MsaGateway(HttpxPort(client, BASE_URL)).fetch(CATALOGUE.get("cnam"), QUERY)
    assert caught.value.regime == "cnam"


CASES = {
    "content-type": (
        envelope(),
        {**HEADERS, "content-type": "application/json"},
        "CONTENT_TYPE",
        "Content-Type",
    ),
    "no-soap-action": (envelope(), {"content-type": "text/xml"}, "SOAP_ACTION", "SOAPAction"),
    "other-soap-action": (
        envelope(),
        {**HEADERS, "soapaction": '"urn:autre#op"'},
        "SOAP_ACTION",
        "SOAPAction",
    ),
    "not-xml": (b"<s:Envelope", HEADERS, "REQUETE_INVALIDE", ""),
    "doctype": (b'<!DOCTYPE x [<!ENTITY a "b">]>' + envelope(), HEADERS, "REQUETE_INVALIDE", ""),
    "not-utf8": (
        envelope("<m:nir>\xe9</m:nir>").decode().encode("latin-1"),
        HEADERS,
        "REQUETE_INVALIDE",
        "",
    ),
    "no-demand": (
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body/></s:Envelope>'.encode(),
        HEADERS,
        "REQUETE_INVALIDE",
        "",
    ),
    "no-identification": (
        envelope().replace(b"identification>", b"ident>"),
        HEADERS,
        "REQUETE_INVALIDE",
        "identification",
    ),
    "no-nir": (
        envelope("<m:rangNaissance>1</m:rangNaissance>"),
        HEADERS,
        "REQUETE_INVALIDE",
        "identification/nir",
    ),
    "nir-key": (
        envelope("<m:nir>168024700100599</m:nir>"),
        HEADERS,
        "NIR_INVALIDE",
        "identification/nir",
    ),
    "birth-date-format": (
        envelope(IDENTIFICATION + "<m:dateNaissance>1970-02-08</m:dateNaissance>"),
        HEADERS,
        "REQUETE_INVALIDE",
        "identification/dateNaissance",
    ),
    "rang-zero": (
        envelope("<m:nir>168024700100502</m:nir><m:rangNaissance>0</m:rangNaissance>"),
        HEADERS,
        "REQUETE_INVALIDE",
        "identification/rangNaissance",
    ),
    "no-day-of-care": (envelope(day_of_care=""), HEADERS, "REQUETE_INVALIDE", "dateSoins"),
    "day-of-care-format": (
        envelope(day_of_care="<m:dateSoins>2025-03-01</m:dateSoins>"),
        HEADERS,
        "REQUETE_INVALIDE",
        "dateSoins",
    ),
    "day-of-care-impossible": (
        envelope(day_of_care="<m:dateSoins>30/02/2025</m:dateSoins>"),
        HEADERS,
        "REQUETE_INVALIDE",
        "dateSoins",
    ),
}


@pytest.mark.parametrize(
    ("body", "headers", "code", "field"), list(CASES.values()), ids=list(CASES)
)
async def test_a_malformed_request_is_a_client_fault_naming_the_field(body, headers, code, field):
    directory = FakeDirectory(("msa", FULL))
    async with sandbox(directory) as client:
        response = await client.post(CONSULTATION, content=body, headers=headers)
    # SOAP 1.1 §6.2: faults travel with HTTP 500.
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    fault = ET.fromstring(response.content).find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
    assert fault is not None
    assert fault.findtext("faultcode") == "soap:Client"
    assert fault.findtext(f"detail/{{{MSA}}}erreur/{{{MSA}}}code") == code
    assert fault.findtext(f"detail/{{{MSA}}}erreur/{{{MSA}}}champ") == field
    assert directory.calls == []


async def test_the_adapter_reports_a_client_fault_as_a_rejection():
    async with sandbox(FakeDirectory()) as client:
        gateway = MsaGateway(HttpxPort(client, BASE_URL))
        with pytest.raises(
            RegimeRejected, match=r"SOAP fault Client.*identification/dateNaissance"
        ):
            await gateway.fetch(REGIME, replace(QUERY, birth_date="12 mai 1970"))


async def test_only_post_is_served():
    async with sandbox(FakeDirectory(("msa", FULL))) as client:
        response = await client.get(CONSULTATION)
    assert response.status_code == 405


# XML 1.0 §2.2: the characters a document may hold at all.
_XML_CHARS = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _strings(item)


def xml_safe(rights: RegimeRights) -> bool:
    return all(_XML_CHARS.fullmatch(text) for text in _strings(astuple(rights)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rights=with_atmp(regime_rights("msa")).filter(xml_safe))
async def test_any_rights_survive_the_wire(rights):
    async with sandbox(Holding(rights)) as client:
        assert await MsaGateway(HttpxPort(client, BASE_URL)).fetch(REGIME, QUERY) == rights
