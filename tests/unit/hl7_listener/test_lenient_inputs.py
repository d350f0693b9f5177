"""Inputs engines send that the profile does not quite allow: each one accepted (and
normalised) or refused, as docs/hl7-interface.md §4 decides (issue 18.17), on the HL7 path."""

from __future__ import annotations

from typing import Any

from hl7_listener.ports import InboxStatus
from mapping.hl7v2.er7 import Message
from tests.unit.hl7_listener.test_router import (
    A01,
    GatedStore,
    entry_of,
    fixture,
    intake_with,
    reply_of,
)

NIR = "162047511412341"  # the INS in PID-3 (repetition 2) of the A01 fixture
UTF8 = "good/adt-a01-ins-test-oid-utf8.hl7"
PID19 = "good/adt-a04-pid19-only-latin1.hl7"


async def _answer(frame: bytes, entry: dict[str, Any]) -> tuple[Message, GatedStore]:
    store = GatedStore()
    intake, _ = intake_with(store)
    return reply_of(await intake.handle(frame), entry), store


def _code(ack: Message) -> tuple[str, str, str]:
    msa, err = ack.first("MSA"), ack.first("ERR")
    assert msa is not None
    if err is None:
        return msa.value(1), "", ""
    return msa.value(1), err.value(3, 1), err.field(2)


async def test_an_ins_without_its_key_is_refused() -> None:
    # An INS is the 15-character NIR the INSi teleservice returns; 13 means a truncated copy.
    frame = fixture(A01).replace(NIR.encode(), NIR[:13].encode())
    ack, store = await _answer(frame, entry_of(A01))
    assert _code(ack) == ("AE", "103", "PID^1^3^2^1")
    err = ack.first("ERR")
    assert err is not None and "15 characters" in err.value(8)
    assert store.messages == []


async def test_an_nss_without_its_key_is_accepted_with_the_key_computed() -> None:
    entry = entry_of(PID19)
    nir = entry["nir"]
    frame = fixture(PID19).replace(nir.encode(), nir[:13].encode())
    ack, store = await _answer(frame, entry)
    assert _code(ack) == ("AA", "", "")
    assert store.messages[0].patient_key == nir


async def test_a_nir_with_spaces_is_accepted_and_stored_without_them() -> None:
    frame = fixture(A01).replace(NIR.encode(), b"1 62 04 75 114 123 41")
    ack, store = await _answer(frame, entry_of(A01))
    assert _code(ack) == ("AA", "", "")
    assert store.messages[0].patient_key == NIR


async def test_msh_18_utf_8_is_read_as_unicode_utf_8_and_echoed_as_sent() -> None:
    frame = fixture(UTF8).replace(b"|UNICODE UTF-8|", b"|UTF-8|")
    assert b"|UTF-8|" in frame
    store = GatedStore()
    intake, _ = intake_with(store)
    reply = await intake.handle(frame)
    ack = Message.parse(reply.decode("utf-8"))
    assert _code(ack) == ("AA", "", "")
    assert ack.segments[0].field(18) == "UTF-8"
    assert store.messages[0].charset == "utf-8"


async def test_lf_line_ends_are_read_as_segment_ends() -> None:
    frame = fixture(A01).replace(b"\r", b"\n")
    ack, store = await _answer(frame, entry_of(A01))
    assert _code(ack) == ("AA", "", "")
    assert store.messages[0].patient_key == NIR
    assert store.messages[0].raw == frame  # stored as received


async def test_a_date_of_care_more_than_a_year_ahead_is_refused() -> None:
    # NOW is 2026-11-24 (test_router); PV1-44 of the fixture is 20261124083000
    frame = fixture(A01).replace(b"|20261124083000|", b"|20301124083000|", 1)
    assert frame != fixture(A01)
    ack, store = await _answer(frame, entry_of(A01))
    assert _code(ack) == ("AE", "102", "PV1^1^44")
    err = ack.first("ERR")
    assert err is not None and "more than a year" in err.value(8)
    assert store.messages == []


async def test_a_date_of_care_months_ahead_is_accepted_for_a_pre_admission() -> None:
    frame = fixture(A01).replace(b"|20261124083000|", b"|20270901083000|", 1)
    ack, store = await _answer(frame, entry_of(A01))
    assert _code(ack) == ("AA", "", "")
    assert store.messages[0].status is InboxStatus.PENDING
