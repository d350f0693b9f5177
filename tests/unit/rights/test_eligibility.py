"""Eligibility for CDR: the seed's table of eligible FINESS categories, exactly, and the
verdict on a structure with its reason."""

from __future__ import annotations

import pytest

from rights.eligibility import CategoryTable, default_categories, judge_structure
from rights.errors import ConfigError, IdentifierError

# The seed's "Structures de santé éligibles": establishments (public, ESPIC, private clinics)
# and centres de santé, the codes in brackets included.
SEED_ESTABLISHMENTS = [
    "101",
    "106",
    "109",
    "108",
    "119",
    "135",
    "144",
    "163",
    "173",
    "179",
    "431",
    "114",
    "115",
    "122",
    "127",
    "128",
    "129",
    "131",
    "141",
    "146",
    "156",
    "161",
    "292",
    "355",
    "430",
    "362",
    "365",
    "697",
    "698",
]
SEED_CENTRES = ["124", "125", "130", "289", "297", "439"]


def test_the_eligible_categories_are_the_seed_list_exactly() -> None:
    assert sorted(default_categories().eligible_codes) == sorted(SEED_ESTABLISHMENTS + SEED_CENTRES)


def test_the_bracketed_codes_sit_under_their_category() -> None:
    table = default_categories()
    for code in ("108", "119", "135", "144", "163", "173", "179", "431"):
        assert table.get(code).parent == "109"  # type: ignore[union-attr]
    for code in ("125", "130", "289", "297", "439"):
        assert table.get(code).parent == "124"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("finess", "category", "eligible", "says"),
    [
        ("750100018", "355", True, "category 355"),
        ("2A0100046", "355", True, "eligible"),  # Corsica: 2A counts as 21 in the key
        ("930100037", "124", True, "centre de santé"),
        ("930100037", "439", True, "listed under 124"),
        ("130100050", "500", False, "not eligible for CDR"),
        ("440100097", "620", False, "620"),
        ("750100018", "999", False, "not a FINESS category CDR knows"),
        ("750100018", None, False, "is not known"),
        ("750100018", " ", False, "is not known"),
    ],
)
def test_the_verdict_and_its_reason(
    finess: str, category: str | None, eligible: bool, says: str
) -> None:
    verdict = judge_structure(finess, category, default_categories())
    assert verdict.eligible is eligible
    assert says in verdict.reason
    assert verdict.finess == finess


def test_a_closed_category_is_served_with_a_warning() -> None:
    verdict = judge_structure("330100066", "130", default_categories())
    assert verdict.eligible and verdict.warning is not None and "closed" in verdict.warning


@pytest.mark.parametrize("finess", ["750100019", "75010001", "2C0100046", "ABCDEFGHI"])
def test_a_finess_that_is_not_one_is_bad_input_not_a_verdict(finess: str) -> None:
    with pytest.raises(IdentifierError):
        judge_structure(finess, "355", default_categories())


def test_a_table_naming_an_unknown_parent_is_refused() -> None:
    text = 'version = "t"\n[[category]]\ncode = "1"\nlabel = "x"\neligible = true\ngroup = "g"\n'
    with pytest.raises(ConfigError):
        CategoryTable.from_toml(text + 'parent = "9"\n')
    assert CategoryTable.from_toml(text).eligible_codes == ("1",)
