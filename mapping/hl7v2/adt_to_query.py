"""An ADT message (IHE PAM / PAM FR) turned into the rights lookup it asks for.

Pure: values in, values out. The first fault found stops the reading and is raised as a
``MappingError`` carrying the HL7 table 0357 code and the field location the ACK's ERR reports:
100 segment missing, 101 required field missing, 102 data type, 103 value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from mapping.hl7v2.er7 import Delimiters, Message, Segment, field_location, is_null, unescape
from rights.catalogue import RegimeCatalogue
from rights.dates import check_date_of_care
from rights.errors import IdentifierError, IdentifierKeyError, MappingError, QueryError
from rights.identifiers import NIA_OID, NIR_DEMO_OID, NIR_OID, NIR_TEST_OID, Nir, parse_nir
from rights.model import Requester, RightsQuery
from rights.queries import parse_birth_date, parse_rang

__all__ = ["SUPPORTED_TRIGGERS", "Admission", "admission_from_message"]

SUPPORTED_TRIGGERS = frozenset({"A01", "A04", "A05", "A28", "A31", "Z99"})

# PAM FR 2.11 / FR Core INS: assigning authorities and identifier types of PID-3.
_INS_OIDS = frozenset({NIR_OID, NIA_OID, NIR_TEST_OID, NIR_DEMO_OID})
_INS_NAMESPACES = {"ASIP-SANTE-INS-NIR": NIR_OID, "ASIP-SANTE-INS-NIA": NIA_OID}
_INS_TYPES = frozenset({"INS", "INS-NIR", "INS-NIA"})
# HL7 table 0203: NH national health plan number, SS social security number; NNFRA French
# national number (PAM FR 2.10 examples).
_NSS_TYPES = frozenset({"NH", "SS", "NNFRA"})

# HL7 v2.5 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]
_DTM = re.compile(
    r"\d{4}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\d{2}(?:\.\d{1,4})?)?)?)?)?)?(?:[+-]\d{4})?"
)


@dataclass(frozen=True, slots=True)
class Admission:
    """An accepted ADT message: the checked query and what the reply needs from the message."""

    trigger: str  # MSH-9.2
    control_id: str  # MSH-10
    patient_key: str  # the query NIR value (keeps per-patient order)
    query: RightsQuery
    identifier_location: str  # where the NIR came from, e.g. "PID-3(2).1" or "IN1-49"
    visit_number: str  # PV1-19.1 or ""
    movement_id: str  # ZBE-1.1 or ""


@dataclass(frozen=True, slots=True)
class _Found:
    nir: Nir
    location: str


def admission_from_message(
    message: Message, *, catalogue: RegimeCatalogue, requester: Requester, today: date
) -> Admission:
    """Read the lookup an ADT message asks for; raise the first fault as a ``MappingError``.

    The NIR comes from PID-3: an INS (INS-NIR, INS-NIA, test or demo OID) first, else an NSS
    (CX-5 NH/SS/NNFRA), else PID-19. When the AMO insurance group (the IN1 with IN1-2 AMO, or the
    first IN1 when IN1-2 is empty) carries IN1-49, that NIR, the ouvrant droit's as on the
    Vitale card, is the one asked with: the CDR finds the beneficiary from it, the birth date
    and the rang. The PID-3 identifier is still checked when present.
    The regime is routed from that group's IN1-3 (régime+caisse+centre); without IN1 the lookup
    is a discovery. The date of care is PV1-44, else ZBE-2, else EVN-2, else MSH-7, else
    ``today``. The HL7 null ``""`` counts as absent everywhere.
    """
    pid = message.first("PID")
    if pid is None:
        raise MappingError("the message has no PID segment", code=100, location="PID")
    patient = _pid_identifier(pid)
    amo = _amo_group(message)
    holder = _in1_identifier(*amo) if amo is not None else None
    found = holder or patient
    if found is None:
        raise MappingError(
            "no patient identifier: PID-3 holds no INS nor NSS, PID-19 and IN1-49 are empty",
            code=101,
            location="PID-3",
        )
    # Evaluated one by one so that the first fault is the one the rules list first.
    birth_date = _birth_date(pid, today)
    rang = _rang(pid)
    family, given = _names(pid)
    regime = _regime(catalogue, *amo) if amo is not None else None
    date_of_care = _date_of_care(message, today)
    query = RightsQuery(
        nir=found.nir,
        date_of_care=date_of_care,
        birth_date=birth_date,
        rang=rang,
        regime=regime,
        requester=requester,
        family_name=family or None,
        given_name=given or None,
    )
    pv1, zbe = message.first("PV1"), message.first("ZBE")
    return Admission(
        trigger=message.trigger,
        control_id=message.control_id,
        patient_key=found.nir.value,
        query=query,
        identifier_location=found.location,
        visit_number=_present(pv1.value(19)) if pv1 is not None else "",
        movement_id=_present(zbe.value(1)) if zbe is not None else "",
    )


def _text(raw: str, d: Delimiters) -> str:
    return unescape(raw, d) if d.escape in raw else raw


def _present(value: str) -> str:
    """``value`` with the HL7 null read as absent."""
    return "" if is_null(value) else value.strip()


# --- Identity --------------------------------------------------------------------------------


def _pid_identifier(pid: Segment) -> _Found | None:
    ins: tuple[int, str | None] | None = None
    nss: int | None = None
    d = pid.delimiters
    # PID-3 is read once, split once per repetition: it is on every message's hot path.
    for rep, raw in enumerate(pid.repetitions(3), start=1):
        parts = raw.split(d.component)
        if not _present(_text(parts[0], d)):
            continue
        authority = parts[3].split(d.subcomponent) if len(parts) > 3 else [""]
        oid = _present(_text(authority[1], d)) if len(authority) > 1 else ""
        namespace = _present(_text(authority[0], d)).upper()
        kind = _present(_text(parts[4], d)).upper() if len(parts) > 4 else ""
        if ins is None and (oid in _INS_OIDS or namespace in _INS_NAMESPACES or kind in _INS_TYPES):
            known = oid if oid in _INS_OIDS else _INS_NAMESPACES.get(namespace)
            ins = (rep, known)
        elif nss is None and kind in _NSS_TYPES:
            nss = rep
    if ins is not None:
        ins_rep, ins_oid = ins
        location = _cx1_location(ins_rep)
        return _checked(pid.value(3, 1, repetition=ins_rep), ins_oid, location, require_key=True)
    if nss is not None:
        return _checked(pid.value(3, 1, repetition=nss), None, _cx1_location(nss))
    ssn = _present(pid.value(19))
    if ssn:
        return _checked(ssn, None, "PID-19")
    return None


def _cx1_location(rep: int) -> str:
    return field_location("PID", 3, repetition=rep, component=1)


def _in1_identifier(in1: Segment, occurrence: int) -> _Found | None:
    value = _present(in1.value(49))
    if not value:
        return None
    oid = _present(in1.value(49, 4, subcomponent=2))
    location = field_location("IN1", 49, occurrence=occurrence)
    return _checked(value, oid if oid in _INS_OIDS else None, location)


def _checked(value: str, oid: str | None, location: str, *, require_key: bool = False) -> _Found:
    # Spaces, dots and dashes (a NIR copied from a card: "1 62 04 75 114 123 41") are removed;
    # an INS must carry its key (parse_nir's ``require_key``), an NSS may omit it.
    try:
        return _Found(
            parse_nir(value, oid=oid, location=location, require_key=require_key), location
        )
    except IdentifierKeyError as exc:
        given = re.sub(r"[\s.\-]", "", value)[13:]
        raise MappingError(
            f"{location}: NIR key check failed: key {given} is wrong, expected key "
            f"{exc.expected_key}",
            code=103,
            location=location,
        ) from exc
    except IdentifierError as exc:
        raise MappingError(
            f"{location}: NIR {exc.check} check failed: {exc.message}",
            code=103,
            location=location,
        ) from exc


# --- Insurance -------------------------------------------------------------------------------


def _amo_group(message: Message) -> tuple[Segment, int] | None:
    """The AMO IN1 and its occurrence number (IHE ITI TF-4 §4.1.2.11.1: IN1-2 = AMO)."""
    groups = message.all("IN1")
    for occurrence, in1 in enumerate(groups, start=1):
        if _present(in1.value(2)).upper() == "AMO":
            return in1, occurrence
    if groups and not _present(groups[0].value(2)):
        return groups[0], 1
    return None


def _regime(catalogue: RegimeCatalogue, in1: Segment, occurrence: int) -> str | None:
    number = _present(in1.value(3))
    if not number:
        return None
    location = field_location("IN1", 3, occurrence=occurrence)
    digits = "".join(number.split())
    if len(digits) != 9 or not digits.isdigit():
        raise MappingError(
            f"{location}: organisation number must be 9 digits (régime 2, caisse 3, centre 4), "
            f"got {number!r}",
            code=103,
            location=location,
        )
    regime = catalogue.route_organisation(digits)
    if regime is None:
        raise MappingError(
            f"{location}: organisation {digits} (régime {digits[:2]}, centre {digits[5:]}) "
            "is served by no CDR regime",
            code=103,
            location=location,
        )
    return regime.code


# --- Patient fields --------------------------------------------------------------------------


def _birth_date(pid: Segment, today: date) -> str | None:
    value = _present(pid.value(7))
    if not value:
        return None
    if _DTM.fullmatch(value) is None or len(value) < 8 or not value[:8].isdigit():
        raise MappingError(
            f"PID-7: birth date must be an HL7 date YYYYMMDD[HHMM…], got {value!r}",
            code=102,
            location="PID-7",
        )
    try:
        # Lunar dates (month or day 00, or past the calendar) are kept as the card gives them.
        return parse_birth_date(
            f"{value[:4]}-{value[4:6]}-{value[6:8]}", location="PID-7", today=today
        )
    except QueryError as exc:
        raise MappingError(f"PID-7: {exc.message}", code=102, location="PID-7") from exc


def _rang(pid: Segment) -> int:
    value = _present(pid.value(25))
    if not value:
        return 1
    try:
        return parse_rang(value, location="PID-25")
    except QueryError as exc:
        raise MappingError(f"PID-25: {exc.message}", code=102, location="PID-25") from exc


def _names(pid: Segment) -> tuple[str, str]:
    """Family and given name from PID-5: the legal name (XPN-7 L), else the display name (D),
    else the first repetition."""
    count = len(pid.repetitions(5))
    if count == 0:
        return "", ""
    types = [_present(pid.value(5, 7, repetition=rep)).upper() for rep in range(1, count + 1)]
    rep = 1
    for wanted in ("L", "D"):
        if wanted in types:
            rep = types.index(wanted) + 1
            break
    return _present(pid.value(5, 1, repetition=rep)), _present(pid.value(5, 2, repetition=rep))


# --- Date of care ----------------------------------------------------------------------------

_CARE_DATES = (("PV1", 44), ("ZBE", 2), ("EVN", 2), ("MSH", 7))


def _date_of_care(message: Message, today: date) -> date:
    # Only the field used is checked: a malformed MSH-7 does not matter when PV1-44 is given.
    for segment_id, number in _CARE_DATES:
        seg = message.first(segment_id)
        value = _present(seg.value(number)) if seg is not None else ""
        if value:
            location = f"{segment_id}-{number}"
            day = _dtm_day(value, location)
            try:
                return check_date_of_care(day, today=today, location=location)
            except QueryError as exc:
                raise MappingError(
                    f"{location}: {exc.message}", code=102, location=location
                ) from exc
    return today


def _dtm_day(value: str, location: str) -> date:
    if _DTM.fullmatch(value) is not None and len(value) >= 8 and value[:8].isdigit():
        try:
            day = date(int(value[:4]), int(value[4:6]), int(value[6:8]))
        except ValueError:
            pass
        else:
            try:
                return check_date_of_care(day, location=location)
            except QueryError as exc:
                raise MappingError(
                    f"{location}: {exc.message}", code=102, location=location
                ) from exc
    raise MappingError(
        f"{location}: date must be an HL7 date/time YYYYMMDD[HHMM…] of the calendar, got {value!r}",
        code=102,
        location=location,
    )
