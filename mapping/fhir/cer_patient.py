"""Who the request is about: the NIR (or NIA), birth date, rang and names of the Patient a
CoverageEligibilityRequest names, each checked, every fault recorded with its FHIRPath. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from mapping.fhir.cer_submission import References
from mapping.fhir.common import (
    EXT_LUNAR_BIRTH_DATE,
    EXT_RANG,
    SYSTEM_NIA,
    SYSTEM_NIR,
    SYSTEM_NIR_DEMO,
    SYSTEM_NIR_TEST,
)
from mapping.fhir.read import FHIR_DATE, Faults, Node, as_dict, codes_of
from rights.errors import IdentifierError, QueryError
from rights.identifiers import Nir, parse_nir
from rights.queries import parse_birth_date, parse_rang

__all__ = ["V2_0203", "Identity", "read_identity"]

# HL7 v2 table 0203 (identifier type): FR Core's NSS slice is typed NH.
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"

_OID_PREFIX = "urn:oid:"
_NIR_SYSTEMS = (SYSTEM_NIR, SYSTEM_NIA, SYSTEM_NIR_TEST, SYSTEM_NIR_DEMO)


@dataclass(frozen=True, slots=True)
class Identity:
    """The identity fields, each already checked (``build_query`` will accept them)."""

    nir: Nir  # checked
    nir_oid: str
    nir_expression: str  # FHIRPath of the Identifier used
    patient: dict[str, Any] | None
    birth_date: str | None = None
    rang: int = 1
    family_name: str | None = None
    given_name: str | None = None


@dataclass(frozen=True, slots=True)
class _Candidate:
    rank: int
    system: str
    value: str
    node: Node


def read_identity(
    cer: Node, refs: References, faults: Faults, *, today: date | None = None
) -> Identity | None:
    """The identity of ``CER.patient``: from the referenced Patient (contained or Bundle entry),
    else from the reference's own ``identifier`` (a logical reference). None when faulty.
    ``today``: a birth date after it is a fault."""
    # A reference with an identifier stands on its own, so it need not resolve.
    ref = cer.obj("patient")
    logical = ref.obj("identifier") if ref is not None else None
    ref, patient = refs.follow(cer, "patient", cer, ("Patient",), external_ok=logical is not None)
    if ref is None or (patient is None and ref.has("reference") and logical is None):
        return None  # missing or unresolved: already a fault, one per cause
    before = len(faults)
    identifiers = [] if patient is None else list(patient.objects("identifier"))
    if logical is not None:
        identifiers.append(logical)
    chosen = _best_nir(identifiers)
    if chosen is None:
        where = (patient or ref).child_path("identifier")
        systems = ", ".join(_NIR_SYSTEMS)
        faults.add(
            where, f"the patient has no NIR nor NIA identifier (systems {systems})", "required"
        )
        return None
    checked = _check_nir(chosen, faults)
    birth_date = rang = None
    family = given = None
    if patient is not None:
        birth_date = _birth_date(patient, today)
        rang = _rang(patient)
        family, given = _names(patient)
    if len(faults) > before or checked is None:
        return None
    return Identity(
        nir=checked,
        nir_oid=chosen.system.removeprefix(_OID_PREFIX),
        nir_expression=chosen.node.path,
        patient=None if patient is None else as_dict(patient.value),
        birth_date=birth_date,
        rang=rang or 1,
        family_name=family,
        given_name=given,
    )


def _rank(identifier: Node) -> int | None:
    """Preference among the identifiers of one Patient: INS-NIR official, NSS, other NIR, NIA,
    test, demo, and a NIR marked ``old`` last (it may have been replaced)."""
    system = identifier.value.get("system")
    use = identifier.value.get("use")
    if system == SYSTEM_NIR:
        if "NH" in codes_of(identifier.obj("type"), V2_0203):
            return 1
        return {"official": 0, "old": 6}.get(use, 2) if isinstance(use, str) else 2
    ranks = {SYSTEM_NIA: 3, SYSTEM_NIR_TEST: 4, SYSTEM_NIR_DEMO: 5}
    return ranks.get(system) if isinstance(system, str) else None


def _best_nir(identifiers: list[Node]) -> _Candidate | None:
    candidates = []
    for identifier in identifiers:
        rank = _rank(identifier)
        value = identifier.value.get("value")
        if rank is not None and isinstance(value, str) and value.strip():
            system = str(identifier.value["system"])
            candidates.append(_Candidate(rank, system, value, identifier))
    # min() keeps the first of equal ranks: document order breaks ties.
    return min(candidates, key=lambda c: c.rank, default=None)


def _check_nir(chosen: _Candidate, faults: Faults) -> Nir | None:
    where = chosen.node.child_path("value")
    try:
        # An official INS-NIR (rank 0) is an INS: its key is required, as on the HL7 path.
        return parse_nir(
            chosen.value,
            oid=chosen.system.removeprefix(_OID_PREFIX),
            location=where,
            require_key=chosen.rank == 0,
        )
    except IdentifierError as exc:
        faults.add(where, exc.message, exc.check, rule=True)  # a valid string, a wrong NIR
        return None


def _extension(resource: Node, url: str, element: str | None = None) -> Node | None:
    """The first extension ``url`` on the resource, or on its primitive ``element`` (``_x``)."""
    holders = [resource]
    if element is not None:
        primitive = resource.obj(f"_{element}")
        if primitive is not None:
            holders.insert(0, primitive)
    for holder in holders:
        for ext in holder.objects("extension"):
            if ext.value.get("url") == url:
                return ext
    return None


def _birth_date(patient: Node, today: date | None) -> str | None:
    faults = patient.faults
    # A lunar date (1971-00-00) is not a FHIR date: the raw text rides in our extension and wins.
    lunar = _extension(patient, EXT_LUNAR_BIRTH_DATE, "birthDate")
    if lunar is not None:
        text = lunar.text("valueString", required=True)
        if text is None:
            return None
        try:
            return parse_birth_date(text, location=lunar.child_path("valueString"), today=today)
        except QueryError as exc:
            faults.add(lunar.child_path("valueString"), exc.message, "format")
            return None
    text = patient.text("birthDate")
    where = patient.child_path("birthDate")
    if text is None:
        return None
    if FHIR_DATE.fullmatch(text) is None:
        faults.add(where, f"birthDate must be a FHIR date YYYY-MM-DD, got {text!r}", "format")
        return None
    if len(text) != len("YYYY-MM-DD"):
        # FHIR allows 1950 or 1950-03; regimes take full dates only, so ask without one (the
        # NIR and rang still name the person) rather than refuse a valid resource.
        return None
    try:
        # birthDate is a FHIR date, a day of the calendar: lunar dates ride in the extension.
        return parse_birth_date(text, location=where, today=today, lunar=False)
    except QueryError as exc:
        faults.add(where, exc.message)
        return None


def _rang(patient: Node) -> int | None:
    ext = _extension(patient, EXT_RANG)
    if ext is None:
        return None
    for name in ("valuePositiveInt", "valueInteger"):
        if name not in ext.value:
            continue
        raw = ext.value[name]
        where = ext.child_path(name)
        if not isinstance(raw, int) or isinstance(raw, bool):
            patient.faults.add(where, f"rang must be an integer 1-9, got {raw!r}")
            return None
        try:
            return parse_rang(raw, location=where)
        except QueryError as exc:
            patient.faults.add(where, exc.message)
            return None
    patient.faults.add(
        ext.path, f"extension {EXT_RANG} needs valuePositiveInt or valueInteger", "required"
    )
    return None


def _names(patient: Node) -> tuple[str | None, str | None]:
    names = list(patient.objects("name"))
    if not names:
        return None, None
    # FR Core: the official name is the birth name (INS); usual is the name in use.
    by_use = {n.value.get("use"): n for n in reversed(names)}
    name = by_use.get("official") or by_use.get("usual") or names[0]
    family = name.value.get("family")
    given = name.value.get("given")
    given_text = (
        " ".join(g.strip() for g in given if isinstance(g, str) and g.strip())
        if isinstance(given, list)
        else ""
    )
    return (
        family.strip() if isinstance(family, str) and family.strip() else None,
        given_text or None,
    )
