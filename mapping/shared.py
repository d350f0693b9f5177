"""Wording both result forms use: how staff name a caisse or a regime, and the one sentence that
sums a lookup up (FHIR ``disposition``, HL7 ZRD/NTE text). Kept here so that the HL7 v2 and the
FHIR mappings stay independent of each other."""

from __future__ import annotations

from rights.catalogue import Regime, RegimeCatalogue
from rights.errors import UnknownRegimeError
from rights.result import InForceReason, LookupReport, RegimeStatus, RightsResult

__all__ = ["detail", "disposition", "organisation_name", "regime_label"]

_NOT_IN_FORCE = {
    InForceReason.EXPIRED: "rights expired",
    InForceReason.NOT_YET_OPEN: "rights not yet open",
    InForceReason.NO_RIGHTS: "no AMO period on file",
}


def organisation_name(number: str, catalogue: RegimeCatalogue, cdr_regime: str | None) -> str:
    """How admission staff name a caisse: "CPAM 751", "CGSS 971", "MSA 471", "CNMSS 756"."""
    regime = _regime(number, catalogue, cdr_regime)
    if regime is None or len(number) != 9:
        return f"Organisme {number}"
    caisse = number[2:5]
    if regime.code == "cnam" and number[:2] == "01":
        # Régime général: a CPAM per department, a CGSS in each overseas department.
        return f"{'CGSS' if caisse.startswith('97') else 'CPAM'} {caisse}"
    return f"{regime.label} {caisse}"


def _regime(number: str, catalogue: RegimeCatalogue, cdr_regime: str | None) -> Regime | None:
    if cdr_regime:
        try:
            return catalogue.get(cdr_regime)
        except UnknownRegimeError:
            pass
    return catalogue.route_organisation(number)


def regime_label(code: str, catalogue: RegimeCatalogue) -> str:
    """The catalogue label of a regime ("CNAM"), or its code when the catalogue lacks it."""
    try:
        return catalogue.get(code).label
    except UnknownRegimeError:
        return code.upper()


def disposition(report: LookupReport, catalogue: RegimeCatalogue) -> str:
    """One human sentence per thing the admission desk must know, regime by regime."""
    day = report.query.date_of_care.isoformat()
    found = report.found
    sentences: list[str] = []
    in_force = [regime_label(r.regime, catalogue) for r in found if r.evaluation.in_force]
    if in_force:
        sentences.append(f"Rights in force with {' and '.join(in_force)} on {day}.")
    for result in found:
        if not result.evaluation.in_force:
            why = _NOT_IN_FORCE.get(result.evaluation.reason, result.evaluation.reason.value)
            label = regime_label(result.regime, catalogue)
            sentences.append(f"{label} knows this person: {why}, no rights in force on {day}.")
    if not found:
        if not report.failed:
            sentences.append("No regime knows this person.")
        elif len(report.failed) < len(report.results):
            sentences.append("No regime that answered knows this person.")
        elif all(r.status is RegimeStatus.REJECTED for r in report.failed):
            sentences.append("Every regime asked refused the lookup.")
        else:
            sentences.append("No regime could answer.")
    for result in report.failed:
        label = regime_label(result.regime, catalogue)
        sentences.append(f"{label} {_failure(result)}: {detail(result)}.")
    return " ".join(sentences)


def _failure(result: RightsResult) -> str:
    """What a regime that gave no rights did: a refusal is an answer, not a failure to reach."""
    reason = result.evaluation.reason
    if reason is InForceReason.REQUESTER_REFUSED:
        return f"refused the requesting structure ({reason.value})"
    if result.status is RegimeStatus.REJECTED:
        return f"refused the request ({reason.value})"
    return f"could not answer ({result.status.value})"


def detail(result: RightsResult) -> str:
    # The lookup prefixes its details with the regime code; the label already names it.
    detail = result.detail or result.status.value
    return detail.removeprefix(f"{result.regime}: ").rstrip(".")
