"""The sandbox side of the msa wire family: SOAP 1.1 ConsultationDroits (docs/wire/msa.md).

The sandbox plays the regime service, so this module reads the request and renders the answer
on its own, without the adapter's codec: the round-trip tests then check two independent
readings of the same spec.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from rights.catalogue import Regime
from rights.errors import IdentifierError
from rights.identifiers import parse_nir
from rights.model import Exoneration, Period, RegimeRights
from sandbox.directory import Directory
from sandbox.wire.common import BadRequest, Endpoint, family_routes

__all__ = ["routes"]

_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
_MSA = "urn:cdr-gateway:msa:consultation-droits:1"
_ACTION = f"{_MSA}#consultationDroits"
_DAY = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_RANG = re.compile(r"[0-9]{1,3}")
_CONTENT_TYPE = "text/xml; charset=utf-8"


def routes(regimes: Sequence[Regime], directory: Directory) -> list[BaseRoute]:
    """``POST /regimes/{code}/ws/ConsultationDroits`` for each msa-family regime given."""
    return family_routes(
        regimes,
        directory,
        _consultation,
        family="msa",
        method="POST",
        path="/regimes/{code}/ws/ConsultationDroits",
    )


@dataclass(frozen=True, slots=True)
class _Consultation:
    nir: str
    birth_date: str | None
    rang: int | None
    day_of_care: str


def _consultation(regime: Regime, directory: Directory) -> Endpoint:
    code = regime.code

    async def consult(request: Request) -> Response:
        try:
            _check_headers(request)
            consultation = _read_request(await request.body())
        except BadRequest as fault:
            # SOAP 1.1 §6.2: a fault travels with HTTP 500, whoever is at fault.
            return _xml(_fault_envelope(fault), status_code=500)
        rights = directory.find(code, consultation.nir, consultation.birth_date, consultation.rang)
        return _xml(_answer(rights, consultation.day_of_care))

    return consult


def _xml(envelope: ET.Element, status_code: int = 200) -> Response:
    body = ET.tostring(envelope, encoding="utf-8", xml_declaration=True)
    return Response(body, status_code=status_code, media_type=_CONTENT_TYPE)


def _check_headers(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "text/xml":
        raise BadRequest("CONTENT_TYPE", "Content-Type", "text/xml attendu (SOAP 1.1)")
    # SOAP 1.1 §6.1.1: the value is a URI, usually quoted.
    action = request.headers.get("soapaction")
    if action is None or action.strip().strip('"') != _ACTION:
        raise BadRequest("SOAP_ACTION", "SOAPAction", f'"{_ACTION}" attendu')


def _read_request(body: bytes) -> _Consultation:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("REQUETE_INVALIDE", "", "UTF-8 attendu") from exc
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise BadRequest("REQUETE_INVALIDE", "", "DOCTYPE et entités refusés")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise BadRequest("REQUETE_INVALIDE", "", f"XML mal formé ({exc})") from exc
    demand = root.find(f"{{{_SOAP}}}Body/{{{_MSA}}}demandeConsultationDroits")
    if root.tag != f"{{{_SOAP}}}Envelope" or demand is None:
        raise BadRequest(
            "REQUETE_INVALIDE", "", "soap:Envelope/soap:Body/demandeConsultationDroits"
        )
    identification = demand.find(f"{{{_MSA}}}identification")
    if identification is None:
        raise BadRequest("REQUETE_INVALIDE", "identification", "élément manquant")
    nir = _text(identification, "nir")
    if nir is None:
        raise BadRequest("REQUETE_INVALIDE", "identification/nir", "élément manquant")
    try:
        checked = parse_nir(nir)
    except IdentifierError as exc:
        raise BadRequest("NIR_INVALIDE", "identification/nir", exc.message) from exc
    return _Consultation(
        nir=checked.value,
        birth_date=_birth_date(_text(identification, "dateNaissance")),
        rang=_rang(_text(identification, "rangNaissance")),
        day_of_care=_day_of_care(_text(demand, "dateSoins")),
    )


def _text(parent: ET.Element, name: str) -> str | None:
    element = parent.find(f"{{{_MSA}}}{name}")
    return None if element is None else (element.text or "").strip()


def _birth_date(value: str | None) -> str | None:
    if value is None:
        return None
    # Lunar birth dates (day or month 00) are legal: only the shape is checked.
    match = _DAY.fullmatch(value)
    if match is None:
        raise BadRequest("REQUETE_INVALIDE", "identification/dateNaissance", "JJ/MM/AAAA")
    day, month, year = match.groups()
    return f"{year}-{month}-{day}"


def _rang(value: str | None) -> int | None:
    if value is None:
        return None
    if not _RANG.fullmatch(value) or int(value) < 1:
        raise BadRequest("REQUETE_INVALIDE", "identification/rangNaissance", "entier >= 1")
    return int(value)


def _day_of_care(value: str | None) -> str:
    match = None if value is None else _DAY.fullmatch(value)
    if value is None or match is None:
        raise BadRequest("REQUETE_INVALIDE", "dateSoins", "date JJ/MM/AAAA attendue")
    day, month, year = (int(part) for part in match.groups())
    try:
        date(year, month, day)
    except ValueError as exc:
        raise BadRequest("REQUETE_INVALIDE", "dateSoins", f"date inexistante ({exc})") from exc
    return value


def _sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    # Prefixed names written as-is keep the spec's "soap:"/"msa:" prefixes.
    element = ET.SubElement(parent, name)
    element.text = text
    return element


def _envelope() -> tuple[ET.Element, ET.Element]:
    envelope = ET.Element("soap:Envelope", {"xmlns:soap": _SOAP})
    return envelope, _sub(envelope, "soap:Body")


def _fault_envelope(fault: BadRequest) -> ET.Element:
    envelope, body = _envelope()
    element = _sub(body, "soap:Fault")
    # SOAP 1.1 §4.4: faultcode, faultstring and detail are unqualified.
    _sub(element, "faultcode", "soap:Client")
    _sub(element, "faultstring", fault.label)
    error = ET.SubElement(_sub(element, "detail"), "msa:erreur", {"xmlns:msa": _MSA})
    _sub(error, "msa:code", fault.code)
    _sub(error, "msa:champ", fault.field)
    return envelope


def _dates(parent: ET.Element, period: Period) -> None:
    _sub(parent, "msa:dateDebut", period.start.strftime("%d/%m/%Y"))
    if period.end is not None:
        _sub(parent, "msa:dateFin", period.end.strftime("%d/%m/%Y"))


def _names(parent: ET.Element, given_names: Sequence[str]) -> None:
    holder = _sub(parent, "msa:prenoms")
    for name in given_names:
        _sub(holder, "msa:prenom", name)


def _coded(parent: ET.Element, items: Sequence[Exoneration], names: tuple[str, str, str]) -> None:
    container, item_name, code_name = names
    holder = _sub(parent, f"msa:{container}")
    for item in items:
        element = _sub(holder, f"msa:{item_name}")
        _sub(element, f"msa:{code_name}", item.code)
        _dates(element, item.period)


def _answer(rights: RegimeRights | None, day_of_care: str) -> ET.Element:
    envelope, body = _envelope()
    answer = ET.SubElement(body, "msa:reponseConsultationDroits", {"xmlns:msa": _MSA})
    if rights is None:
        _sub(answer, "msa:codeRetour", "01")
        _sub(answer, "msa:libelleRetour", "Assuré inconnu")
        _sub(answer, "msa:dateSoins", day_of_care)
        return envelope
    _sub(answer, "msa:codeRetour", "00")
    _sub(answer, "msa:libelleRetour", "Droits trouvés")
    _sub(answer, "msa:dateSoins", day_of_care)
    _render_people(answer, rights)
    organisation = _sub(answer, "msa:organismeGestionnaire")
    _sub(organisation, "msa:codeRegime", rights.organisation.regime_code)
    _sub(organisation, "msa:caisse", rights.organisation.caisse)
    _sub(organisation, "msa:centre", rights.organisation.centre)
    _sub(organisation, "msa:codeGestion", rights.organisation.code_gestion)
    amo = _sub(answer, "msa:droitsAmo")
    for amo_period in rights.amo:
        element = _sub(amo, "msa:periodeDroits")
        _dates(element, amo_period.period)
        _sub(element, "msa:naturePieceJustificative", amo_period.nature_pj)
    situations = _sub(answer, "msa:situationsParticulieres")
    for situation in rights.situations:
        element = _sub(situations, "msa:situation")
        _sub(element, "msa:codeSituation", situation.code)
        _dates(element, situation.period)
    _coded(answer, rights.exonerations, ("exonerations", "exoneration", "codeEtm"))
    _coded(answer, rights.modulations, ("modulations", "modulation", "codeMtm"))
    _render_doctor_and_accidents(answer, rights)
    return envelope


def _render_people(answer: ET.Element, rights: RegimeRights) -> None:
    person = rights.beneficiary
    beneficiary = _sub(answer, "msa:beneficiaire")
    _sub(beneficiary, "msa:nomFamille", person.family_name)
    if person.usual_name is not None:
        _sub(beneficiary, "msa:nomUsuel", person.usual_name)
    _names(beneficiary, person.given_names)
    year, month, day = person.birth_date[:4], person.birth_date[5:7], person.birth_date[8:10]
    _sub(beneficiary, "msa:dateNaissance", f"{day}/{month}/{year}")
    _sub(beneficiary, "msa:rangNaissance", str(person.rang))
    _sub(beneficiary, "msa:qualite", person.qualite.value)
    if person.nir is not None:
        _sub(beneficiary, "msa:nirCertifie", person.nir)
    ouvrant = _sub(answer, "msa:ouvrantDroit")
    _sub(ouvrant, "msa:nir", rights.ouvrant_droit.nir)
    _sub(ouvrant, "msa:nomFamille", rights.ouvrant_droit.family_name)
    _names(ouvrant, rights.ouvrant_droit.given_names)


def _render_doctor_and_accidents(answer: ET.Element, rights: RegimeRights) -> None:
    doctor = rights.medecin_traitant
    if doctor is not None:
        element = _sub(answer, "msa:medecinTraitant")
        _sub(element, "msa:nom", doctor.family_name)
        _sub(element, "msa:prenom", doctor.given_name)
        _sub(element, "msa:identifiant", doctor.identifier)
        _dates(element, doctor.period)
    if rights.default_at_organisation is None and not rights.accidents:
        return
    atmp = _sub(answer, "msa:accidentsTravail")
    if rights.default_at_organisation is not None:
        _sub(atmp, "msa:organismeParDefaut", rights.default_at_organisation)
    for accident in rights.accidents:
        element = _sub(atmp, "msa:accident")
        _sub(element, "msa:numeroAccident", accident.number)
        _sub(element, "msa:organisme", accident.organisation)
        _dates(element, accident.period)
