"""ACKs echo the sender's MSH-12 whole (issue 20.6): a PAM FR sender reads ``2.5^FRA^2.11``."""

from __future__ import annotations

from datetime import UTC, datetime

from hl7_listener.router import Intake, IntakeOptions
from mapping.er7 import Message
from rights.catalogue import default_catalogue
from rights.model import Requester
from tests.hl7_fixtures import fixture_bytes
from tests.unit.hl7_listener.test_router import GatedStore

NOW = datetime(2026, 11, 24, 9, 31, tzinfo=UTC)


async def test_the_ack_echoes_msh_12_whole() -> None:
    intake = Intake(
        options=IntakeOptions(),
        catalogue=default_catalogue(),
        requester=Requester("750712184"),
        now=lambda: NOW,
        new_control_id=lambda: "ACK-1",
        store=GatedStore(),
        query=None,
        on_accepted=lambda: None,
    )
    frame = fixture_bytes("good/adt-a01-ins-nir-latin1.hl7")
    assert Message.parse(frame.decode("latin-1")).msh.field(12) == "2.5^FRA^2.11"
    reply = Message.parse((await intake.handle(frame)).decode("latin-1"))
    assert reply.msh.field(12) == "2.5^FRA^2.11"
