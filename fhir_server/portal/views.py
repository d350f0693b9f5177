"""What the result page and the attestation show, made from a ``LookupReport``: plain values,
already worded in French, so that templates only lay them out (and tests read them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from fhir_server.portal.labels import (
    ETM_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    french_date,
    french_period,
    french_warning,
    lunar_or_french,
)
from rights.catalogue import RegimeCatalogue
from rights.model import RegimeRights, SituationKind
from rights.result import LookupReport, RegimeStatus, RightsResult

__all__ = ["RegimeBlock", "RegimeLine", "ResultView", "result_view"]

# C2S situation codes (DESIGN §3): 1/2 managed by the caisse, 3 by a complementary body.
_C2S_LABELS = {
    "1": "C2S gérée par la caisse",
    "2": "C2S avec participation, gérée par la caisse",
    "3": "C2S gérée par un organisme complémentaire",
}


@dataclass(frozen=True, slots=True)
class RegimeLine:
    """One regime's answer in discovery: who answered what."""

    code: str
    label: str
    status: str
    found: bool
    failed: bool


@dataclass(frozen=True, slots=True)
class RegimeBlock:
    """Every information block of one regime's answer (seeds: "informations retournées")."""

    regime_label: str
    in_force: bool
    reason: str
    beneficiary_name: str
    beneficiary_birth_date: str
    beneficiary_rang: int
    qualite: str
    beneficiary_nir: str
    ouvrant_droit_name: str
    ouvrant_droit_nir: str
    regime_code: str
    caisse: str
    centre: str
    code_gestion: str
    organisation_number: str
    amo_periods: list[str]
    c2s: list[str]
    ame: list[str]
    etm: list[str]
    modulations: list[str]
    medecin_traitant: str
    medecin_traitant_period: str
    default_at_organisation: str
    accidents: list[str]
    returns_atmp: bool
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class ResultView:
    lookup_id: str
    asked_at: str  # JJ/MM/AAAA à HH:MM, in the establishment's zone
    date_of_care: str
    nir_masked: str
    discovery: bool
    regime_asked: str
    in_force: bool
    headline: str  # "Droits ouverts à la date des soins" or why not
    blocks: list[RegimeBlock]
    regimes: list[RegimeLine] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    any_found: bool = False


def _name(family: str, given: tuple[str, ...]) -> str:
    return " ".join([family.upper(), *given]).strip()


def _block(result: RightsResult, rights: RegimeRights, catalogue: RegimeCatalogue) -> RegimeBlock:
    regime = catalogue.get(result.regime)
    org = rights.organisation
    situations = rights.situations
    mt = rights.medecin_traitant
    return RegimeBlock(
        regime_label=regime.label,
        in_force=result.evaluation.in_force,
        reason=REASON_LABELS[result.evaluation.reason],
        beneficiary_name=_name(rights.beneficiary.family_name, rights.beneficiary.given_names),
        beneficiary_birth_date=lunar_or_french(rights.beneficiary.birth_date),
        beneficiary_rang=rights.beneficiary.rang,
        qualite=f"{rights.beneficiary.qualite.value} — {rights.beneficiary.qualite.label}",
        beneficiary_nir=rights.beneficiary.nir or "",
        ouvrant_droit_name=_name(
            rights.ouvrant_droit.family_name, rights.ouvrant_droit.given_names
        ),
        ouvrant_droit_nir=rights.ouvrant_droit.nir,
        regime_code=org.regime_code,
        caisse=org.caisse,
        centre=org.centre,
        code_gestion=org.code_gestion,
        organisation_number=org.number,
        amo_periods=[french_period(a.period) for a in rights.amo],
        c2s=[
            f"{_C2S_LABELS.get(s.code, 'C2S ' + s.code)} (organisme {s.complementary_id}), "
            f"{french_period(s.period)}"
            for s in situations
            if s.kind is SituationKind.C2S
        ],
        ame=[
            f"AME (organisme {s.complementary_id}), {french_period(s.period)}"
            for s in situations
            if s.kind is SituationKind.AME
        ],
        etm=[
            f"{e.code} — {ETM_LABELS.get(e.code, 'exonération')}, {french_period(e.period)}"
            for e in rights.exonerations
        ],
        modulations=[f"{m.code}, {french_period(m.period)}" for m in rights.modulations],
        medecin_traitant=""
        if mt is None
        else f"Dr {mt.given_name} {mt.family_name.upper()} (n° {mt.identifier})",
        medecin_traitant_period="" if mt is None else french_period(mt.period),
        default_at_organisation=rights.default_at_organisation or "",
        accidents=[
            f"n° {a.number}, organisme {a.organisation}, {french_period(a.period)}"
            for a in rights.accidents
        ],
        returns_atmp=regime.returns_atmp,
        warnings=[french_warning(w) for w in result.evaluation.warnings],
    )


def _headline(report: LookupReport) -> str:
    if report.in_force:
        return "Droits ouverts à la date des soins"
    found = report.found
    if found:
        return "Droits fermés à la date des soins : " + REASON_LABELS[found[0].evaluation.reason]
    if any(r.status is RegimeStatus.UNKNOWN for r in report.results) and not report.failed:
        return "Personne inconnue : aucun régime interrogé ne connaît ce bénéficiaire"
    if report.failed and len(report.failed) == len(report.results):
        return "Régime indisponible : la consultation n'a pas pu aboutir, réessayez plus tard"
    return (
        "Personne non trouvée parmi les régimes qui ont répondu ; "
        "certains régimes n'ont pas répondu, réessayez plus tard"
    )


def _missing(report: LookupReport, catalogue: RegimeCatalogue, found: bool) -> list[str]:
    """Rights found while some regimes did not answer: what is shown may not be all."""
    if not found or not report.failed:
        return []
    labels = ", ".join(catalogue.get(r.regime).label for r in report.failed)
    return [
        f"Sans réponse de : {labels}. Les droits qu'ils détiennent éventuellement ne sont pas "
        "affichés ; relancez la consultation plus tard."
    ]


def result_view(
    lookup_id: str, report: LookupReport, catalogue: RegimeCatalogue, asked_at: datetime
) -> ResultView:
    query = report.query
    blocks = [
        _block(result, result.rights, catalogue)
        for result in report.results
        if result.status is RegimeStatus.FOUND and result.rights is not None
    ]
    return ResultView(
        lookup_id=lookup_id,
        asked_at=asked_at.strftime("%d/%m/%Y à %H:%M"),
        date_of_care=french_date(query.date_of_care),
        nir_masked=query.nir.masked,
        discovery=query.is_discovery,
        regime_asked="régime inconnu (recherche dans tous les régimes)"
        if query.regime is None
        else catalogue.get(query.regime).label,
        in_force=report.in_force,
        headline=_headline(report),
        blocks=blocks,
        regimes=[
            RegimeLine(
                code=r.regime,
                label=catalogue.get(r.regime).label,
                status=STATUS_LABELS[r.status],
                found=r.status is RegimeStatus.FOUND,
                failed=not r.status.answered,
            )
            for r in report.results
        ],
        warnings=[
            *_missing(report, catalogue, bool(blocks)),
            *map(french_warning, report.warnings),
        ],
        any_found=bool(blocks),
    )
