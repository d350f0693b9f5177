"""The committed HL7 fixtures and their manifest agree (tests/fixtures/hl7/README.md).

These checks read the bytes directly, without the gateway's parser: they guard the fixtures
themselves (listed, terminated, encoded as declared, expectations consistent with the message),
so that a failing integration test points at the code, not at a fixture.
"""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from rights.catalogue import default_catalogue
from rights.identifiers import parse_nir

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "hl7"
MANIFEST: list[dict[str, Any]] = json.loads(
    (FIXTURES / "expected.json").read_text(encoding="utf-8")
)
KEYS = {
    "file", "charset", "line_ends", "message_type", "control_id", "ack", "err_code",
    "err_location", "lookup", "nir", "regime", "rang", "birth_date", "date_of_care",
    "family_name", "given_name", "note",
}  # fmt: skip
QUERY_KEYS = ("nir", "regime", "rang", "birth_date", "date_of_care", "family_name", "given_name")
# MSH-18 values (HL7 table 0211) the gateway supports, as Python codecs; "" means ASCII.
CODECS = {
    "": "ascii",
    "ASCII": "ascii",
    "8859/1": "latin-1",
    "8859/15": "iso8859-15",
    "UNICODE UTF-8": "utf-8",
}
# ERR-3 codes of HL7 table 0357 the gateway uses.
TABLE_0357 = {100, 101, 102, 103, 200, 201, 202, 203, 207}
# The spec's location form SEG[#n]-field[(rep)][.comp[.sub]]; #n and (rep) only when > 1.
LOCATION = re.compile(
    r"[A-Z][A-Z0-9]{2}(#([2-9]|[1-9]\d+))?(-[1-9]\d*(\(([2-9]|[1-9]\d+)\))?(\.[1-9]\d*){0,2})?"
)
TRIGGERS = {"ADT^A01", "ADT^A04", "ADT^A05", "ADT^A28", "ADT^A31", "ADT^Z99", "RQI^I01"}
ESCAPE = re.compile(r"\\(F|S|T|R|E|X[0-9A-Fa-f]+)\\")
CATALOGUE = default_catalogue()


def ids(entry: dict[str, Any]) -> str:
    return str(entry["file"])


def raw(entry: dict[str, Any]) -> bytes:
    return (FIXTURES / str(entry["file"])).read_bytes()


def segments(data: bytes) -> list[bytes]:
    """Segments of a fixture whatever its terminator (\\r or \\r\\n)."""
    return [s for s in data.replace(b"\r\n", b"\r").split(b"\r") if s]


def field(segment: str, number: int) -> str:
    """Raw field text; MSH counts its field separator as MSH-1."""
    parts = segment.split("|")
    index = number - 1 if segment.startswith("MSH") else number
    return parts[index] if index < len(parts) else ""


def first(text_segments: list[str], segment_id: str) -> str | None:
    return next((s for s in text_segments if s.split("|", 1)[0] == segment_id), None)


def msh18(data: bytes) -> str:
    head = segments(data)[0]
    return field(head.decode("ascii"), 18).split("~")[0] if head.startswith(b"MSH") else ""


def decoded(entry: dict[str, Any]) -> list[str]:
    return [s.decode(entry["charset"]) for s in segments(raw(entry))]


def present(value: str) -> bool:
    return value not in ("", '""')


def unescape(text: str) -> str:
    """Enough of the HL7 escapes for names: delimiters and \\Xhh..\\ (UTF-8, else Latin-1)."""

    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] == "X":
            data = bytes.fromhex(code[1:])
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                return data.decode("latin-1")
        return {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}[code]

    return ESCAPE.sub(one, text)


def bad_byte_location(data: bytes, offset: int) -> str:
    """Where a byte offset falls, as SEG[#n]-field (the form charset.decode reports)."""
    seen: dict[str, int] = {}
    for match in re.finditer(rb"[^\r\n]+", data):
        segment_id = match.group()[:3].decode("ascii")
        seen[segment_id] = seen.get(segment_id, 0) + 1
        if match.start() <= offset < match.end():
            before = data[match.start() : offset]
            number = before.count(b"|") + (1 if segment_id == "MSH" else 0)
            nth = seen[segment_id]
            return f"{segment_id}{f'#{nth}' if nth > 1 else ''}-{number}"
    raise AssertionError(f"offset {offset} is not inside a segment")


def test_manifest_entries_have_the_documented_keys() -> None:
    assert MANIFEST
    for entry in MANIFEST:
        assert set(entry) == KEYS, entry["file"]


def test_every_fixture_file_is_listed_and_every_listed_file_exists() -> None:
    listed = [entry["file"] for entry in MANIFEST]
    on_disk = sorted(p.relative_to(FIXTURES).as_posix() for p in FIXTURES.rglob("*.hl7"))
    assert len(listed) == len(set(listed))
    assert sorted(listed) == on_disk
    assert all(name.startswith(("good/", "bad/")) for name in listed)


def test_control_ids_are_unique_across_fixtures() -> None:
    control_ids = [e["control_id"] for e in MANIFEST if e["control_id"] is not None]
    assert len(control_ids) == len(set(control_ids))


def test_every_acknowledgement_rule_has_a_bad_fixture() -> None:
    rules = {(e["ack"], e["err_code"]) for e in MANIFEST if e["file"].startswith("bad/")}
    required = {("AR", 100), ("AE", 101), ("AE", 102), ("AE", 103)}
    required |= {("AR", code) for code in (200, 201, 202, 203)}
    assert required <= rules
    locations = {e["err_location"] for e in MANIFEST if e["file"].startswith("bad/")}
    assert {"MSH-18", "MSH-10", "PID-3", "PID-7", "IN1-3"} <= locations
    assert any(re.fullmatch(r"PID-3\(\d+\)\.1", str(loc)) for loc in locations)


def test_fixtures_cover_every_charset_and_both_line_ends() -> None:
    assert {e["charset"] for e in MANIFEST} >= set(CODECS.values())
    assert {e["line_ends"] for e in MANIFEST} == {"\r", "\r\n"}


@pytest.mark.parametrize("entry", MANIFEST, ids=ids)
def test_segment_terminators_are_as_declared(entry: dict[str, Any]) -> None:
    data = raw(entry)
    assert data.endswith(entry["line_ends"].encode())
    if entry["line_ends"] == "\r":
        assert b"\n" not in data
    else:
        assert entry["line_ends"] == "\r\n"
        assert data.count(b"\r") == data.count(b"\r\n") == data.count(b"\n")
    # MLLP data rule: no control bytes other than the segment terminators.
    assert not [b for b in data if b < 0x20 and b not in (0x0D, 0x0A)]


@pytest.mark.parametrize("entry", MANIFEST, ids=ids)
def test_charset_matches_msh18_and_the_bytes_decode(entry: dict[str, Any]) -> None:
    data = raw(entry)
    declared = msh18(data)
    assert CODECS.get(declared) == entry["charset"], declared
    if entry["charset"] is None:  # an MSH-18 the gateway must refuse
        assert (entry["ack"], entry["err_code"], entry["err_location"]) == ("AE", 103, "MSH-18")
        return
    try:
        data.decode(entry["charset"])
    except UnicodeDecodeError as error:
        # Only a fixture expecting AE 102 exactly where the first bad byte sits may fail.
        place = bad_byte_location(data, error.start)
        assert (entry["ack"], entry["err_code"], entry["err_location"]) == ("AE", 102, place)


def test_one_fixture_carries_undecodable_bytes() -> None:
    failing = []
    for entry in MANIFEST:
        if entry["charset"] is None:
            continue
        try:
            raw(entry).decode(entry["charset"])
        except UnicodeDecodeError:
            failing.append(entry["file"])
    assert failing


@pytest.mark.parametrize("entry", MANIFEST, ids=ids)
def test_msh_fields_match_the_manifest(entry: dict[str, Any]) -> None:
    head = segments(raw(entry))[0].decode("ascii", errors="replace")
    if not head.startswith("MSH"):
        assert entry["message_type"] is None and entry["control_id"] is None
        assert (entry["ack"], entry["err_code"], entry["err_location"]) == ("AR", 100, "MSH")
        return
    assert head.startswith("MSH|^~\\&|")  # what mllp_send --loose splits messages on
    message_type = field(head, 9).split("^")
    assert entry["message_type"] == "^".join(message_type[:2])
    assert entry["control_id"] == (field(head, 10) or None)


@pytest.mark.parametrize("entry", MANIFEST, ids=ids)
def test_acknowledgement_expectation_is_consistent(entry: dict[str, Any]) -> None:
    ack, code, location = entry["ack"], entry["err_code"], entry["err_location"]
    assert ack in ("AA", "AE", "AR")
    assert entry["lookup"] is (ack == "AA")
    if ack == "AA":
        assert code is None and location is None
        assert entry["message_type"] in TRIGGERS
        assert entry["file"].startswith("good/")
    else:
        assert code in TABLE_0357
        assert location is not None and LOCATION.fullmatch(location), location
        if code >= 200:
            assert ack == "AR"
        assert all(entry[key] is None for key in QUERY_KEYS)
    if entry["file"].startswith("good/") and ack != "AA":
        # Well-formed messages of events the gateway does not take.
        assert (ack, code, location) == ("AR", 201, "MSH-9.2")


def amo_in1(text_segments: list[str]) -> str | None:
    """The IN1 the spec reads: IN1-2 = AMO, or the first IN1 when its IN1-2 is empty."""
    groups = [s for s in text_segments if s.startswith("IN1|")]
    for group in groups:
        if field(group, 2).split("^")[0] == "AMO":
            return group
    if groups and not field(groups[0], 2):
        return groups[0]
    return None


def date_of_care(text_segments: list[str]) -> str:
    """Spec precedence: PV1-44, ZBE-2, EVN-2, MSH-7; empty and \"\" count as absent."""
    for segment_id, number in (("PV1", 44), ("ZBE", 2), ("EVN", 2), ("MSH", 7)):
        segment = first(text_segments, segment_id)
        value = field(segment, number) if segment else ""
        if present(value):
            return f"{value[:4]}-{value[4:6]}-{value[6:8]}"
    raise AssertionError("no date in the message")


@pytest.mark.parametrize("entry", [e for e in MANIFEST if e["lookup"]], ids=ids)
def test_query_expectation_matches_the_message(entry: dict[str, Any]) -> None:
    text = decoded(entry)
    pid = first(text, "PID")
    assert pid is not None

    nir = parse_nir(entry["nir"])
    assert nir.value == entry["nir"]
    assert entry["nir"] in "".join(text).replace(" ", "")
    in1 = amo_in1(text)
    if in1 is not None and present(field(in1, 49)):
        assert field(in1, 49).split("^")[0] == entry["nir"]  # the ouvrant droit's NIR wins

    birth = field(pid, 7)
    assert entry["birth_date"] == f"{birth[:4]}-{birth[4:6]}-{birth[6:8]}"
    rang = field(pid, 25)
    assert entry["rang"] == (int(rang) if present(rang) else 1)

    assert entry["date_of_care"] == date_of_care(text)
    date.fromisoformat(entry["date_of_care"])

    name = field(pid, 5).split("~")[0].split("^")
    assert entry["family_name"] == unescape(name[0])
    assert entry["given_name"] == unescape(name[1])

    if entry["regime"] is None:
        assert in1 is None  # no insurance group: discovery
    else:
        assert in1 is not None
        routed = CATALOGUE.route_organisation(field(in1, 3).split("^")[0])
        assert routed is not None and routed.code == entry["regime"]
