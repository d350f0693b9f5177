"""Exonérations (ETM, CDRi 03.05) and modulations (MTM, CDRi 03.07) of the ticket modérateur as
Coverage extensions, each with a ``code`` Coding and a ``period``, and as benefit items.

An ETM belongs to the AMO Coverages whose period it overlaps; one that overlaps none (a regime
may send it for a closed period) goes on the latest AMO Coverage rather than being dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mapping.fhir.terms import CS_ETM, CS_MTM, ETM_CODES, EXT_EXONERATION, EXT_MODULATION, MTM_CODES
from mapping.fhir.values import Json, benefit_item, coding, extension, period_json, period_text
from rights.model import Exoneration, Period, RegimeRights

__all__ = ["TmEntry", "tm_entries"]


@dataclass(frozen=True, slots=True)
class TmEntry:
    """One ETM or MTM: its extension, its benefit item, and the starts of the AMO periods whose
    Coverage carries it."""

    extension: Json
    benefit: Json
    targets: frozenset[date]


def tm_entries(rights: RegimeRights) -> tuple[TmEntry, ...]:
    periods = [amo.period for amo in rights.amo]
    entries = [_entry(e, periods, modulation=False) for e in rights.exonerations]
    entries += [_entry(m, periods, modulation=True) for m in rights.modulations]
    return tuple(entries)


def _entry(tm: Exoneration, periods: list[Period], *, modulation: bool) -> TmEntry:
    system, table, url = (
        (CS_MTM, MTM_CODES, EXT_MODULATION) if modulation else (CS_ETM, ETM_CODES, EXT_EXONERATION)
    )
    label = table.get(tm.code)
    ext = extension(
        url,
        extension=[
            extension("code", valueCoding=coding(system, tm.code, label)),
            extension("period", valuePeriod=period_json(tm.period)),
        ],
    )
    kind = "MTM" if modulation else "ETM"
    name = "Modulation du ticket modérateur" if modulation else "Exonération du ticket modérateur"
    described = f"{kind} {tm.code}" + (f" ({label})" if label else "")
    benefit = benefit_item(f"{name} ({kind} {tm.code})", f"{described}, {period_text(tm.period)}")
    return TmEntry(ext, benefit, _targets(tm.period, periods))


def _targets(period: Period, periods: list[Period]) -> frozenset[date]:
    overlapping = frozenset(p.start for p in periods if _overlap(period, p))
    if overlapping or not periods:
        return overlapping
    return frozenset({max(p.start for p in periods)})


def _overlap(a: Period, b: Period) -> bool:
    return (a.end is None or b.start <= a.end) and (b.end is None or a.start <= b.end)
