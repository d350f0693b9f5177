"""Intake: the original-mode ACK rules over every committed fixture, with a fake store.

What the e2e tests check over sockets, here without them, plus what a socket cannot show: the
AA is built only once the store call has returned, and what exactly is stored.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from hl7_listener.ports import InboundMessage, InboxStatus, StoreOutcome
from hl7_listener.router import Intake, IntakeOptions
from mapping.hl7v2.er7 import Delimiters, Message
from mapping.hl7v2.err import erl
from rights.caller import Caller, Entry
from rights.catalogue import default_catalogue
from rights.errors import StorageError
from rights.evaluation import query_warnings
from rights.model import Requester, RightsQuery
from rights.result import LookupReport
from tests.hl7_fixtures import FIXTURES, MANIFEST, assert_err_matches
from tests.unit.hl7_listener.fakes import wait_until
from tests.unit.mapping.rights_reports import CREATED, found, population

CATALOGUE = default_catalogue()
REQUESTER = Requester("750712184", label="CDR Gateway")
NOW = datetime(2026, 11, 24, 9, 31, tzinfo=UTC)
RQI = "good/rqi-i01-query-utf8.hl7"
A03 = "good/adt-a03-discharge-not-configured.hl7"
A01 = "good/adt-a01-ins-nir-latin1.hl7"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def entry_of(name: str) -> dict[str, Any]:
    return next(e for e in MANIFEST if e["file"] == name)


def reply_of(reply: bytes, entry: dict[str, Any]) -> Message:
    # The reply is written in the sender's charset; an MSH-18 refused is answered in Latin-1.
    return Message.parse(reply.decode(entry["charset"] or "latin-1"))


class GatedStore:
    """The store function: records each message and resolves only when ``gate`` is open.

    It answers a new inbox id, or, for a (sender, MSH-10) seen before, the first copy's ACK."""

    def __init__(self, *, open_gate: bool = True) -> None:
        self.gate = asyncio.Event()
        if open_gate:
            self.gate.set()
        self.messages: list[InboundMessage] = []
        self._acks: dict[tuple[str, str], bytes] = {}

    async def __call__(self, message: InboundMessage) -> StoreOutcome:
        self.messages.append(message)
        await self.gate.wait()
        key = (message.sender_key, message.control_id)
        if key in self._acks:
            return StoreOutcome(None, self._acks[key])
        self._acks[key] = message.ack
        return StoreOutcome(len(self._acks))


class RefusingStore:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, message: InboundMessage) -> StoreOutcome:
        self.calls += 1
        raise StorageError("cannot store HL7 messages: database is locked")


class FakeQuery:
    """The synchronous lookup: the report of the sandbox member the query names."""

    def __init__(self) -> None:
        self.queries: list[RightsQuery] = []
        self.callers: list[Caller] = []

    async def __call__(self, query: RightsQuery, caller: Caller) -> LookupReport:
        self.queries.append(query)
        self.callers.append(caller)
        [who] = [m for m in population().members if m.nir == query.nir.value]
        results = (found(who.regime, who.rights, query.date_of_care),)
        return LookupReport(query, results, CREATED, 42.0, query_warnings(query))


class Accepted:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def intake_with(store: Any, *, query: Any = None, **options: Any) -> tuple[Intake, Accepted]:
    accepted = Accepted()
    counter = itertools.count(1)
    intake = Intake(
        options=IntakeOptions(**options),
        catalogue=CATALOGUE,
        requester=REQUESTER,
        now=lambda: NOW,
        new_control_id=lambda: f"ACK-{next(counter)}",
        store=store,
        query=query,
        on_accepted=accepted,
    )
    return intake, accepted


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
async def test_every_fixture_gets_the_acknowledgement_its_rule_asks_for(
    entry: dict[str, Any],
) -> None:
    store, query = GatedStore(open_gate=False), FakeQuery()
    intake, accepted = intake_with(store, query=query)
    frame = fixture(entry["file"])
    stored = entry["ack"] == "AA" and entry["message_type"] != "RQI^I01"
    handling = asyncio.create_task(intake.handle(frame))
    if stored:
        await wait_until(lambda: bool(store.messages), what="the store call")
        # IHE ITI TF-2 C.2.3: committed first; the AA must wait for the store to return.
        assert not handling.done()
        store.gate.set()
    reply = await handling
    ack = reply_of(reply, entry)
    msa = ack.first("MSA")
    assert msa is not None
    assert msa.value(1) == entry["ack"]
    assert msa.value(2) == (entry["control_id"] or "")
    assert ack.message_code == ("RPI" if entry["message_type"] == "RQI^I01" else "ACK")
    assert_err_matches(ack, entry)
    if not stored:
        assert store.messages == [] and accepted.count == 0
        return
    [message] = store.messages
    assert message.raw == frame
    assert message.ack == reply  # the bytes a duplicate will get again
    assert message.control_id == entry["control_id"]
    assert message.message_type == entry["message_type"]
    assert message.patient_key == entry["nir"]
    assert message.charset == entry["charset"]
    assert message.status is InboxStatus.PENDING
    assert message.received_at == NOW
    assert accepted.count == 1
    assert (intake.counters.accepted, intake.counters.duplicates) == (1, 0)


async def test_a_duplicate_gets_the_stored_ack_verbatim_and_wakes_nothing() -> None:
    stored_ack = b"MSH|^~\\&|CDR-GATEWAY|CDR|CPAGE|HCL|20261101000000||ACK^A01^ACK|FIRST|P|2.5\r"
    stored_ack += b"MSA|AA|first copy\r"

    async def store(message: InboundMessage) -> StoreOutcome:
        return StoreOutcome(None, stored_ack)

    intake, accepted = intake_with(store)
    assert await intake.handle(fixture(A01)) == stored_ack
    assert accepted.count == 0
    assert (intake.counters.accepted, intake.counters.duplicates) == (0, 1)


async def test_a_duplicate_is_logged_with_its_control_ids(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # issue 18.6: a message sent again gets its stored ACK and nothing else; the log says so
    caplog.set_level(logging.INFO, logger="cdr.hl7")
    store = GatedStore()
    intake, _ = intake_with(store)
    first = await intake.handle(fixture(A01))
    assert not [r for r in caplog.records if getattr(r, "event", "") == "hl7-duplicate"]
    await intake.handle(fixture(A01))
    [line] = [r for r in caplog.records if getattr(r, "event", "") == "hl7-duplicate"]
    entry = entry_of(A01)
    assert getattr(line, "control_id", None) == entry["control_id"]
    first_msh = reply_of(first, entry).segments[0]
    assert getattr(line, "ack_control_id", None) == first_msh.field(10) == "ACK-1"
    assert entry["control_id"] in line.getMessage()
    assert "nothing is looked up or delivered again" in line.getMessage()


async def test_the_second_copy_of_a_message_gets_the_first_copys_ack() -> None:
    store = GatedStore()
    intake, accepted = intake_with(store)
    first = await intake.handle(fixture(A01))
    second = await intake.handle(fixture(A01))
    assert second == first
    assert accepted.count == 1
    assert intake.counters.duplicates == 1


async def test_a_refused_store_is_answered_ar_207_and_never_aa() -> None:
    store = RefusingStore()
    intake, accepted = intake_with(store)
    entry = entry_of(A01)
    ack = reply_of(await intake.handle(fixture(A01)), entry)
    msa = ack.first("MSA")
    assert msa is not None
    assert (msa.value(1), msa.value(2)) == ("AR", entry["control_id"])
    err = ack.first("ERR")
    assert err is not None and err.value(3, 1) == "207"
    assert "database is locked" in err.value(8)
    assert store.calls == 1
    assert accepted.count == 0
    assert intake.counters.accepted == 0


async def test_other_events_accepted_are_stored_as_ignored_and_trigger_nothing() -> None:
    store = GatedStore()
    intake, accepted = intake_with(store, other_events="accept")
    entry = entry_of(A03)
    ack = reply_of(await intake.handle(fixture(A03)), entry)
    msa = ack.first("MSA")
    assert msa is not None
    assert (msa.value(1), msa.value(2)) == ("AA", entry["control_id"])
    assert ack.first("ERR") is None
    [message] = store.messages
    assert message.message_type == "ADT^A03"
    assert message.status is InboxStatus.IGNORED
    assert message.patient_key == ""
    assert accepted.count == 0  # nothing for the worker to do


async def test_other_events_are_rejected_ar_201_by_default() -> None:
    store = GatedStore()
    intake, _ = intake_with(store)
    ack = reply_of(await intake.handle(fixture(A03)), entry_of(A03))
    msa, err = ack.first("MSA"), ack.first("ERR")
    assert msa is not None and msa.value(1) == "AR"
    assert err is not None and err.value(3, 1) == "201"
    assert store.messages == []


async def test_an_oversized_frame_is_answered_ar_with_its_msh_10_salvaged() -> None:
    intake, accepted = intake_with(GatedStore())
    entry = entry_of(A01)
    head = fixture(A01)[:300]  # the part of the frame read before the size limit hit
    assert b"\r" in head  # the whole MSH is in it
    ack = reply_of(await intake.handle_oversize(head), entry)
    msa, err = ack.first("MSA"), ack.first("ERR")
    assert msa is not None
    assert (msa.value(1), msa.value(2)) == ("AR", entry["control_id"])
    assert err is not None and err.value(3, 1) == "100"
    assert accepted.count == 0


async def test_an_rqi_is_answered_rpi_aa_with_the_rights_as_in1_groups() -> None:
    query = FakeQuery()
    store = GatedStore()
    intake, accepted = intake_with(store, query=query)
    entry = entry_of(RQI)
    rpi = reply_of(await intake.handle(fixture(RQI)), entry)
    assert (rpi.message_code, rpi.trigger) == ("RPI", "I01")
    msa = rpi.first("MSA")
    assert msa is not None
    assert (msa.value(1), msa.value(2)) == ("AA", entry["control_id"])
    in1 = rpi.all("IN1")
    assert in1, "the member holds rights: one IN1 group per coverage"
    assert in1[0].value(2) == "AMO"
    assert len(in1[0].value(3)) == 9
    [asked] = query.queries
    assert asked.nir.value == entry["nir"]
    assert asked.regime == entry["regime"]
    assert query.callers == [Caller(Entry.RQI, "DPI-EASILY^HCL")]  # MSH-3^MSH-4, for the audit
    assert store.messages == [] and accepted.count == 0  # answered, not stored
    assert intake.counters.queries == 1


async def test_an_unusable_rqi_is_answered_rpi_ae_without_a_lookup() -> None:
    query = FakeQuery()
    intake, _ = intake_with(GatedStore(), query=query)
    entry = entry_of(RQI)
    frame = fixture(RQI).replace(b"|19580903|", b"|1958-09-03|")
    assert frame != fixture(RQI), "the fixture's birth date is 19580903"
    rpi = reply_of(await intake.handle(frame), entry)
    assert (rpi.message_code, rpi.trigger) == ("RPI", "I01")
    msa, err = rpi.first("MSA"), rpi.first("ERR")
    assert msa is not None
    assert (msa.value(1), msa.value(2)) == ("AE", entry["control_id"])
    assert err is not None and err.value(3, 1) == "102"
    assert err.field(2) == erl("PID-7", Delimiters())
    assert rpi.all("IN1") == []
    assert query.queries == []


@pytest.mark.parametrize("charset", ["", "8859/1", "8859/15", "UNICODE UTF-8"])
async def test_err_8_survives_every_charset(charset: str) -> None:
    # issue 18.7: "YYYYMMDD[HHMM…]" came back as "YYYYMMDD[HHMM?]" in a Latin-1 ACK
    frame = fixture("bad/ae-102-pid7-iso-date.hl7")
    msh, rest = frame.split(b"\r", 1)
    fields = msh.split(b"|")
    fields += [b""] * (18 - len(fields))
    fields[17] = charset.encode()
    frame = b"|".join(fields) + b"\r" + rest.decode("latin-1").encode("ascii", "replace")
    intake, _ = intake_with(GatedStore())
    reply = await intake.handle(frame)
    assert b"?" not in reply
    codec = {"": "ascii", "8859/1": "latin-1", "8859/15": "iso8859-15"}.get(charset, "utf-8")
    err = Message.parse(reply.decode(codec)).first("ERR")
    assert err is not None and err.value(3, 1) == "102"
    assert "YYYYMMDD[HHMM…]" in err.value(8)
