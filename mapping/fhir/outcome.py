"""What a CoverageEligibilityResponse says about the lookup itself: ``error[]`` for the regimes
that could not answer, the ``disposition`` sentence, and our per-regime status and warning
extensions for integrators."""

from __future__ import annotations

from mapping.fhir.common import CS_CDR_ERROR
from mapping.fhir.terms import (
    ERROR_REGIME_REJECTED,
    ERROR_REGIME_TIMEOUT,
    ERROR_REGIME_UNAVAILABLE,
    ERROR_REQUESTER_REFUSED,
    ERRORS,
    EXT_ERROR_REGIME,
    EXT_REGIME_STATUS,
    EXT_WARNING,
)
from mapping.fhir.values import Json, coding, extension
from mapping.shared import detail as shared_detail
from mapping.shared import regime_label
from rights.catalogue import RegimeCatalogue
from rights.result import InForceReason, LookupReport, RegimeStatus, RightsResult, Warning

__all__ = ["VALIDATION_WITHOUT_REGIME", "errors", "status_extensions", "warning_extensions"]

# The cdr-warning code of a person no regime knows (the code the regimes' statuses use too).
_UNKNOWN_PERSON = InForceReason.UNKNOWN_PERSON.value
VALIDATION_WITHOUT_REGIME = "validation-without-regime"
_ERROR_OF_STATUS = {
    RegimeStatus.UNAVAILABLE: ERROR_REGIME_UNAVAILABLE,
    RegimeStatus.TIMEOUT: ERROR_REGIME_TIMEOUT,
    RegimeStatus.REJECTED: ERROR_REGIME_REJECTED,
}


def errors(report: LookupReport, catalogue: RegimeCatalogue) -> list[Json]:
    """One error per regime that could not answer or refused.

    A person no regime knows is an answer, not an error (R4 RemittanceOutcome ``complete``:
    "processing has completed without errors"): it is said by a ``cdr-warning``
    ``unknown-person``, the disposition and each regime's ``cdr-regime-status``, never here."""
    return [_regime_error(r, catalogue) for r in report.failed]


def _regime_error(result: RightsResult, catalogue: RegimeCatalogue) -> Json:
    code = _ERROR_OF_STATUS.get(result.status, ERROR_REGIME_UNAVAILABLE)
    if result.evaluation.reason is InForceReason.REQUESTER_REFUSED:
        # A structure outside the FINESS categories CDR serves (seed: "Offre de service").
        code = ERROR_REQUESTER_REFUSED
    detail = shared_detail(result)
    return {
        "extension": [extension(EXT_ERROR_REGIME, valueCode=result.regime)],
        "code": _error_code(code, f"{regime_label(result.regime, catalogue)}: {detail}"),
    }


def _error_code(code: str, text: str) -> Json:
    return {"coding": [coding(CS_CDR_ERROR, code, ERRORS[code])], "text": text}


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


def warning_extensions(report: LookupReport, *, validation_asked: bool = False) -> list[Json]:
    """cdr-warning: what the desk or billing should know (a provisional number, a date of care
    outside every period, a person no regime knows…), about the identity asked for or about one
    regime's answer. ``validation_asked``: the request's purpose includes ``validation``."""
    out = [_warning(w, None) for w in report.warnings]
    if not report.found and not report.failed:
        text = "No regime knows this person"
        if not report.results:
            text = "No regime serves this kind of number"
        out.append(_warning(Warning(_UNKNOWN_PERSON, text), None))
    if validation_asked and report.query.is_discovery:
        # The response keeps the purpose asked for; this says what was done instead.
        text = (
            "validation asked without a regime (no insurance.coverage names one): every regime "
            "was asked, as for a discovery"
        )
        out.append(_warning(Warning(VALIDATION_WITHOUT_REGIME, text), None))
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
