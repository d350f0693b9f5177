"""ER7 model: delimiters, escapes, lazy field access, MSH accessors, builders."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mapping.hl7v2.er7 import (
    DEFAULT,
    Delimiters,
    Message,
    Segment,
    components,
    escape,
    field_location,
    is_null,
    repeated,
    segment,
    subcomponents,
    unescape,
)
from rights.errors import ParseError

A01 = (
    "MSH|^~\\&|GAM|HOPITAL|CDR|GATEWAY|20261124101500||ADT^A01^ADT_A01|MSG00001|P|2.5^FRA^2.11"
    "|||||FRA|8859/15~UNICODE UTF-8|FR||2.11^IHE_FRANCE-2.11-PAM\r"
    "EVN||20261124101500|||jdupont^DUPONT^JEAN|20261124101000\r"
    "PID|||123456^^^HOPITAL&1.2.250.1.71.4.2.2&ISO^PI~162047511412341^^^ASIP-SANTE-INS-NIR&"
    "1.2.250.1.213.1.4.8&ISO^INS^^20200101||LEF\\XC8\\VRE^JEAN-BAPTISTE^^^^^L||19620417|M"
    "|||12 rue de la Paix^^PARIS^^75002^FRA^H||0102030405^PRN^PH|||||||||||||||||||VALI\r"
    "PD1||||||||||||N\r"
    "PV1|1|I|CARDIO^201^1^HOPITAL|R|||1234^MARTIN^PAUL||||||||||||V123456^^^HOPITAL^VN"
    "|||||||||||||||||||||||||20261124101000\r"
    "PV2|||||||T\r"
    "ZBE|MVT0001^HOPITAL|20261124101000||INSERT|N\r"
    "ZFA|ACTIF|20200101|Y|Y\r"
    "ZFM|8|7\r"
    "IN1|1|AMO^Assurance maladie obligatoire^L|017510000|CPAM PARIS\r"
)


# --- Delimiters ------------------------------------------------------------------------------


def test_default_delimiters_are_shared():
    assert Delimiters.from_msh("MSH|^~\\&|APP") is DEFAULT
    assert DEFAULT.encoding_characters == "^~\\&"


@pytest.mark.parametrize(
    ("msh", "expected"),
    [
        ("MSH#$%!*#APP", Delimiters("#", "$", "%", "!", "*")),
        ("MSH|^~\\&#|APP", DEFAULT),  # v2.7 truncation character ignored
        ("MSH|^~\\&", DEFAULT),  # nothing after MSH-2
    ],
    ids=["custom", "truncation-char", "msh-2-last"],
)
def test_delimiters_from_msh(msh, expected):
    assert Delimiters.from_msh(msh) == expected


@pytest.mark.parametrize(
    ("msh", "code", "location", "words"),
    [
        ("PID|^~\\&|", 100, "MSH", "does not start with MSH"),
        ("MSH", 102, "MSH-1", "punctuation"),
        ("MSHA^~\\&", 102, "MSH-1", "punctuation"),
        ("MSH|^~|APP", 102, "MSH-2", "4 distinct punctuation characters"),
        ("MSH|^~\\&#!|APP", 102, "MSH-2", "4 distinct punctuation characters"),
        ("MSH|^^\\&|APP", 102, "MSH-2", "4 distinct punctuation characters"),
        ("MSH|^~|&|APP", 102, "MSH-2", "4 distinct punctuation characters"),
        ("MSH|^~A&|APP", 102, "MSH-2", "4 distinct punctuation characters"),
    ],
    ids=["not-msh", "no-sep", "alnum-sep", "short", "long", "repeated", "sep-inside", "alnum"],
)
def test_bad_delimiters(msh, code, location, words):
    with pytest.raises(ParseError) as err:
        Delimiters.from_msh(msh)
    assert (err.value.code, err.value.location) == (code, location)
    assert words in err.value.message


# --- Escapes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\F", "A|B^C&D~E\\F"),
        ("line 1\\.br\\line 2", "line 1\nline 2"),
        ("\\H\\bold\\N\\ text", "bold text"),
        ("caf\\XE9\\", "café"),  # a Latin-1 byte
        ("caf\\XC3A9\\", "café"),  # UTF-8 bytes
        ("\\X41424\\", "\\X41424\\"),  # odd hex: kept
        ("\\XZZ\\", "\\XZZ\\"),  # not hex: kept
        ("\\Zxx\\ and \\C2842\\ and \\.sp\\", "\\Zxx\\ and \\C2842\\ and \\.sp\\"),
        ("trailing \\", "trailing \\"),
        ("D\\S\\Arc \\", "D^Arc \\"),  # a sequence, then an unterminated escape
        ("O\\E\\Brien", "O\\Brien"),
        ("\\\\", "\\\\"),  # an empty sequence is unknown: kept
    ],
)
def test_unescape(text, expected):
    assert unescape(text, DEFAULT) == expected


def test_unescape_uses_declared_delimiters():
    d = Delimiters("#", "$", "%", "!", "*")
    assert unescape("a!F!b!S!c!E!", d) == "a#b$c!"


def test_escape_covers_delimiters_and_line_breaks():
    assert escape("A|B^C&D~E\\F", DEFAULT) == "A\\F\\B\\S\\C\\T\\D\\R\\E\\E\\F"
    assert escape("one\r\ntwo\rthree\nfour", DEFAULT) == ("one\\.br\\two\\.br\\three\\.br\\four")
    assert escape("Lefèvre", DEFAULT) == "Lefèvre"


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=40))
def test_escape_round_trips(text):
    expected = text.replace("\r\n", "\n").replace("\r", "\n")
    assert unescape(escape(text, DEFAULT), DEFAULT) == expected


def test_is_null():
    assert is_null('""')
    assert not is_null("")
    assert not is_null('"x"')


# --- Parsing ---------------------------------------------------------------------------------


def test_parse_a_realistic_message_and_read_its_fields():
    message = Message.parse(A01)
    assert [s.id for s in message.segments] == [
        "MSH", "EVN", "PID", "PD1", "PV1", "PV2", "ZBE", "ZFA", "ZFM", "IN1",
    ]  # fmt: skip
    pid = message.first("PID")
    assert pid is not None
    assert pid.value(3, 1, repetition=2) == "162047511412341"
    assert pid.value(3, 4, repetition=2, subcomponent=1) == "ASIP-SANTE-INS-NIR"
    assert pid.value(3, 4, repetition=2, subcomponent=2) == "1.2.250.1.213.1.4.8"
    assert pid.value(3, 4, repetition=2) == "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO"
    assert pid.value(3, 5, repetition=2) == "INS"
    assert pid.value(3, 5) == "PI"
    assert pid.value(5) == "LEFÈVRE"
    assert pid.value(5, 2) == "JEAN-BAPTISTE"
    assert pid.value(5, 7) == "L"
    assert pid.value(7) == "19620417"
    assert pid.value(32) == "VALI"
    assert pid.value(25) == ""
    assert pid.value(3, 1, repetition=3) == ""
    assert pid.value(3, 9, repetition=2) == ""
    assert pid.value(3, 4, subcomponent=4) == ""
    assert pid.repetitions(3)[0] == "123456^^^HOPITAL&1.2.250.1.71.4.2.2&ISO^PI"
    assert pid.repetitions(4) == []
    pv1 = message.first("PV1")
    assert pv1 is not None
    assert pv1.value(44) == "20261124101000"
    assert pv1.value(19) == "V123456"
    assert message.first("IN2") is None
    assert [s.id for s in message.all("IN1")] == ["IN1"]
    assert message.all("ROL") == []


def test_msh_numbering_and_accessors():
    message = Message.parse(A01)
    msh = message.msh
    assert msh.field(1) == "|"
    assert msh.field(2) == "^~\\&"
    assert msh.value(2) == "^~\\&"  # never unescaped nor split
    assert msh.repetitions(2) == ["^~\\&"]
    assert msh.field(3) == "GAM"
    assert msh.field(9) == "ADT^A01^ADT_A01"
    assert (message.sending_application, message.sending_facility) == ("GAM", "HOPITAL")
    assert (message.receiving_application, message.receiving_facility) == ("CDR", "GATEWAY")
    assert message.date_time == "20261124101500"
    assert (message.message_code, message.trigger, message.structure) == (
        "ADT",
        "A01",
        "ADT_A01",
    )
    assert message.control_id == "MSG00001"
    assert message.processing_id == "P"
    assert message.version == "2.5"
    assert message.charset == "8859/15"
    assert (message.accept_ack_type, message.application_ack_type) == ("", "")
    assert msh.field_count == 21


def test_fields_are_split_lazily():
    message = Message.parse(A01)
    pid = message.first("PID")
    assert pid is not None
    assert pid._fields is None  # nothing split before a field is read
    pid.value(3)
    assert pid._fields is not None
    assert message.all("ZFM")[0]._fields is None


@pytest.mark.parametrize("line_end", ["\r", "\n", "\r\n"], ids=["cr", "lf", "crlf"])
def test_segment_terminators(line_end):
    text = A01.replace("\r", line_end)
    message = Message.parse(text)
    assert len(message.segments) == 10
    assert message.all("IN1")[0].value(3) == "017510000"
    assert message.encode() == A01


def test_blank_lines_and_bom_are_skipped():
    text = "\ufeff" + A01.replace("EVN|", "\r\n  \r\nEVN|") + "\r\n\r\n"
    message = Message.parse(text)
    assert [s.id for s in message.segments][:2] == ["MSH", "EVN"]
    assert len(message.segments) == 10


def test_custom_delimiters_drive_parsing():
    text = "MSH#$%!*#APP#FAC#####ADT$A01#1#P#2.5\rPID###ID1$$$AUTH*1.2*ISO%ID2#X!F!Y\r"
    message = Message.parse(text)
    assert message.delimiters == Delimiters("#", "$", "%", "!", "*")
    assert (message.message_code, message.trigger, message.version) == ("ADT", "A01", "2.5")
    pid = message.first("PID")
    assert pid is not None
    assert pid.value(3, 4, subcomponent=2) == "1.2"
    assert pid.value(3, repetition=2) == "ID2"
    assert pid.value(4) == "X#Y"


@pytest.mark.parametrize(
    ("text", "code", "location"),
    [
        ("", 100, "MSH"),
        ("\r\n\r\n", 100, "MSH"),
        ("PID|||1\rMSH|^~\\&|A\r", 100, "MSH"),
        ("MSH|^~|A\r", 102, "MSH-2"),
        ("MSH|^~\\&|A\rgarbage line\r", 100, ""),
        ("MSH|^~\\&|A\rPIDX|1\r", 100, ""),
        ("MSH|^~\\&|A\rpid|1\r", 100, ""),
    ],
    ids=["empty", "blank", "pid-first", "bad-msh-2", "garbage", "long-id", "lower-id"],
)
def test_parse_errors(text, code, location):
    with pytest.raises(ParseError) as err:
        Message.parse(text)
    assert (err.value.code, err.value.location) == (code, location)
    assert err.value.message


def test_segment_without_fields_and_values_absent():
    message = Message.parse("MSH|^~\\&|A\rIN2\r")
    in2 = message.first("IN2")
    assert in2 is not None
    assert in2.field(1) == ""
    assert in2.value(1) == ""
    assert in2.field_count == 0


def test_null_is_returned_as_written():
    seg = Segment('PID|||""||""^JEAN')
    assert seg.value(3) == '""'
    assert is_null(seg.value(3))
    assert seg.value(5, 1) == '""'
    assert seg.value(5, 2) == "JEAN"


def test_field_numbers_count_from_one():
    with pytest.raises(ValueError, match="from 1"):
        Segment("PID|1").field(0)


# --- Builders --------------------------------------------------------------------------------


def test_builders_trim_trailing_empties():
    assert segment("PV1", "1", "N", "", "") == "PV1|1|N"
    assert segment("IN2") == "IN2"
    assert segment("MSH", "^~\\&", "CDR", "GW") == "MSH|^~\\&|CDR|GW"
    assert components("AMO", "Assurance maladie obligatoire", "L", "", "") == (
        "AMO^Assurance maladie obligatoire^L"
    )
    assert components("", "", "") == ""
    assert components("Dupont", "", "Jean") == "Dupont^^Jean"
    assert subcomponents("ASIP-SANTE-INS-NIR", "1.2.250.1.213.1.4.8", "ISO") == (
        "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO"
    )
    assert repeated("a", "", "b") == "a~b"


def test_builders_use_given_delimiters():
    d = Delimiters("#", "$", "%", "!", "*")
    assert segment("PID", "", "", components("X", "Y", d=d), d=d) == "PID###X$Y"
    assert subcomponents("a", "b", d=d) == "a*b"
    assert repeated("a", "b", d=d) == "a%b"


def test_built_message_parses_back():
    pid = segment(
        "PID",
        "1",
        "",
        components("162047511412341", "", "", "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO"),
        "",
        components(escape("D'ARC|^"), escape("JEANNE")),
    )
    text = "\r".join([segment("MSH", "^~\\&", "CDR", "GW"), pid]) + "\r"
    message = Message.parse(text)
    parsed = message.first("PID")
    assert parsed is not None
    assert parsed.value(5) == "D'ARC|^"
    assert parsed.value(3, 4, subcomponent=2) == "1.2.250.1.213.1.4.8"
    assert message.encode() == text


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"segment_id": "PID", "field": 7}, "PID-7"),
        ({"segment_id": "PID", "field": 3, "repetition": 2, "component": 1}, "PID-3(2).1"),
        ({"segment_id": "PID", "field": 3, "component": 4, "subcomponent": 2}, "PID-3.4.2"),
        ({"segment_id": "IN1", "field": 49, "occurrence": 2}, "IN1#2-49"),
        ({"segment_id": "MSH", "field": 9, "component": 2}, "MSH-9.2"),
    ],
)
def test_field_location(kwargs, expected):
    assert field_location(**kwargs) == expected


def test_msh_accessors_read_the_first_segment_only_on_instances():
    assert not isinstance(Message.trigger, str)  # the descriptor itself on the class
    message = Message.parse("MSH|^~\\&|A\\T\\B|F||||||ID\\F\\1\r")
    assert message.sending_application == "A\\T\\B"  # raw: the peer's name as written
    assert message.control_id == "ID|1"  # a value: unescaped
    assert (message.trigger, message.charset, message.version) == ("", "", "")
