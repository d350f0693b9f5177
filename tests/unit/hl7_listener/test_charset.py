"""Character sets from MSH-18: codec choice, sniffing, decoding with the place of a bad byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hl7_listener.charset import (
    codec_for,
    decode,
    encode,
    error_location,
    hl7_name,
    sniff_charset_field,
)
from mapping.hl7v2.er7 import Message
from rights.errors import FramingError


def message(*segments: str, charset: str = "", line_end: str = "\r") -> str:
    msh = f"MSH|^~\\&|APP|FAC|CDR|GW|20261124090000||ADT^A01^ADT_A01|42|P|2.5|||||FRA|{charset}"
    return line_end.join([msh, *segments]) + line_end


@pytest.mark.parametrize(
    ("msh18", "codec"),
    [
        ("", "ascii"),
        ("ASCII", "ascii"),
        ("8859/1", "latin-1"),
        ("8859/15", "iso8859-15"),
        ("UNICODE UTF-8", "utf-8"),
        (" unicode utf-8 ", "utf-8"),
        ("ISO-8859-1", "latin-1"),
        ("ISO_IR 100", "latin-1"),
        ("iso-8859-15", "iso8859-15"),
        ("UTF-8", "utf-8"),
    ],
)
def test_codec_for_table_0211_values_and_common_spellings(msh18, codec):
    assert codec_for(msh18) == codec


@pytest.mark.parametrize("msh18", ["UNICODE", "8859/2", "UTF-16", "EBCDIC", "latin"])
def test_an_unsupported_charset_is_a_103_at_msh_18(msh18):
    with pytest.raises(FramingError) as caught:
        codec_for(msh18)
    assert caught.value.code == 103
    assert caught.value.location == "MSH-18"
    assert msh18 in caught.value.message


def test_hl7_name_is_the_table_0211_name():
    assert [hl7_name(codec_for(v)) for v in ("", "8859/1", "8859/15", "utf-8")] == [
        "ASCII",
        "8859/1",
        "8859/15",
        "UNICODE UTF-8",
    ]


def test_sniff_reads_msh_18():
    raw = message("PID|1||123", charset="8859/1").encode("latin-1")
    assert sniff_charset_field(raw) == "8859/1"


def test_sniff_reads_the_first_repetition_only():
    raw = message(charset="UNICODE UTF-8~8859/1").encode("ascii")
    assert sniff_charset_field(raw) == "UNICODE UTF-8"


def test_sniff_uses_the_message_own_separators_and_line_ends():
    raw = b"\r\nMSH#$%\\&#A#B#C#D#2026##ADT$A01#1#P#2.5#####FRA#8859/15\nPID#1\n"
    assert sniff_charset_field(raw) == "8859/15"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"MSH",
        b"PID|1|2",
        message("PID|1").encode(),  # MSH-18 empty
        b"MSH|^~\\&|A|B\rPID|1|2|3|4|5|6|7|8|9|10|11|12|13|14|15|16|17|UTF8\r",  # MSH too short
        b"MSH|^~\\&|||||||||||||||\xe9t\xe9\r",
    ],
)
def test_sniff_gives_empty_when_msh_18_is_absent_or_unreadable(raw):
    assert sniff_charset_field(raw) == ""


def test_decode_reads_each_charset():
    text = message("PID|1||||Bérénice^Zoë||", charset="8859/1")
    assert decode(text.encode("latin-1"), "latin-1") == text
    assert decode(text.encode("utf-8"), "utf-8") == text
    euro = message("NTE|1||50 €", charset="8859/15")
    assert decode(euro.encode("iso8859-15"), "iso8859-15") == euro


def test_a_latin_1_name_in_a_utf_8_message_is_located():
    raw = message("EVN|A01|20261124", "PID|1||123^^^X||DUPRÉ^Zoé", charset="UNICODE UTF-8")
    with pytest.raises(FramingError) as caught:
        decode(raw.encode("latin-1"), "utf-8")
    assert caught.value.code == 102
    assert caught.value.location == "PID-5"
    assert caught.value.message == "byte 0xC9 at PID-5 is not valid UNICODE UTF-8"


def test_a_non_ascii_byte_in_an_ascii_message_is_located():
    raw = message("PID|1||123||DUPONT^Zoé").encode("latin-1")
    with pytest.raises(FramingError) as caught:
        decode(raw, "ascii")
    assert caught.value.location == "PID-5"
    assert caught.value.message == "byte 0xE9 at PID-5 is not valid ASCII"


def test_the_location_counts_repeated_segments_and_ignores_blank_lines():
    raw = message(
        "PID|1",
        "NK1|1|MARTIN",
        "NK1|2|DURAND",
        "NK1|3|LEFÈVRE",
        line_end="\r\n",
    ).encode("latin-1")
    with pytest.raises(FramingError) as caught:
        decode(raw, "utf-8")
    assert caught.value.location == "NK1#3-2"


def test_msh_fields_are_numbered_from_the_separator():
    raw = b"MSH|^~\\&|APP\xe9|FAC\r"
    assert error_location(raw, raw.index(b"\xe9")) == "MSH-3"
    assert error_location(raw, raw.index(b"^")) == "MSH-2"


def test_the_field_separator_is_byte_3_of_the_message():
    raw = b"MSH#^~\\&#APP#FAC\rPID#1#|#X\xe9\r"
    assert error_location(raw, raw.index(b"\xe9")) == "PID-3"


def test_a_bad_byte_in_a_segment_name_has_no_location():
    raw = b"MSH|^~\\&|A\rP\xe9D|1\r"
    with pytest.raises(FramingError) as caught:
        decode(raw, "ascii")
    assert caught.value.location == ""
    assert caught.value.message == "byte 0xE9 is not valid ASCII"


def test_a_bad_byte_right_after_a_segment_name():
    raw = b"MSH|^~\\&|A\rPID\xe9|1\r"
    assert error_location(raw, raw.index(b"\xe9")) == "PID"


def test_an_unknown_codec_is_a_framing_error():
    with pytest.raises(FramingError) as caught:
        decode(b"MSH|", "no-such-codec")
    assert caught.value.code == 103


@given(st.binary(max_size=300), st.sampled_from(["ascii", "latin-1", "iso8859-15", "utf-8"]))
def test_decode_raises_nothing_but_framing_error(raw, codec):
    try:
        text = decode(raw, codec)
    except FramingError as exc:
        assert exc.code == 102
        assert exc.message.startswith("byte 0x")
        assert exc.message.endswith(f"is not valid {hl7_name(codec)}")
    else:
        assert text == raw.decode(codec)


@given(st.lists(st.sampled_from([b"MSH|^~\\&|", b"PID|", b"|", b"\r", b"\n", b"a", b"\xff"])))
def test_error_location_never_raises(parts):
    raw = b"".join(parts)
    for offset in range(len(raw)):
        assert isinstance(error_location(raw, offset), str)


def test_encode_escapes_what_the_charset_cannot_hold_never_a_question_mark():
    # issue 18.7: an ERR-8 text must survive every supported charset
    err8 = "ERR||PID^1^7|102^Data type error^HL70357|E||||birth date YYYYMMDD[HHMM…] (régime €)"
    text = message(err8)
    for codec in ("ascii", "latin-1", "iso8859-15", "utf-8"):
        raw = encode(text, codec)
        assert b"?" not in raw
        back = Message.parse(decode(raw, codec))
        err = back.first("ERR")
        assert err is not None
        assert err.value(8) == "birth date YYYYMMDD[HHMM…] (régime €)"
    assert encode("MSH|^~\\&|Zoé €", "latin-1") == b"MSH|^~\\&|Zo\xe9 \\XE282AC\\"
    assert encode("MSH|^~\\&|Zoé €", "iso8859-15") == b"MSH|^~\\&|Zo\xe9 \xa4"
    assert encode("MSH|^~\\&|Zoé…", "ascii") == b"MSH|^~\\&|Zo\\XC3A9E280A6\\"
    assert encode("MSH|^~\\&|Zoé", "utf-8") == "MSH|^~\\&|Zoé".encode()


def test_encode_uses_the_messages_own_escape_character():
    assert encode("MSH|^~!&|…", "ascii") == b"MSH|^~!&|!XE280A6!"
    # no escape character declared: nothing better than "?"
    assert encode("MSH|^~|…", "ascii") == b"MSH|^~|?"
