"""The segments a lookup's report becomes in HL7 v2: the IN1/IN2/IN3 groups (IHE ITI TF-4
§4.1.2.11, PAM FR), the ROL of the médecin traitant, and ZRD, our segment on the lookup itself.
``mapping.rights_to_in1`` puts them into messages.

One group per AMO period of every regime that found the person (IN1-2 ``AMO``), per C2S or AME
situation (``CMUC``, ``AME``) and per declared work accident (``AMO`` with IN1-31 ``41``). The
regimes with rights in force on the date of care come first, and within a regime the period in
force, so that a consumer reading only the first group reads the rights that apply. Every value
is escaped in the delimiters given.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from mapping.er7 import Delimiters, components, escape, repeated, segment, subcomponents
from mapping.fhir_organization import organisation_name
from mapping.fhir_outcome import disposition
from rights.catalogue import RegimeCatalogue
from rights.identifiers import NIR_OID, NIR_TEST_OID
from rights.model import Exoneration, MedecinTraitant, Period, RegimeRights, SituationKind
from rights.result import LookupReport, RegimeStatus, RightsResult

__all__ = [
    "family_doctor_segment",
    "insurance_segments",
    "report_disposition",
    "zrd_segment",
]

# IN1-2, table 0068 as France redefines it (ITI TF-4 §4.1.2.11.1); "L": a local coding system.
_AMO = ("AMO", "Assurance maladie obligatoire")
_C2S = ("CMUC", "Complémentaire santé solidaire")
_AME = ("AME", "Aide médicale de l'État")
_LOCAL = "L"
# IN1-4 for the conventional complementary-body ids of Situation.complementary_id.
_SITUATION_NAMES = {
    "1": "C2S gérée par la caisse",
    "2": "C2S gérée par la caisse",
    "3": "C2S gérée par un organisme complémentaire",
    "10": "AME",
}
# IN1-31 nature d'assurance (B2 / PAM FR): maladie, régime local Alsace-Moselle, AT/MP.
_MALADIE, _ALSACE_MOSELLE, _ATMP = "10", "13", "41"
_MTM_ALSACE_MOSELLE = "9"  # CDRi 03.07 modulation "régime local Alsace-Moselle"
# IN3-5: the AMO share of the base tariff (table 0146 "PB"). 80 % is the hospital rate; an ETM,
# AT/MP or AME covers 100 %. Derived from the rights, not returned by CDR.
_BASE_RATE, _FULL_RATE = "80", "100"
# ROL-3, HL7 table 0443: the médecin traitant as the family health care professional.
_FAMILY_DOCTOR = ("FHCP", "Family Health Care Professional", "HL70443")
# Labels fall back to the regime code ("CNAM") when the caller has no catalogue to give.
_NO_CATALOGUE = RegimeCatalogue("", ())


@dataclass(frozen=True, slots=True)
class _Group:
    """What one IN1/IN2/IN3 group says, before it is written."""

    payer: tuple[str, str]
    organisation: str
    organisation_name: str
    period: Period
    rights: RegimeRights
    etm: str = ""
    nature: str = ""
    code_gestion: str = ""
    accident: str = ""
    rate: str = ""


def insurance_segments(
    report: LookupReport, d: Delimiters, *, catalogue: RegimeCatalogue | None = None
) -> list[str]:
    """The IN1, IN2, IN3 segments of every group, IN1-1 numbered 1..n.

    ``catalogue`` names the caisses in IN1-4 ("CPAM 751"); without it IN1-4 holds the CDR regime
    ("CNAM") for AMO groups and nothing for AT/MP ones.
    """
    authority = _nir_authority(report, d)
    out: list[str] = []
    for set_id, group in enumerate(_groups(report, catalogue), start=1):
        out += _encode(group, set_id, authority, d)
    return out


def _groups(report: LookupReport, catalogue: RegimeCatalogue | None) -> list[_Group]:
    day = report.query.date_of_care
    groups: list[_Group] = []
    for result in _most_relevant_first(report.found):
        rights = result.rights
        if rights is None:
            continue
        org = rights.organisation
        name = _organisation_label(org.number, org.cdr_regime or result.regime, catalogue)
        for amo in sorted(rights.amo, key=lambda a: (not a.period.covers(day), a.period.start)):
            etm = _etm(rights.exonerations, amo.period, day)
            groups.append(
                _Group(
                    _AMO,
                    org.number,
                    name,
                    amo.period,
                    rights,
                    etm=etm,
                    nature=_nature(rights, amo.period),
                    code_gestion=org.code_gestion,
                    rate=_FULL_RATE if etm else _BASE_RATE,
                )
            )
        for situation in rights.situations:
            ame = situation.kind is SituationKind.AME
            groups.append(
                _Group(
                    _AME if ame else _C2S,
                    situation.complementary_id,
                    _SITUATION_NAMES.get(situation.code, ""),
                    situation.period,
                    rights,
                    # C2S pays the ticket modérateur on top of the AMO group: no rate of its own.
                    rate=_FULL_RATE if ame else "",
                )
            )
        for accident in rights.accidents:
            number = "".join(accident.organisation.split())
            groups.append(
                _Group(
                    _AMO,
                    number,
                    _organisation_label(number, None, catalogue),
                    accident.period,
                    rights,
                    nature=_ATMP,
                    accident=accident.number,
                    rate=_FULL_RATE,
                )
            )
    return groups


def _most_relevant_first(found: tuple[RightsResult, ...]) -> list[RightsResult]:
    # Stable: catalogue order among regimes in force, and among the others.
    return sorted(found, key=lambda r: not r.evaluation.in_force)


def _organisation_label(
    number: str, cdr_regime: str | None, catalogue: RegimeCatalogue | None
) -> str:
    if catalogue is not None:
        return organisation_name(number, catalogue, cdr_regime)
    return cdr_regime.upper() if cdr_regime else ""


def _etm(exonerations: Iterable[Exoneration], period: Period, day: date) -> str:
    """The ETM of the group's period: among those overlapping it, the one in force on the date
    of care, else the latest to start."""
    overlapping = [e for e in exonerations if _overlap(e.period, period)]
    if not overlapping:
        return ""
    in_force = [e for e in overlapping if e.period.covers(day)]
    return max(in_force or overlapping, key=lambda e: e.period.start).code


def _nature(rights: RegimeRights, period: Period) -> str:
    local = any(
        m.code == _MTM_ALSACE_MOSELLE and _overlap(m.period, period) for m in rights.modulations
    )
    return _ALSACE_MOSELLE if local else _MALADIE


def _overlap(a: Period, b: Period) -> bool:
    return (a.end is None or b.start <= a.end) and (b.end is None or a.start <= b.end)


def _nir_authority(report: LookupReport, d: Delimiters) -> str:
    """CX-4 of IN1-49: the INS-NIR authority, or the test OID when the number asked is a test
    (or demo) one, as the FHIR mapping does for the ouvrant droit."""
    if report.query.nir.is_test:
        return subcomponents("", NIR_TEST_OID, "ISO", d=d)
    return subcomponents("ASIP-SANTE-INS-NIR", NIR_OID, "ISO", d=d)


def _encode(group: _Group, set_id: int, authority: str, d: Delimiters) -> list[str]:
    od = group.rights.ouvrant_droit
    qualite = group.rights.beneficiary.qualite
    in1 = [""] * 49
    in1[0] = str(set_id)
    in1[1] = components(*(escape(v, d) for v in group.payer), _LOCAL, d=d)
    in1[2] = escape(group.organisation, d)
    in1[3] = escape(group.organisation_name, d)
    in1[11] = _day(group.period.start)
    in1[12] = _day(group.period.end) if group.period.end else ""
    in1[14] = escape(group.etm, d)
    in1[15] = _person_name(od.family_name, od.given_names, d)
    in1[16] = components(qualite.value, escape(qualite.label, d), _LOCAL, d=d)
    in1[30] = group.nature
    in1[34] = escape(group.code_gestion, d)
    in1[35] = escape(group.accident, d)
    in1[48] = components(escape(od.nir, d), "", "", authority, "NH", d=d)
    rate = components("PB", group.rate, d=d) if group.rate else ""
    return [
        segment("IN1", *in1, d=d),
        # France uses nothing of IN2 (reference hl7v2.md §2); the segment keeps the group whole.
        segment("IN2", d=d),
        segment("IN3", "1", "", "", "", rate, d=d),
    ]


def _person_name(family: str, given: tuple[str, ...], d: Delimiters) -> str:
    first, others = (given[0], " ".join(given[1:])) if given else ("", "")
    return components(escape(family, d), escape(first, d), escape(others, d), d=d)


def _day(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def zrd_segment(
    report: LookupReport,
    d: Delimiters,
    *,
    catalogue: RegimeCatalogue | None = None,
    answers: str = "",
) -> str:
    """ZRD, our Z segment on the lookup itself: ZRD-1 outcome (complete|partial|error), ZRD-2
    rights in force on the date of care (Y/N), ZRD-3 that date, ZRD-4 ``regime^status`` per
    regime asked (RegimeStatus values), ZRD-5 the disposition sentence, ZRD-6 ``code^regime``
    per warning (regime empty for a warning about the identity asked), ZRD-7 the MSH-10 of the
    message this result answers (so a receiver can match them)."""
    statuses = repeated(*(_regime_status(r, d) for r in report.results), d=d)
    warnings = [components(escape(w.code, d), d=d) for w in report.warnings]
    for result in report.found:
        warnings += [
            components(escape(w.code, d), escape(result.regime, d), d=d)
            for w in result.evaluation.warnings
        ]
    return segment(
        "ZRD",
        report.outcome,
        "Y" if report.in_force else "N",
        _day(report.query.date_of_care),
        statuses,
        escape(report_disposition(report, catalogue), d),
        repeated(*warnings, d=d),
        escape(answers, d),
        d=d,
    )


def _regime_status(result: RightsResult, d: Delimiters) -> str:
    # ZRD-4: a refusal adds its reason, ``regime^rejected^reason`` (requester-refused,
    # request-rejected), so the engine can tell who must act.
    if result.status is RegimeStatus.REJECTED:
        reason = result.evaluation.reason.value
        return components(escape(result.regime, d), result.status.value, reason, d=d)
    return components(escape(result.regime, d), result.status.value, d=d)


def family_doctor_segment(report: LookupReport, d: Delimiters) -> str | None:
    """ROL for the médecin traitant: the one declared on the date of care, else the first known,
    regimes in force first."""
    day = report.query.date_of_care
    declared: list[MedecinTraitant] = [
        r.rights.medecin_traitant
        for r in _most_relevant_first(report.found)
        if r.rights is not None and r.rights.medecin_traitant is not None
    ]
    if not declared:
        return None
    doctor = next((m for m in declared if m.period.covers(day)), declared[0])
    person = components(
        escape(doctor.identifier, d),
        escape(doctor.family_name, d),
        escape(doctor.given_name, d),
        d=d,
    )
    return segment(
        "ROL",
        "1",
        "UP",
        components(*_FAMILY_DOCTOR, d=d),
        person,
        _day(doctor.period.start),
        _day(doctor.period.end) if doctor.period.end else "",
        d=d,
    )


def report_disposition(report: LookupReport, catalogue: RegimeCatalogue | None = None) -> str:
    """The sentence for a human, as the FHIR disposition says it (``mapping.fhir_outcome``)."""
    return disposition(report, catalogue or _NO_CATALOGUE)
