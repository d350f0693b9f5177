"""The segments a lookup's report becomes in HL7 v2: the IN1/IN2/IN3 groups (IHE ITI TF-4
§4.1.2.11, PAM FR 2.11.2 §6.20), the OBX stating the rights' status, and ZRD, our segment on the
lookup itself. ``mapping.hl7v2.rights_to_in1`` puts them into messages; the ROL of the médecin
traitant is built by ``mapping.hl7v2.rol``.

Per regime that found the person, in the order PAM FR 2.11.2 §6.20.2 gives ("à la suite de la
couverture AMO"): one base group per AMO period (IN1-2 ``AMO``, or ``AME`` where an AME situation
covers the period), then the complementary groups that apply to the date of care (``CMUC`` for
C2S, ``AMEC`` for AME; one each, §6.20.2 "une seule période … celle qui s'applique à la venue").
Regimes with rights in force on the date of care come first, and within a regime the period in
force, so that a consumer reading only the first group reads the rights that apply. Declared
AT/MP are not groups (IN1-31 ``41`` qualifies the visit's cover, which only the GAM knows): they
are listed in ZRD-10. Every value is escaped in the delimiters given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from mapping.hl7v2.b2_exoneration import b2_exoneration
from mapping.hl7v2.er7 import Delimiters, components, escape, repeated, segment, subcomponents
from mapping.shared import disposition, organisation_name
from rights.catalogue import RegimeCatalogue
from rights.identifiers import NIR_TEST_OID
from rights.model import Exoneration, Period, RegimeRights, Situation, SituationKind
from rights.result import LookupReport, RegimeStatus, RightsResult

__all__ = [
    "InsuranceGroup",
    "encode_groups",
    "insurance_groups",
    "insurance_segments",
    "report_disposition",
    "rights_state",
    "status_obx",
    "zrd_segment",
]

# IN1-2, table 0072 as IHE France redefines it (PAM FR 2.11.2 §6.20.4); "L": a local system.
_AMO = ("AMO", "Assurance maladie obligatoire")
_AME = ("AME", "Aide médicale de l'État")
_CMUC = ("CMUC", "Complémentaire santé solidaire")
_AMEC = ("AMEC", "Aide médicale de l'État complémentaire")
_LOCAL = "L"
# IN1-4 for the conventional complementary-body ids of Situation.complementary_id.
_SITUATION_NAMES = {
    "1": "C2S gérée par la caisse",
    "2": "C2S gérée par la caisse",
    "3": "C2S gérée par un organisme complémentaire",
    "10": "AME",
}
# IN1-31 of a base group, nature d'assurance (PAM FR 2.11.2 §6.20.1, B2 type 2 pos. 77-78):
# maladie, maladie Alsace-Moselle, maternité.
_MALADIE, _ALSACE_MOSELLE, _MATERNITE = "10", "13", "30"
_MTM_ALSACE_MOSELLE = "9"  # CDRi 03.07 modulation "régime local Alsace-Moselle"
_ETM_MATERNITE = "6"  # CDRi 03.05 exonération "maternité" (FIDES-BS RG_BS684)
# IN1-31 of a complementary group, type de contrat (PAM FR 2.11.2 §6.20.2): 89 "bénéficiaire
# de la CMUC en cours" (C2S succeeded CMU-C in 2019), 02 "AME complémentaire".
_CONTRACT = {SituationKind.C2S: "89", SituationKind.AME: "02"}
# IN1-49 of a base group: the billing NIR of the ouvrant droit, CX-5 "SS" under the NIR
# authority, never the INS-NIR one (PAM FR 2.11.2 §6.6.1; data types v1.8.2 §N.1).
_NIR_AUTHORITY = ("ASIP-SANTE-NIR", "1.2.250.1.213.1.4.8", "ISO")
_SOCIAL_SECURITY = "SS"
# Labels fall back to the regime code ("CNAM") when the caller has no catalogue to give.
_NO_CATALOGUE = RegimeCatalogue("", ())


@dataclass(frozen=True, slots=True)
class InsuranceGroup:
    """What one IN1/IN2/IN3 group says, before it is written."""

    payer: tuple[str, str]
    organisation: str
    organisation_name: str
    period: Period
    rights: RegimeRights
    complementary: bool = False
    cdri_etm: str = ""  # the CDRi code, kept for ZRD-9
    nature: str = ""  # IN1-31: nature d'assurance (base) or type de contrat (complementary)
    code_gestion: str = ""


def insurance_segments(
    report: LookupReport, d: Delimiters, *, catalogue: RegimeCatalogue | None = None
) -> list[str]:
    """The IN1, IN2, IN3 segments of every group, IN1-1 numbered 1..n.

    ``catalogue`` names the caisses in IN1-4 ("CPAM 751"); without it IN1-4 holds the CDR regime
    ("CNAM") for base groups.
    """
    return encode_groups(insurance_groups(report, catalogue), report, d)


def encode_groups(
    groups: Sequence[InsuranceGroup], report: LookupReport, d: Delimiters
) -> list[str]:
    authority = _nir_authority(report, d)
    out: list[str] = []
    for set_id, group in enumerate(groups, start=1):
        out += _encode(group, set_id, authority, d)
    return out


def insurance_groups(
    report: LookupReport, catalogue: RegimeCatalogue | None = None
) -> list[InsuranceGroup]:
    day = report.query.date_of_care
    groups: list[InsuranceGroup] = []
    for result in _most_relevant_first(report.found):
        rights = result.rights
        if rights is None:
            continue
        org = rights.organisation
        name = _organisation_label(org.number, org.cdr_regime or result.regime, catalogue)
        ame = [s.period for s in rights.situations if s.kind is SituationKind.AME]
        for amo in sorted(rights.amo, key=lambda a: (not a.period.covers(day), a.period.start)):
            # PAM FR 2.11.2 §6.20.1/§6.20.4: the base slot is "AME" when the caisse covers the
            # period as Aide médicale de l'État, not as assurance maladie.
            payer = _AME if any(_overlap(p, amo.period) for p in ame) else _AMO
            groups.append(
                InsuranceGroup(
                    payer,
                    org.number,
                    name,
                    amo.period,
                    rights,
                    cdri_etm=_etm(rights.exonerations, amo.period, day),
                    nature=_nature(rights, amo.period, day),
                    code_gestion=org.code_gestion,
                )
            )
        for situation in _applying(rights.situations, day):
            groups.append(
                InsuranceGroup(
                    _AMEC if situation.kind is SituationKind.AME else _CMUC,
                    situation.complementary_id,
                    _SITUATION_NAMES.get(situation.code, ""),
                    situation.period,
                    rights,
                    complementary=True,
                    nature=_CONTRACT[situation.kind],
                )
            )
    return groups


def _applying(situations: Iterable[Situation], day: date) -> list[Situation]:
    """Per kind (C2S, AME), the situation covering the date of care, the latest to start."""
    chosen: dict[SituationKind, Situation] = {}
    for situation in situations:
        if not situation.period.covers(day):
            continue
        held = chosen.get(situation.kind)
        if held is None or situation.period.start > held.period.start:
            chosen[situation.kind] = situation
    return [chosen[k] for k in (SituationKind.C2S, SituationKind.AME) if k in chosen]


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
    """The CDRi ETM of the group's period: among those overlapping it, the one in force on the
    date of care, else the latest to start."""
    overlapping = [e for e in exonerations if _overlap(e.period, period)]
    if not overlapping:
        return ""
    in_force = [e for e in overlapping if e.period.covers(day)]
    return max(in_force or overlapping, key=lambda e: e.period.start).code


def _nature(rights: RegimeRights, period: Period, day: date) -> str:
    """IN1-31 of a base group (PAM FR 2.11.2 §6.20.1): 30 maternité when a maternité
    exonération covers the date of care within the period (from the sixth month every care is
    under the maternité insurance), 13 under the Alsace-Moselle local scheme, else 10."""
    if period.covers(day) and any(
        e.code == _ETM_MATERNITE and e.period.covers(day) for e in rights.exonerations
    ):
        return _MATERNITE
    local = any(
        m.code == _MTM_ALSACE_MOSELLE and _overlap(m.period, period) for m in rights.modulations
    )
    return _ALSACE_MOSELLE if local else _MALADIE


def _overlap(a: Period, b: Period) -> bool:
    return (a.end is None or b.start <= a.end) and (b.end is None or a.start <= b.end)


def _nir_authority(report: LookupReport, d: Delimiters) -> str:
    """CX-4 of IN1-49: the NIR authority, or the test OID when the number asked is a test (or
    demo) one, as the FHIR mapping does for the ouvrant droit. A provisional number (AME, 7/8…)
    is written the same way: B2 bills it in the NIR zone."""
    if report.query.nir.is_test:
        return subcomponents("", NIR_TEST_OID, "ISO", d=d)
    return subcomponents(*_NIR_AUTHORITY, d=d)


def _encode(group: InsuranceGroup, set_id: int, authority: str, d: Delimiters) -> list[str]:
    od = group.rights.ouvrant_droit
    qualite = group.rights.beneficiary.qualite
    in1 = [""] * 49
    in1[0] = str(set_id)
    in1[1] = components(*(escape(v, d) for v in group.payer), _LOCAL, d=d)
    in1[2] = escape(group.organisation, d)
    in1[3] = escape(group.organisation_name, d)
    in1[11] = _day(group.period.start)
    in1[12] = _day(group.period.end) if group.period.end else ""
    # PAM FR 2.11.2 §6.20.1: IN1-15 is the B2 annexe 9 code (1 character), not the CDRi one.
    in1[14] = escape(b2_exoneration(group.cdri_etm), d)
    in1[15] = _person_name(od.family_name, od.given_names, d)
    in1[16] = components(qualite.value, escape(qualite.label, d), _LOCAL, d=d)
    in1[30] = group.nature
    if not group.complementary:
        in1[34] = escape(group.code_gestion, d)
        # §6.20.2: IN1-49 of a complementary group is the member number at that body, which
        # CDR does not give; only base groups carry the ouvrant droit's NIR.
        in1[48] = components(escape(od.nir, d), "", "", authority, _SOCIAL_SECURITY, d=d)
    return [
        segment("IN1", *in1, d=d),
        # France uses nothing of IN2 for these groups (reference hl7v2.md §2).
        segment("IN2", d=d),
        # IN3-5 (RE) is left empty: CDR returns no rate, and one derived from the period would
        # be wrong for part of the care (docs/hl7-interface.md §8).
        segment("IN3", "1", d=d),
    ]


def _person_name(family: str, given: tuple[str, ...], d: Delimiters) -> str:
    first, others = (given[0], " ".join(given[1:])) if given else ("", "")
    return components(escape(family, d), escape(first, d), escape(others, d), d=d)


def _day(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def rights_state(report: LookupReport) -> tuple[str, bool]:
    """The rights on the date of care as a receiver must read them, and whether the result is
    final: ``in-force`` (some regime has them), ``not-in-force`` (every regime answered, none
    has them) or ``unknown`` (no rights found, but some regime could not be asked). A result
    is final when every regime answered; "could not ask" is not "no rights"."""
    final = not report.failed
    if report.in_force:
        return "in-force", final
    return ("not-in-force" if final else "unknown"), final


_STATE_LABELS = {
    "in-force": "Droits AMO en vigueur",
    "not-in-force": "Pas de droits AMO en vigueur",
    "unknown": "Inconnu : un régime n'a pas pu être interrogé",
}
_ZRD_STATE = {"in-force": "Y", "not-in-force": "N", "unknown": "U"}


def status_obx(
    report: LookupReport, observed: str, d: Delimiters, *, final: bool | None = None
) -> str:
    """OBX stating the rights' status in standard fields, for receivers that take no Z segment:
    OBX-3 what is observed, OBX-5 the state (``rights_state``), OBX-11 ``F`` final or ``P``
    preliminary (a regime could not be asked), OBX-14 when. HL7 v2.5 ADT_A01/ADT_A05 carry
    OBX after PV1/PV2 (PAM FR 2.11.2 §6.21 keeps OBX optional). ``final`` None: final when
    every regime answered."""
    state, answered = rights_state(report)
    final = answered if final is None else final
    return segment(
        "OBX",
        "1",
        "CE",
        components("CDR-RIGHTS", escape("Droits AMO à la date de soins", d), _LOCAL, d=d),
        "",
        components(state, escape(_STATE_LABELS[state], d), _LOCAL, d=d),
        "",
        "",
        "",
        "",
        "",
        "F" if final else "P",
        "",
        "",
        observed,
        d=d,
    )


def zrd_segment(
    report: LookupReport,
    d: Delimiters,
    *,
    catalogue: RegimeCatalogue | None = None,
    answers: str = "",
    groups: Sequence[InsuranceGroup] | None = None,
    final: bool | None = None,
) -> str:
    """ZRD, our Z segment on the lookup itself: ZRD-1 outcome (complete|partial|error), ZRD-2
    rights on the date of care ``Y`` in force, ``N`` not in force, ``U`` unknown (a regime could
    not be asked), ZRD-3 that date, ZRD-4 ``regime^status`` per regime asked (RegimeStatus
    values; a refusal adds its reason), ZRD-5 the disposition sentence, ZRD-6 ``code^regime``
    per warning (regime empty for a warning about the identity asked), ZRD-7 the MSH-10 of the
    message this result answers, ZRD-8 the result status in the values of HL7 table 0085: ``F``
    final or ``P`` preliminary (an updated result follows), ZRD-9 ``IN1-1^CDRi ETM code`` per
    group with an exonération (the raw code IN1-15 cannot carry), ZRD-10
    ``number^organisation^start^end`` per declared AT/MP. ``final`` None: final when every
    regime answered (``rights_state``)."""
    if groups is None:
        groups = insurance_groups(report, catalogue)
    statuses = repeated(*(_regime_status(r, d) for r in report.results), d=d)
    warnings = [components(escape(w.code, d), d=d) for w in report.warnings]
    for result in report.found:
        warnings += [
            components(escape(w.code, d), escape(result.regime, d), d=d)
            for w in result.evaluation.warnings
        ]
    state, answered = rights_state(report)
    final = answered if final is None else final
    etms = [
        components(str(n), escape(g.cdri_etm, d), d=d)
        for n, g in enumerate(groups, start=1)
        if g.cdri_etm
    ]
    return segment(
        "ZRD",
        report.outcome,
        _ZRD_STATE[state],
        _day(report.query.date_of_care),
        statuses,
        escape(report_disposition(report, catalogue), d),
        repeated(*warnings, d=d),
        escape(answers, d),
        "F" if final else "P",
        repeated(*etms, d=d),
        repeated(*_accidents(report, d), d=d),
        d=d,
    )


def _accidents(report: LookupReport, d: Delimiters) -> list[str]:
    out = []
    for result in _most_relevant_first(report.found):
        if result.rights is None:
            continue
        for accident in result.rights.accidents:
            period = accident.period
            out.append(
                components(
                    escape(accident.number, d),
                    escape("".join(accident.organisation.split()), d),
                    _day(period.start),
                    _day(period.end) if period.end else "",
                    d=d,
                )
            )
    return out


def _regime_status(result: RightsResult, d: Delimiters) -> str:
    # ZRD-4: a refusal adds its reason, ``regime^rejected^reason`` (requester-refused,
    # request-rejected), so the engine can tell who must act.
    if result.status is RegimeStatus.REJECTED:
        reason = result.evaluation.reason.value
        return components(escape(result.regime, d), result.status.value, reason, d=d)
    return components(escape(result.regime, d), result.status.value, d=d)


def report_disposition(report: LookupReport, catalogue: RegimeCatalogue | None = None) -> str:
    """The sentence for a human, as the FHIR disposition says it (``mapping.shared``)."""
    return disposition(report, catalogue or _NO_CATALOGUE)
