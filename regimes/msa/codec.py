"""The msa wire format: a SOAP 1.1 envelope with French element names (docs/wire/msa.md).

Pure: builds the request envelope from a ``RightsQuery`` and reads a response envelope into
``RegimeRights`` (None when ``codeRetour`` says the person is unknown), or into the
``RegimeError`` a SOAP fault stands for. A regime payload is untrusted input: it must be UTF-8
and may not declare a DOCTYPE or entities (no entity expansion, no external resources), and
anything that does not follow the format raises ``RegimeRejected`` naming the element at fault.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date

from regimes import cdri
from regimes.payload import ACCIDENT_NUMBER, SITUATION_CODE, TM_CODE
from rights.errors import RegimeError, RegimeRejected, RegimeUnavailable
from rights.model import (
    AccidentDeclaration,
    AmoPeriod,
    Beneficiary,
    Exoneration,
    MedecinTraitant,
    OuvrantDroit,
    RegimeRights,
    RightsQuery,
    Situation,
)

__all__ = [
    "CODE_FOUND",
    "CODE_UNKNOWN",
    "NAMESPACE",
    "SOAP_ACTION",
    "SOAP_NAMESPACE",
    "SoapFault",
    "build_request",
    "fault_error",
    "parse_response",
    "read_fault",
]

SOAP_NAMESPACE = "http://schemas.xmlsoap.org/soap/envelope/"
NAMESPACE = "urn:cdr-gateway:msa:consultation-droits:1"
# SOAP 1.1 §6.1.1: the SOAPAction header value is a quoted URI.
SOAP_ACTION = f'"{NAMESPACE}#consultationDroits"'
CODE_FOUND = "00"
CODE_UNKNOWN = "01"

_DAY = re.compile(r"([0-9]{2})/([0-9]{2})/([0-9]{4})")
_RANG = re.compile(r"[0-9]{1,3}")
_FORBIDDEN_DECLARATIONS = ("<!DOCTYPE", "<!ENTITY")


def _sub(parent: ET.Element, name: str, text: str | None = None) -> ET.Element:
    # Prefixed names written as-is keep the "soap:"/"msa:" prefixes of the spec; ElementTree
    # would otherwise invent ns0/ns1 (or need register_namespace, a process-wide setting).
    element = ET.SubElement(parent, name)
    element.text = text
    return element


def build_request(query: RightsQuery) -> bytes:
    """The envelope of ``POST /regimes/{code}/ws/ConsultationDroits`` for ``query``."""
    envelope = ET.Element("soap:Envelope", {"xmlns:soap": SOAP_NAMESPACE})
    body = _sub(envelope, "soap:Body")
    demand = ET.SubElement(body, "msa:demandeConsultationDroits", {"xmlns:msa": NAMESPACE})
    identification = _sub(demand, "msa:identification")
    _sub(identification, "msa:nir", query.nir.value)
    if query.birth_date is not None:
        # Sliced, not parsed: a lunar birth date (day or month 00) is sent as on the card.
        b = query.birth_date
        _sub(identification, "msa:dateNaissance", f"{b[8:10]}/{b[5:7]}/{b[0:4]}")
    _sub(identification, "msa:rangNaissance", str(query.rang))
    _sub(demand, "msa:dateSoins", query.date_of_care.strftime("%d/%m/%Y"))
    payload: bytes = ET.tostring(envelope, encoding="utf-8", xml_declaration=True)
    return payload


def _rejected(regime: str, what: str) -> RegimeRejected:
    return RegimeRejected(f"{regime}: malformed answer: {what}", regime=regime)


def _body_content(payload: bytes, regime: str) -> ET.Element:
    """The one element inside ``soap:Body``, after the guards on untrusted XML."""
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _rejected(regime, f"not UTF-8 ({exc})") from exc
    # XML keywords are case-sensitive: any other spelling is a parse error anyway.
    if any(marker in text for marker in _FORBIDDEN_DECLARATIONS):
        raise _rejected(regime, "DOCTYPE and entity declarations are refused")
    try:
        root = ET.fromstring(payload)
    except ET.ParseError as exc:
        raise _rejected(regime, f"not XML ({exc})") from exc
    if root.tag != f"{{{SOAP_NAMESPACE}}}Envelope":
        raise _rejected(regime, f"root element is {root.tag}, not a SOAP 1.1 Envelope")
    body = root.find(f"{{{SOAP_NAMESPACE}}}Body")
    if body is None or len(body) != 1:
        raise _rejected(regime, "soap:Body must hold exactly one element")
    return body[0]


@dataclass(frozen=True, slots=True)
class SoapFault:
    """A SOAP 1.1 fault: ``code`` is the local part of faultcode (``Client``, ``Server.Busy``)."""

    code: str
    message: str
    error_code: str = ""  # detail/erreur/code: the regime's own code
    field: str = ""  # detail/erreur/champ: the request element at fault

    @property
    def is_server(self) -> bool:
        # SOAP 1.1 §4.4.1: "Server" (and its dotted refinements) means the request may succeed
        # later; "Client" means it must change. Unlisted codes are read as the caller's fault.
        return self.code.split(".")[0] == "Server"


def _fault(element: ET.Element) -> SoapFault:
    # SOAP 1.1 §4.4: faultcode, faultstring and detail are unqualified.
    code = (element.findtext("faultcode") or "").strip()
    error = element.find(f"detail/{{{NAMESPACE}}}erreur")
    return SoapFault(
        code=code.rpartition(":")[2],
        message=(element.findtext("faultstring") or "").strip(),
        error_code="" if error is None else (error.findtext(f"{{{NAMESPACE}}}code") or ""),
        field="" if error is None else (error.findtext(f"{{{NAMESPACE}}}champ") or ""),
    )


def read_fault(payload: bytes) -> SoapFault | None:
    """The SOAP fault in ``payload``, or None when it is not a well-formed fault envelope."""
    try:
        content = _body_content(payload, "")
    except RegimeRejected:
        return None
    if content.tag != f"{{{SOAP_NAMESPACE}}}Fault":
        return None
    return _fault(content)


def fault_error(fault: SoapFault, regime: str) -> RegimeError:
    """``soap:Server`` is the regime's trouble (transient); any other fault is ours."""
    detail = f" ({fault.error_code} at {fault.field})" if fault.error_code else ""
    message = f"{regime}: SOAP fault {fault.code}: {fault.message}{detail}"
    if fault.is_server:
        return RegimeUnavailable(message, regime=regime)
    return RegimeRejected(message, regime=regime)


class _Node:
    """An element of the answer, with its path for error messages."""

    def __init__(self, element: ET.Element, path: str, regime: str) -> None:
        self._element = element
        self._path = path
        self._regime = regime

    def error(self, name: str, what: str) -> RegimeRejected:
        return _rejected(self._regime, f"{self._path}/{name}: {what}")

    def _find(self, name: str) -> ET.Element | None:
        return self._element.find(f"{{{NAMESPACE}}}{name}")

    def own_text(self) -> str:
        if len(self._element):
            raise _rejected(self._regime, f"{self._path}: expected text, found elements")
        return self._element.text or ""

    def optional_text(self, name: str) -> str | None:
        node = self.optional_child(name)
        return None if node is None else node.own_text()

    def text(self, name: str) -> str:
        value = self.optional_text(name)
        if value is None:
            raise self.error(name, "missing")
        return value

    def code(self, name: str, pattern: re.Pattern[str]) -> str:
        value = self.text(name)
        if not pattern.fullmatch(value):
            raise self.error(name, f"{value!r} does not match {pattern.pattern}")
        return value

    def texts(self, container: str, name: str) -> tuple[str, ...]:
        """The texts of ``container/name`` elements; an absent container holds none."""
        holder = self.optional_child(container)
        return () if holder is None else tuple(n.own_text() for n in holder.children(name))

    def rang(self, name: str) -> int:
        value = self.text(name)
        if not _RANG.fullmatch(value) or int(value) < 1:
            raise self.error(name, f"expected a rang 1 or more, got {value!r}")
        return int(value)

    def day(self, name: str) -> date:
        value = self.text(name)
        match = _DAY.fullmatch(value)
        if match is None:
            raise self.error(name, f"expected a date DD/MM/YYYY, got {value!r}")
        day, month, year = (int(part) for part in match.groups())
        try:
            return date(year, month, day)
        except ValueError as exc:
            raise self.error(name, f"{value!r} is not a date ({exc})") from exc

    def optional_day(self, name: str) -> date | None:
        return None if self._find(name) is None else self.day(name)

    def optional_child(self, name: str) -> _Node | None:
        element = self._find(name)
        return None if element is None else _Node(element, f"{self._path}/{name}", self._regime)

    def child(self, name: str) -> _Node:
        node = self.optional_child(name)
        if node is None:
            raise self.error(name, "missing")
        return node

    def children(self, name: str) -> list[_Node]:
        return [
            _Node(element, f"{self._path}/{name}[{index}]", self._regime)
            for index, element in enumerate(self._element.findall(f"{{{NAMESPACE}}}{name}"), 1)
        ]

    def items(self, container: str, name: str) -> list[_Node]:
        """The ``container/name`` elements; an absent container holds none."""
        holder = self.optional_child(container)
        return [] if holder is None else holder.children(name)


def parse_response(payload: bytes, regime: str) -> RegimeRights | None:
    """The rights in an answer, or None when ``codeRetour`` says the person is unknown.

    A SOAP fault raises the error ``fault_error`` gives. ``regime`` is the catalogue code: it
    names the regime in errors and becomes ``ManagingOrganisation.cdr_regime``.
    """
    content = _body_content(payload, regime)
    if content.tag == f"{{{SOAP_NAMESPACE}}}Fault":
        raise fault_error(_fault(content), regime)
    if content.tag != f"{{{NAMESPACE}}}reponseConsultationDroits":
        raise _rejected(regime, f"unexpected element {content.tag} in soap:Body")
    answer = _Node(content, "reponseConsultationDroits", regime)
    code = answer.text("codeRetour")
    if code == CODE_UNKNOWN:
        return None
    if code != CODE_FOUND:
        raise answer.error("codeRetour", f"unexpected code {code!r}")
    atmp = answer.optional_child("accidentsTravail")
    return RegimeRights(
        beneficiary=_beneficiary(answer.child("beneficiaire")),
        ouvrant_droit=_ouvrant_droit(answer.child("ouvrantDroit")),
        organisation=cdri.organisation(answer.child("organismeGestionnaire"), regime),
        amo=tuple(
            AmoPeriod(period=cdri.period(n), nature_pj=n.text("naturePieceJustificative"))
            for n in answer.items("droitsAmo", "periodeDroits")
        ),
        situations=tuple(
            Situation(code=n.code("codeSituation", SITUATION_CODE), period=cdri.period(n))
            for n in answer.items("situationsParticulieres", "situation")
        ),
        exonerations=tuple(
            Exoneration(code=n.code("codeEtm", TM_CODE), period=cdri.period(n))
            for n in answer.items("exonerations", "exoneration")
        ),
        modulations=tuple(
            Exoneration(code=n.code("codeMtm", TM_CODE), period=cdri.period(n))
            for n in answer.items("modulations", "modulation")
        ),
        medecin_traitant=_medecin_traitant(answer.optional_child("medecinTraitant")),
        default_at_organisation=None if atmp is None else atmp.optional_text("organismeParDefaut"),
        accidents=() if atmp is None else tuple(_accident(n) for n in atmp.children("accident")),
    )


def _birth_date(node: _Node) -> str:
    value = node.text("dateNaissance")
    match = _DAY.fullmatch(value)
    # Not checked as a calendar date: lunar dates (day or month 00) are valid birth dates.
    if match is None:
        raise node.error("dateNaissance", f"expected DD/MM/YYYY, got {value!r}")
    day, month, year = match.groups()
    return f"{year}-{month}-{day}"


def _beneficiary(node: _Node) -> Beneficiary:
    qualite = cdri.qualite(node)
    return Beneficiary(
        family_name=node.text("nomFamille"),
        given_names=node.texts("prenoms", "prenom"),
        birth_date=_birth_date(node),
        rang=node.rang("rangNaissance"),
        qualite=qualite,
        nir=node.optional_text("nirCertifie"),
        usual_name=node.optional_text("nomUsuel"),
    )


def _ouvrant_droit(node: _Node) -> OuvrantDroit:
    return OuvrantDroit(
        family_name=node.text("nomFamille"),
        given_names=node.texts("prenoms", "prenom"),
        nir=node.text("nir"),
    )


def _medecin_traitant(node: _Node | None) -> MedecinTraitant | None:
    if node is None:
        return None
    return MedecinTraitant(
        family_name=node.text("nom"),
        given_name=node.text("prenom"),
        identifier=node.text("identifiant"),
        period=cdri.period(node),
    )


def _accident(node: _Node) -> AccidentDeclaration:
    # The key is the domain's to judge (rights.identifiers); the wire only promises 9 digits.
    return AccidentDeclaration(
        number=node.code("numeroAccident", ACCIDENT_NUMBER),
        organisation=node.text("organisme"),
        period=cdri.period(node),
    )
