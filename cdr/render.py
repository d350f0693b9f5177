"""Human-readable tables for the terminal (the ``--json`` forms live in ``report_json``)."""

from __future__ import annotations

from collections.abc import Sequence

from mapping.shared import disposition
from rights.catalogue import RegimeCatalogue
from rights.model import Period, RegimeRights
from rights.result import LookupReport, RegimeStatus, RightsResult

__all__ = ["format_nir", "lookup_table", "period_text", "table"]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    return "\n".join(lines)


def format_nir(value: str) -> str:
    """The NIR as printed on a Vitale card: 1 85 05 75 056 123 45."""
    v = value
    return f"{v[0]} {v[1:3]} {v[3:5]} {v[5:7]} {v[7:10]} {v[10:13]} {v[13:15]}".strip()


def period_text(period: Period) -> str:
    end = period.end.isoformat() if period.end else "open"
    return f"{period.start.isoformat()} → {end}"


def _flag(period: Period, report: LookupReport) -> str:
    return " [in force]" if period.covers(report.query.date_of_care) else ""


def lookup_table(report: LookupReport, catalogue: RegimeCatalogue, lookup_id: str) -> str:
    query = report.query
    mode = "discovery" if query.is_discovery else f"validation ({query.regime})"
    lines = [
        f"Lookup {lookup_id}",
        f"NIR {format_nir(query.nir.value)} ({query.nir.kind.value})"
        f"   birth date {query.birth_date or '-'}   rang {query.rang}",
        f"date of care {query.date_of_care.isoformat()}   {mode}   outcome {report.outcome}"
        f"   {report.elapsed_ms:.0f} ms",
        "",
    ]
    results = _most_relevant_first(report.results)
    if all(r.status is RegimeStatus.UNKNOWN for r in results):
        # Every regime answered that it does not know the person: one sentence, as the FHIR
        # disposition says it, not a line per regime saying the same thing.
        asked = f"{len(results)} regime{'s' if len(results) != 1 else ''} asked"
        sentence = disposition(report, catalogue).rstrip(".") + f" ({asked})."
        lines.append(sentence if results else "No regime serves this kind of number.")
    else:
        lines.append(
            table(
                ["Regime", "Status", "In force", "Reason", "ms", "Detail"],
                [
                    [
                        catalogue.get(r.regime).label,
                        r.status.value + (" (cached)" if r.from_cache else ""),
                        "yes" if r.evaluation.in_force else "no",
                        r.evaluation.reason.value,
                        f"{r.elapsed_ms:.0f}",
                        r.detail,
                    ]
                    for r in results
                ],
            )
        )
    for warning in report.warnings:
        lines.append(f"! {warning.message}")
    for result in results:
        if result.status is RegimeStatus.FOUND and result.rights is not None:
            lines += ["", *_rights_block(result, result.rights, report, catalogue)]
    return "\n".join(lines)


def _most_relevant_first(results: Sequence[RightsResult]) -> list[RightsResult]:
    """Rights in force first, then the regimes that know the person, then those that could not
    answer, then those that do not know them; catalogue order within each (a stable sort)."""

    def rank(result: RightsResult) -> int:
        if result.evaluation.in_force:
            return 0
        if result.status is RegimeStatus.FOUND:
            return 1
        return 3 if result.status is RegimeStatus.UNKNOWN else 2

    return sorted(results, key=rank)


def _rights_block(
    result: RightsResult, rights: RegimeRights, report: LookupReport, catalogue: RegimeCatalogue
) -> list[str]:
    b, od, org = rights.beneficiary, rights.ouvrant_droit, rights.organisation
    rows: list[tuple[str, str]] = [
        (
            "Beneficiary",
            f"{b.family_name} {' '.join(b.given_names)}   born {b.birth_date}   rang {b.rang}"
            f"   qualité {b.qualite.value} {b.qualite.label}"
            + (f"   NIR {format_nir(b.nir)}" if b.nir else ""),
        ),
        (
            "Ouvrant droit",
            f"{od.family_name} {' '.join(od.given_names)}   NIR {format_nir(od.nir)}",
        ),
        (
            "Organisation",
            f"régime {org.regime_code}  caisse {org.caisse}  centre {org.centre}"
            f"  code gestion {org.code_gestion}",
        ),
    ]
    rows += [
        ("AMO", f"{period_text(a.period)}  (PJ {a.nature_pj}){_flag(a.period, report)}")
        for a in rights.amo
    ]
    rows += [
        (
            s.kind.value.upper(),
            f"code {s.code} (organisme {s.complementary_id})  {period_text(s.period)}"
            f"{_flag(s.period, report)}",
        )
        for s in rights.situations
    ]
    rows += [
        ("ETM", f"code {e.code}  {period_text(e.period)}{_flag(e.period, report)}")
        for e in rights.exonerations
    ]
    rows += [
        ("MTM", f"code {m.code}  {period_text(m.period)}{_flag(m.period, report)}")
        for m in rights.modulations
    ]
    if rights.medecin_traitant:
        mt = rights.medecin_traitant
        rows.append(
            (
                "Médecin traitant",
                f"{mt.family_name} {mt.given_name} (n° {mt.identifier})  {period_text(mt.period)}",
            )
        )
    if rights.default_at_organisation:
        rows.append(("AT/MP organisation", rights.default_at_organisation))
    rows += [
        ("AT/MP", f"n° {a.number}  organisme {a.organisation}  {period_text(a.period)}")
        for a in rights.accidents
    ]
    if rights.sncf_contract:
        c = rights.sncf_contract
        rows.append(("SNCF contract", f"{'+'.join(c.codes)}  {period_text(c.period)}"))
    rows += [("Warning", w.message) for w in result.evaluation.warnings]
    width = max(len(k) for k, _ in rows)
    title = f"{catalogue.get(result.regime).label}: rights " + (
        "IN FORCE" if result.evaluation.in_force else f"NOT in force ({result.evaluation.reason})"
    )
    return [title] + [f"  {k.ljust(width)}  {v}" for k, v in rows]
