"""Evaluating a regime's answer against the date of care, and the warnings billing needs."""

from __future__ import annotations

import re
from datetime import date, timedelta

from rights.identifiers import Nir, NirKind
from rights.model import Period, RegimeRights, RightsQuery, SituationKind
from rights.result import Evaluation, InForceReason, RegimeStatus, Warning

__all__ = ["evaluate", "query_warnings"]

# Rights that end within this many days of the date of care are flagged for renewal.
_ENDING_SOON = timedelta(days=30)


def evaluate(
    status: RegimeStatus,
    rights: RegimeRights | None,
    day: date,
    *,
    refusal: InForceReason | None = None,
) -> Evaluation:
    """Whether ``rights`` hold on ``day``, why not, and what the admission desk should know.
    ``refusal``: for a ``REJECTED`` status, which refusal (default ``request-rejected``)."""
    if status is RegimeStatus.UNKNOWN:
        return Evaluation(in_force=False, reason=InForceReason.UNKNOWN_PERSON)
    if status is RegimeStatus.REJECTED:
        # The lookup says which refusal it was; a refusal is never "unavailable".
        return Evaluation(in_force=False, reason=refusal or InForceReason.REQUEST_REJECTED)
    if status is not RegimeStatus.FOUND or rights is None:
        return Evaluation(in_force=False, reason=InForceReason.REGIME_UNAVAILABLE)

    periods = [amo.period for amo in rights.amo]
    reason = _amo_reason(periods, day)
    in_force = reason is InForceReason.IN_FORCE
    warnings: list[Warning] = []
    if not in_force and periods:
        warnings.append(
            Warning(
                "outside-periods",
                f"the date of care {day.isoformat()} lies outside every AMO period: "
                "an invoice for it would be rejected",
            )
        )
    if in_force:
        warnings.extend(_ending_soon(periods, day))

    c2s = [s for s in rights.situations if s.kind is SituationKind.C2S]
    ame = [s for s in rights.situations if s.kind is SituationKind.AME]
    c2s_in_force = any(s.period.covers(day) for s in c2s)
    ame_in_force = any(s.period.covers(day) for s in ame)
    if c2s and not c2s_in_force:
        warnings.append(Warning("c2s-not-in-force", "C2S is known but not in force on that day"))
    if ame and not ame_in_force:
        warnings.append(Warning("ame-not-in-force", "AME is known but not in force on that day"))

    etm_in_force = tuple(e.code for e in rights.exonerations if e.period.covers(day))
    if rights.exonerations and not etm_in_force:
        warnings.append(
            Warning("etm-not-in-force", "exonerations are known but none holds on that day")
        )
    if rights.organisation.code_gestion == "65":
        warnings.append(
            Warning(
                "detenu",
                "détenu (code gestion 65): tiers payant intégral, 100 % by the régime général",
            )
        )
    return Evaluation(
        in_force=in_force,
        reason=reason,
        c2s_in_force=c2s_in_force,
        ame_in_force=ame_in_force,
        exonerations_in_force=etm_in_force,
        warnings=tuple(warnings),
    )


def _amo_reason(periods: list[Period], day: date) -> InForceReason:
    if not periods:
        return InForceReason.NO_RIGHTS
    if any(p.covers(day) for p in periods):
        return InForceReason.IN_FORCE
    if all(p.is_after(day) for p in periods):
        return InForceReason.NOT_YET_OPEN
    return InForceReason.EXPIRED


def _ending_soon(periods: list[Period], day: date) -> list[Warning]:
    covering = [p for p in periods if p.covers(day)]
    ends = [p.end for p in covering]
    if any(end is None for end in ends):
        return []
    last = max(end for end in ends if end is not None)
    if last - day <= _ENDING_SOON and not any(p.start == last + timedelta(days=1) for p in periods):
        return [Warning("ending-soon", f"AMO rights end on {last.isoformat()}")]
    return []


_LUNAR = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def query_warnings(query: RightsQuery) -> tuple[Warning, ...]:
    """Warnings about the identity asked for, independent of any regime's answer."""
    warnings = list(_nir_warnings(query.nir))
    if query.birth_date and _is_lunar(query.birth_date):
        warnings.append(
            Warning(
                "lunar-birth-date",
                f"birth date {query.birth_date} is lunar: transmit it as on the card",
            )
        )
    return tuple(warnings)


def _nir_warnings(nir: Nir) -> tuple[Warning, ...]:
    messages = {
        NirKind.PROVISIONAL: "provisional number (NNP, 7/8): rights may be AME or pending",
        NirKind.MSA_PROVISIONAL: "MSA provisional number (555555, shown PROVIS)",
        NirKind.MIG: "MIG number (5/6): RSS coordinated beneficiary",
        NirKind.NIR_UNUSUAL_SEX: "NIR starting with 3 or 4: accepted, check the identity",
    }
    out = [Warning(f"nir-{nir.kind.value}", messages[nir.kind])] if nir.kind in messages else []
    if nir.is_test:
        out.append(Warning("test-nir", "test or demonstration NIR: not a real person"))
    return tuple(out)


def _is_lunar(text: str) -> bool:
    match = _LUNAR.fullmatch(text)
    if match is None:
        return False
    year, month, day = (int(g) for g in match.groups())
    try:
        date(year, month, day)
    except ValueError:
        return True
    return False
