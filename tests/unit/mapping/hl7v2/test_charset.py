"""Result charsets: every character written in the destination's set, or as an HL7 hex escape
of its UTF-8 bytes that our reader gives back; never a silent "?"."""

from __future__ import annotations

import pytest

from mapping.hl7v2.charset import RESULT_CHARSETS, encode_result
from mapping.hl7v2.er7 import Delimiters, unescape

_TEXT = "Cœur-Lévêque € ½ Ÿ ẞ O'Brien"


@pytest.mark.parametrize("charset", sorted(RESULT_CHARSETS))
def test_every_character_survives_every_charset(charset: str) -> None:
    d = Delimiters()
    payload = encode_result(_TEXT, charset, d)
    assert b"?" not in payload
    assert unescape(payload.decode(RESULT_CHARSETS[charset]), d) == _TEXT


def test_8859_15_writes_its_own_letters_and_escapes_the_latin1_ones_it_replaced() -> None:
    payload = encode_result("œ€é½", "8859/15", Delimiters())
    assert payload == b"\xbd\xa4\xe9\\XC2BD\\"


def test_the_escape_character_is_the_messages() -> None:
    d = Delimiters("#", "$", "*", "@", "%")
    assert encode_result("é", "ASCII", d) == b"@XC3A9@"
