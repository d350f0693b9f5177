"""What a CoverageEligibilityResponse says about the lookup itself: ``error[]`` for the regimes
that could not answer, the ``disposition`` sentence, and our per-regime status and warning
extensions for integrators."""

from __future__ import annotations

from mapping.fhir_common import CS_CDR_ERROR
from mapping.fhir_organization import regime_label
from mapping.fhir_terms import (
    ERROR_REGIME_REJECTED,
    ERROR_REGIME_TIMEOUT,
    ERROR_REGIME_UNAVAILABLE,
    ERROR_REQUESTER_REFUSED,
    ERROR_UNKNOWN_PERSON,
    ERRORS,
    EXT_ERROR_REGIME,
    EXT_REGIME_STATUS,
    EXT_WARNING,
)
from mapping.fhir_values import Json, coding, extension
from rights.catalogue import RegimeCatalogue
from rights.result import InForceReason, LookupReport, RegimeStatus, RightsResult, Warning

__all__ = ["disposition", "errors", "status_extensions", "warning_extensions"]

_ERROR_OF_STATUS = {
    RegimeStatus.UNAVAILABLE: ERROR_REGIME_UNAVAILABLE,
    RegimeStatus.TIMEOUT: ERROR_REGIME_TIMEOUT,
    RegimeStatus.REJECTED: ERROR_REGIME_REJECTED,
}
_NOT_IN_FORCE = {
    InForceReason.EXPIRED: "rights expired",
    InForceReason.NOT_YET_OPEN: "rights not yet open",
    InForceReason.NO_RIGHTS: "no AMO period on file",
}


def errors(report: LookupReport, catalogue: RegimeCatalogue) -> list[Json]:
    """One error per regime that could not answer; ``unknown-person`` when every regime asked
    answered that it does not know the person."""
    out = [_regime_error(r, catalogue) for r in report.failed]
    if not report.found and not report.failed:
        text = "No regime knows this person"
        if not report.results:
            text = "No regime serves this kind of number"
        out.append({"code": _error_code(ERROR_UNKNOWN_PERSON, text)})
    return out


def _regime_error(result: RightsResult, catalogue: RegimeCatalogue) -> Json:
    code = _ERROR_OF_STATUS.get(result.status, ERROR_REGIME_UNAVAILABLE)
    if result.evaluation.reason is InForceReason.REQUESTER_REFUSED:
        # A structure outside the FINESS categories CDR serves (seed: "Offre de service").
        code = ERROR_REQUESTER_REFUSED
    detail = _detail(result)
    return {
        "extension": [extension(EXT_ERROR_REGIME, valueCode=result.regime)],
        "code": _error_code(code, f"{regime_label(result.regime, catalogue)}: {detail}"),
    }


def _detail(result: RightsResult) -> str:
    # The lookup prefixes its details with the regime code; the label already names it.
    detail = result.detail or result.status.value
    return detail.removeprefix(f"{result.regime}: ").rstrip(".")


def _error_code(code: str, text: str) -> Json:
    return {"coding": [coding(CS_CDR_ERROR, code, ERRORS[code])], "text": text}


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
        sentences.append(f"{label} {_failure(result)}: {_detail(result)}.")
    return " ".join(sentences)


def _failure(result: RightsResult) -> str:
    """What a regime that gave no rights did: a refusal is an answer, not a failure to reach."""
    reason = result.evaluation.reason
    if reason is InForceReason.REQUESTER_REFUSED:
        return f"refused the requesting structure ({reason.value})"
    if result.status is RegimeStatus.REJECTED:
        return f"refused the request ({reason.value})"
    return f"could not answer ({result.status.value})"


def status_extensions(report: LookupReport) -> list[Json]:
    """cdr-regime-status: how each regime asked answered, and how fast."""
    return [
        extension(
            EXT_REGIME_STATUS,
            extension=[
                extension("regime", valueCode=r.regime),
                extension("status", valueCode=r.status.value),
                extension("reason", valueCode=r.evaluation.reason.value),
                extension("elapsedMs", valueDecimal=round(r.elapsed_ms, 1)),
                extension("attempts", valueUnsignedInt=r.attempts),
                extension("fromCache", valueBoolean=r.from_cache),
            ],
        )
        for r in report.results
    ]


def warning_extensions(report: LookupReport) -> list[Json]:
    """cdr-warning: what the desk or billing should know (a provisional number, a date of care
    outside every period…), about the identity asked for or about one regime's answer."""
    out = [_warning(w, None) for w in report.warnings]
    for result in report.found:
        out += [_warning(w, result.regime) for w in result.evaluation.warnings]
    return out


def _warning(warning: Warning, regime: str | None) -> Json:
    parts = [
        extension("code", valueCode=warning.code),
        extension("message", valueString=warning.message),
    ]
    if regime is not None:
        parts.append(extension("regime", valueCode=regime))
    return extension(EXT_WARNING, extension=parts)
