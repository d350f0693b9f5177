"""A gateway database in ``CDR_DATA_DIR`` holding admissions already processed, for the
commands an operator runs against it (`cdr outbox …`)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from cdr.storage import Database
from cdr.storage.inbox import SqlInbox
from hl7_listener.ports import InboundMessage, OutboundMessage, RelookupRequest

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def gateway_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    """The database `cdr` commands find through ``CDR_DATA_DIR``, migrated and empty."""
    monkeypatch.setenv("CDR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("CDR_DATABASE_URL", raising=False)
    database = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
    database.migrate()
    return database


def processed_admission(
    inbox: SqlInbox, number: int, *, relookup: RelookupRequest | None = None
) -> None:
    """Admission ``IN-<number>`` (patient ``p<number>``) accepted and processed: its result
    ``OUT-<number>`` queued for 127.0.0.1:6661."""
    [outcome] = inbox.store_many(
        [
            InboundMessage(
                sender_key="CPAGE|CHU",
                control_id=f"IN-{number}",
                received_at=NOW,
                message_type="ADT^A01",
                patient_key=f"p{number}",
                charset="ascii",
                raw=b"MSH|...",
                ack=b"MSH|...\rMSA|AA|IN\r",
            )
        ]
    )
    assert outcome.inbox_id is not None
    inbox.complete(
        outcome.inbox_id,
        [OutboundMessage("127.0.0.1:6661", f"OUT-{number}", b"MSH|...")],
        lookup_id=None,
        now=NOW,
        relookup=relookup,
    )
