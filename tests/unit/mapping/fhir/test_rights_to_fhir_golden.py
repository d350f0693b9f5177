"""Golden answers: the full FHIR output for a few sandbox scenarios, committed as JSON under
``tests/fixtures/fhir/eligibility/`` so that any change to the wire shape shows in review.

After an intended change, rewrite them and read the diff:
``python -m tests.unit.mapping.test_rights_to_fhir_golden``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mapping.fhir.rights_to_fhir import EligibilityAnswer
from rights.result import RegimeStatus
from tests.unit.mapping.fhir_schema import assert_valid
from tests.unit.mapping.rights_reports import TODAY, answer_for, failed, member, report_for

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures" / "fhir" / "eligibility"


def _reference() -> EligibilityAnswer:
    return answer_for(report_for(member("Lefèvre", "Jean-Baptiste")))


def _twin() -> EligibilityAnswer:
    return answer_for(report_for(member("Lambert", "Zoé")))


def _c2s() -> EligibilityAnswer:
    who = member("Perrin", "Océane")
    return answer_for(report_for(who), purposes=("validation", "benefits"))


def _ame() -> EligibilityAnswer:
    who = member("N'Diaye", "Fatoumata")
    return answer_for(report_for(who), purposes=("validation", "benefits"))


def _atmp() -> EligibilityAnswer:
    who = member("Fournier", "Philippe")
    return answer_for(report_for(who), purposes=("validation", "benefits"))


def _unknown() -> EligibilityAnswer:
    who = member("Valéry", "Noé")
    submitted = {"name": [{"family": "Valéry", "given": ["Noé"]}], "birthDate": who.birth_date}
    return answer_for(report_for(who), submitted=submitted)


def _partial() -> EligibilityAnswer:
    who = member("Lefèvre", "Jean-Baptiste")
    down = failed(
        "msa",
        RegimeStatus.UNAVAILABLE,
        TODAY,
        "msa: cannot reach the regime service (ConnectError: connection refused)",
    )
    return answer_for(report_for(who, extra=(down,)), purposes=("discovery",))


CASES: dict[str, Callable[[], EligibilityAnswer]] = {
    "reference-cnam": _reference,
    "twin-rang-2": _twin,
    "c2s-organisme-complementaire": _c2s,
    "ame": _ame,
    "atmp-two-accidents": _atmp,
    "unknown-person": _unknown,
    "partial-one-regime-down": _partial,
}


def as_json(answer: EligibilityAnswer) -> dict[str, Any]:
    return {
        k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(answer).items()
    }


def _text(answer: EligibilityAnswer) -> str:
    return json.dumps(as_json(answer), ensure_ascii=False, indent=2) + "\n"


@pytest.mark.parametrize("case", sorted(CASES), ids=lambda case: f"{case}.json")
def test_the_answer_is_the_committed_one(case: str) -> None:
    path = FIXTURES / f"{case}.json"
    answer = CASES[case]()
    expected = json.loads(path.read_text(encoding="utf-8"))
    assert as_json(answer) == expected, f"regenerate {path.name} if the change is intended"
    for group in expected.values():
        for resource in group if isinstance(group, list) else [group]:
            assert_valid(resource)


if __name__ == "__main__":
    FIXTURES.mkdir(parents=True, exist_ok=True)
    for name, build in CASES.items():
        (FIXTURES / f"{name}.json").write_text(_text(build()), encoding="utf-8")
