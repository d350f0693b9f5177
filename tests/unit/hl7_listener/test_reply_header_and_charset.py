"""Replies to the sender: ACKs echo its MSH-12 whole (issue 20.6), and an RPI written in its
charset escapes the letters that charset lacks instead of replacing them by "?" (issue 20.5)."""

from __future__ import annotations

from datetime import UTC, datetime

from hl7_listener.router import Intake, IntakeOptions
from mapping.hl7v2.charset import encode_escaped
from mapping.hl7v2.er7 import Delimiters, Message
from rights.catalogue import default_catalogue
from rights.model import Requester
from tests.hl7_fixtures import fixture_bytes
from tests.unit.hl7_listener.test_router import FakeQuery, GatedStore

NOW = datetime(2026, 11, 24, 9, 31, tzinfo=UTC)


def _intake() -> Intake:
    return Intake(
        options=IntakeOptions(),
        catalogue=default_catalogue(),
        requester=Requester("750712184"),
        now=lambda: NOW,
        new_control_id=lambda: "ACK-1",
        store=GatedStore(),
        query=FakeQuery(),
        on_accepted=lambda: None,
    )


async def test_the_ack_echoes_msh_12_whole() -> None:
    intake = _intake()
    frame = fixture_bytes("good/adt-a01-ins-nir-latin1.hl7")
    assert Message.parse(frame.decode("latin-1")).msh.field(12) == "2.5^FRA^2.11"
    reply = Message.parse((await intake.handle(frame)).decode("latin-1"))
    assert reply.msh.field(12) == "2.5^FRA^2.11"


async def test_an_rpi_to_an_ascii_sender_escapes_the_letters_ascii_lacks() -> None:
    text = fixture_bytes("good/rqi-i01-query-utf8.hl7").decode("utf-8")
    ascii_query = encode_escaped(text.replace("|UNICODE UTF-8|", "||"), "ascii", Delimiters())
    reply = await _intake().handle(ascii_query)
    assert b"?" not in reply
    rpi = Message.parse(reply.decode("ascii"))
    assert rpi.msh.field(18) == ""
    in1 = rpi.first("IN1")
    assert in1 is not None and in1.value(16, 1) == "Bérenger"
