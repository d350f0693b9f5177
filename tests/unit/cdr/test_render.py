"""The terminal form of a lookup (issue 18.16): an unknown person is one sentence, and the
regimes with rights in force come first."""

from __future__ import annotations

import dataclasses

from cdr.render import lookup_table
from rights.result import RegimeStatus
from tests.unit.mapping.rights_reports import (
    TODAY,
    catalogue,
    failed,
    found,
    member,
    report_for,
)


def _regime_rows(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Regime ")) + 2
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        rows.append(line.split()[0])
    return rows


def test_an_unknown_person_is_one_sentence_not_a_line_per_regime() -> None:
    report = report_for(member("Valéry", "Noé"))
    unknown = [found(code, None, TODAY) for code in ("cnam", "msa", "cnmss", "camieg")]
    report = dataclasses.replace(report, results=tuple(unknown))
    text = lookup_table(report, catalogue(), "L-1")
    assert "No regime knows this person (4 regimes asked)." in text.splitlines()
    assert "Regime " not in text and "unknown-person" not in text


def test_the_regimes_with_rights_in_force_are_listed_first() -> None:
    cnam, msa = member("Mercier", "Yannick", "cnam"), member("Mercier", "Yannick", "msa")
    report = report_for(cnam, extra=(found("msa", msa.rights, cnam.date_of_care),))
    down = failed("cnmss", RegimeStatus.UNAVAILABLE, TODAY, "cnmss: down")
    nobody = found("camieg", None, TODAY)
    report = dataclasses.replace(report, results=(nobody, *report.results, down))
    text = lookup_table(report, catalogue(), "L-2")
    assert _regime_rows(text) == ["MSA", "CNAM", "CNMSS", "CAMIEG"]
    blocks = [line for line in text.splitlines() if ": rights " in line]
    assert blocks[0].startswith("MSA: rights IN FORCE")
    assert blocks[1].startswith("CNAM: rights NOT in force")
