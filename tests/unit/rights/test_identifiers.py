from __future__ import annotations

import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rights.errors import (
    IdentifierFormatError,
    IdentifierKeyError,
    IdentifierLengthError,
)
from rights.identifiers import (
    NIA_OID,
    NIR_TEST_OID,
    IdentifierFieldError,
    NirKind,
    accident_key,
    finess_check_digit,
    nir_key,
    parse_accident_number,
    parse_finess,
    parse_nir,
)

# --- NIR -----------------------------------------------------------------------------------


def test_known_nir_key():
    # INSEE example layout: man born January 1955 in dept 75, commune 056, order 123.
    assert nir_key("1550175056123") == f"{97 - 1550175056123 % 97:02d}"
    assert parse_nir("1 55 01 75 056 123 " + nir_key("1550175056123")).kind is NirKind.NIR


def test_corsica_keys_use_19_and_18():
    assert nir_key("269072A123456") == f"{97 - 2690719123456 % 97:02d}"
    assert nir_key("185122B004017") == f"{97 - 1851218004017 % 97:02d}"
    nir = parse_nir("269072A123456" + nir_key("269072A123456"))
    assert nir.department == "2A"


def test_13_characters_accepted_and_key_computed():
    nir = parse_nir("1550175056123")
    assert nir.key == nir_key("1550175056123")
    assert len(nir.value) == 15


@pytest.mark.parametrize("text", ["", "12345", "15501750561", "1550175056123456"])
def test_length_error(text):
    with pytest.raises(IdentifierLengthError) as err:
        parse_nir(text)
    assert err.value.check == "length"
    assert "13 characters" in err.value.message


def test_key_error_names_the_expected_key():
    body = "1550175056123"
    good = nir_key(body)
    wrong = f"{(int(good) % 97) + 1:02d}"
    with pytest.raises(IdentifierKeyError) as err:
        parse_nir(body + wrong)
    assert err.value.expected_key == good
    assert f"expected {good}" in err.value.message
    assert err.value.check == "key"


@pytest.mark.parametrize(
    ("body", "check"),
    [
        ("1551375056123", "month"),  # month 13
        ("1552575056123", "month"),  # month 25 is neither real nor pseudo
        ("1550100056123", "department"),  # department 00
        ("1550120056123", "department"),  # 20 is Corsica before 2A/2B: not a NIR department
    ],
)
def test_field_errors(body, check):
    with pytest.raises(IdentifierFieldError) as err:
        parse_nir(body)
    assert err.value.check == check


@pytest.mark.parametrize(
    "body", ["9550175056123", "15501750561AB", "A550175056123", "1550175056000", "2690X2A123456"]
)
def test_format_errors(body):
    with pytest.raises(IdentifierFormatError):
        parse_nir(body)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ("1550175056123", NirKind.NIR),
        ("3550175056123", NirKind.NIR_UNUSUAL_SEX),
        ("5175100012345", NirKind.MIG),
        ("7175100012345", NirKind.PROVISIONAL),
        ("8275100012345", NirKind.PROVISIONAL),
        ("5555550012345", NirKind.MSA_PROVISIONAL),
        ("1553075056123", NirKind.NIR),  # pseudo-month 30
        ("1559999123045", NirKind.NIR),  # born abroad: 99 + country, pseudo-month 99
    ],
)
def test_kind_detection(body, kind):
    assert parse_nir(body).kind is kind


def test_oid_marks_nia_and_test():
    assert parse_nir("1550175056123", oid=NIA_OID).is_nia
    assert parse_nir("1550175056123", oid=NIR_TEST_OID).is_test
    assert not parse_nir("1550175056123").is_test


def test_masked_hides_the_identifying_part():
    nir = parse_nir("1550175056123")
    assert "056123" not in nir.masked
    assert len(nir.masked) == 15


@st.composite
def valid_nir_bodies(draw):
    sex = draw(st.sampled_from("1234"))
    year = draw(st.integers(0, 99))
    month = draw(st.sampled_from([*range(1, 13), 20, *range(30, 43), *range(50, 100)]))
    dept = draw(
        st.sampled_from(
            [f"{d:02d}" for d in range(1, 100) if d not in (0, 20, 97, 98)] + ["2A", "2B"]
        )
    )
    commune = draw(st.integers(0, 999))
    order = draw(st.integers(1, 999))
    return f"{sex}{year:02d}{month:02d}{dept}{commune:03d}{order:03d}"


@given(valid_nir_bodies())
def test_every_generated_nir_passes(body):
    nir = parse_nir(body + nir_key(body))
    assert nir.body == body


@given(valid_nir_bodies(), st.data())
def test_every_single_character_corruption_fails(body, data):
    value = body + nir_key(body)
    pos = data.draw(st.integers(0, 14))
    replacement = data.draw(st.sampled_from(string.digits + "AB"))
    assume(replacement != value[pos])
    corrupted = value[:pos] + replacement + value[pos + 1 :]
    with pytest.raises((IdentifierFormatError, IdentifierKeyError, IdentifierFieldError)):
        parse_nir(corrupted)


# --- FINESS --------------------------------------------------------------------------------


@pytest.mark.parametrize("finess", ["750712184", "2A0000014", "2B0000020"])
def test_published_finess_numbers_pass(finess):
    assert parse_finess(finess).value == finess


def test_finess_display_and_errors():
    assert parse_finess("750712184").display == "75 071 218 4"
    with pytest.raises(IdentifierLengthError):
        parse_finess("75071218")
    with pytest.raises(IdentifierFormatError):
        parse_finess("7507121X4")
    with pytest.raises(IdentifierKeyError) as err:
        parse_finess("750712185")
    assert err.value.expected_key == "4"


@st.composite
def valid_finess(draw):
    dept = draw(st.sampled_from([f"{d:02d}" for d in range(1, 96)] + ["2A", "2B", "97"]))
    rest = draw(st.text(string.digits, min_size=6, max_size=6))
    first8 = dept + rest
    return first8 + finess_check_digit(first8)


@given(valid_finess())
def test_every_generated_finess_passes(finess):
    assert parse_finess(finess).value == finess


@given(valid_finess(), st.data())
def test_every_single_character_corruption_of_finess_fails(finess, data):
    pos = data.draw(st.integers(0, 8))
    replacement = data.draw(st.sampled_from(string.digits + "AB"))
    assume(replacement != finess[pos])
    corrupted = finess[:pos] + replacement + finess[pos + 1 :]
    # 2A/2B count as 21/22 in the Luhn sum, so 21↔2A and 22↔2B alias by construction.
    aliases = {("1", "A"), ("A", "1"), ("2", "B"), ("B", "2")}
    assume(not (pos == 1 and finess[0] == "2" and (finess[1], replacement) in aliases))
    with pytest.raises((IdentifierFormatError, IdentifierKeyError)):
        parse_finess(corrupted)


# --- AT numbers ----------------------------------------------------------------------------


@given(st.text(string.digits, min_size=8, max_size=8))
def test_every_generated_accident_number_passes(first8):
    assert parse_accident_number(first8 + accident_key(first8)).value.startswith(first8)


@given(st.text(string.digits, min_size=8, max_size=8), st.data())
def test_every_single_digit_corruption_of_accident_number_fails(first8, data):
    value = first8 + accident_key(first8)
    pos = data.draw(st.integers(0, 8))
    replacement = data.draw(st.sampled_from(string.digits + "X"))
    assume(replacement != value[pos])
    with pytest.raises((IdentifierFormatError, IdentifierKeyError)):
        parse_accident_number(value[:pos] + replacement + value[pos + 1 :])


def test_accident_number_errors():
    with pytest.raises(IdentifierLengthError):
        parse_accident_number("1234")
    # Luhn over 12345678: key 2.
    assert accident_key("12345678") == "2"
    with pytest.raises(IdentifierKeyError) as err:
        parse_accident_number("123456789")
    assert err.value.expected_key == "2"
