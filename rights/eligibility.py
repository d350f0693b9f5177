"""Who may use CDR: a structure is eligible when its FINESS is valid and its FINESS category
(NOS TRE_R66, the category of the geographic establishment) is one CDR serves.

The categories are versioned data (``finess_categories.toml``, from the seed's table of eligible
structures). Pure: the category of a structure comes from whoever knows it (a directory, a
certificate, the configuration); this module only judges.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources

from rights.errors import ConfigError
from rights.identifiers import Finess, parse_finess

__all__ = [
    "Category",
    "CategoryTable",
    "StructureVerdict",
    "default_categories",
    "judge_structure",
]


@dataclass(frozen=True, slots=True)
class Category:
    """A FINESS category and whether CDR serves it. ``parent``: the category the seed lists it
    under (109 for 108, 124 for 125…); ``closed``: no longer assigned by FINESS."""

    code: str
    label: str
    eligible: bool
    group: str
    closed: bool = False
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class StructureVerdict:
    """The judgement on one structure: ``eligible`` or not, ``reason`` in one sentence either
    way, ``warning`` for an eligible structure of a closed category."""

    finess: str
    eligible: bool
    reason: str
    category: Category | None = None
    warning: str | None = None


class CategoryTable:
    def __init__(self, version: str, categories: tuple[Category, ...]) -> None:
        self.version = version
        self._by_code = {c.code: c for c in categories}
        for category in categories:
            if category.parent is not None and category.parent not in self._by_code:
                raise ConfigError(
                    f"FINESS category {category.code}: unknown parent {category.parent}"
                )

    @classmethod
    def from_toml(cls, text: str) -> CategoryTable:
        try:
            data = tomllib.loads(text)
            categories = tuple(
                Category(
                    code=str(c["code"]),
                    label=str(c["label"]),
                    eligible=bool(c["eligible"]),
                    group=str(c["group"]),
                    closed=bool(c.get("closed", False)),
                    parent=str(c["parent"]) if "parent" in c else None,
                )
                for c in data["category"]
            )
            version = str(data["version"])
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"the FINESS category table is not valid: {exc}") from exc
        return cls(version, categories)

    def get(self, code: str) -> Category | None:
        return self._by_code.get(code.strip())

    def __iter__(self) -> Iterator[Category]:
        return iter(self._by_code.values())

    @property
    def eligible_codes(self) -> tuple[str, ...]:
        return tuple(code for code, c in self._by_code.items() if c.eligible)


@functools.cache
def default_categories() -> CategoryTable:
    text = resources.files("rights").joinpath("finess_categories.toml")
    return CategoryTable.from_toml(text.read_text(encoding="utf-8"))


def judge_structure(
    finess: str | Finess, category_code: str | None, table: CategoryTable
) -> StructureVerdict:
    """The verdict on the structure ``finess`` of category ``category_code`` (None: nobody
    said). Raises ``IdentifierError`` for a FINESS that is not one: that is bad input, not a
    verdict."""
    value = finess.value if isinstance(finess, Finess) else parse_finess(finess).value
    if category_code is None or not category_code.strip():
        return StructureVerdict(
            value,
            False,
            f"the FINESS category of {value} is not known: give it (the category of the "
            "geographic establishment, 3 digits)",
        )
    category = table.get(category_code)
    if category is None:
        return StructureVerdict(
            value,
            False,
            f"{category_code.strip()!r} is not a FINESS category CDR knows "
            f"(table {table.version}); CDR serves {_served(table)}",
        )
    named = f"category {category.code} ({category.label})"
    if not category.eligible:
        return StructureVerdict(
            value,
            False,
            f"{named} is not eligible for CDR: it serves {_served(table)}",
            category,
        )
    under = f", listed under {category.parent}" if category.parent else ""
    warning = (
        f"category {category.code} is closed in FINESS; CDR still serves it"
        if category.closed
        else None
    )
    return StructureVerdict(
        value, True, f"{named} is eligible for CDR ({category.group}{under})", category, warning
    )


def _served(table: CategoryTable) -> str:
    return "health establishments and centres de santé of categories " + ", ".join(
        sorted(table.eligible_codes)
    )
