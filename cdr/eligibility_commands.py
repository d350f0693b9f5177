"""``cdr eligibility FINESS [--category CODE] [--json]`` and the check of the structure the
gateway acts for, made before ``cdr serve`` opens any socket (issue 13, item 5).

Exit codes (DESIGN §9): 0 eligible, 1 not eligible, 2 not a valid FINESS. The category comes
from ``--category``, else from the sandbox's synthetic FINESS directory.
"""

from __future__ import annotations

from typing import Any

from cdr.exits import EXIT_FAILED, EXIT_INPUT, EXIT_OK, print_json
from rights.eligibility import StructureVerdict, default_categories, judge_structure
from rights.errors import ConfigError, IdentifierError
from rights.identifiers import parse_finess
from sandbox.eligibility import default_structures

__all__ = ["check_own_structure", "eligibility", "judge"]


def judge(finess: str, category: str | None) -> tuple[StructureVerdict, str | None]:
    """The verdict on ``finess`` and the directory's name for it, if it is listed there.
    Raises ``IdentifierError`` for a FINESS that is not one."""
    value = parse_finess(finess, location="FINESS").value
    listed = default_structures().find(value)
    if category is None and listed is not None:
        category = listed.category.code
    return judge_structure(value, category, default_categories()), (
        listed.name if listed is not None else None
    )


def eligibility(finess: str, *, category: str | None, as_json: bool) -> int:
    try:
        verdict, name = judge(finess, category)
    except IdentifierError as exc:
        if as_json:
            print_json({"finess": finess, "valid": False, "error": exc.message})
        else:
            print(f"invalid FINESS {finess!r}: {exc.message}")
        return EXIT_INPUT
    if as_json:
        print_json(_as_json(verdict, name))
    else:
        who = f"{verdict.finess} ({name})" if name else verdict.finess
        word = "eligible" if verdict.eligible else "not eligible"
        print(f"{who}: {word}: {verdict.reason}")
        if verdict.warning:
            print(f"warning: {verdict.warning}")
    return EXIT_OK if verdict.eligible else EXIT_FAILED


def _as_json(verdict: StructureVerdict, name: str | None) -> dict[str, Any]:
    category = verdict.category
    return {
        "finess": verdict.finess,
        "valid": True,
        "eligible": verdict.eligible,
        "reason": verdict.reason,
        "warning": verdict.warning,
        "structure": name,
        "category": None
        if category is None
        else {
            "code": category.code,
            "label": category.label,
            "group": category.group,
            "closed": category.closed,
            "parent": category.parent,
        },
        "table_version": default_categories().version,
    }


def check_own_structure(finess: str, category: str | None) -> None:
    """Refuse to start for a structure CDR does not serve: a ``ConfigError`` in one line
    naming the category and the rule (the FINESS itself was checked with the settings)."""
    verdict, name = judge(finess, category)
    if not verdict.eligible:
        who = f"{verdict.finess} ({name})" if name else verdict.finess
        raise ConfigError(
            f"CDR_STRUCTURE_FINESS {who} cannot use CDR: {verdict.reason}"
            + ("" if verdict.category else " (set CDR_STRUCTURE_CATEGORY)")
        )
