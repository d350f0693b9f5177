from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from cdr.bootstrap import write_strategy
from cdr.storage import Database, SqlInbox, SqlOutbox, inbox_sqlite
from cdr.storage.strategy import SQLALCHEMY_WRITES, SQLITE_DRIVER_WRITES
from cdr.storage.tables import hl7_inbox
from hl7_listener.ports import (
    InboundMessage,
    InboxStatus,
    OutboundMessage,
    OutboxStatus,
)
from rights.errors import StorageError

T0 = datetime(2026, 11, 24, 8, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture
def database(database):
    """Migrated: every test here starts from the latest schema."""
    database.migrate()
    return database


def _raw(control_id: str) -> bytes:
    return (
        f"MSH|^~\\&|LAB|HOSP|CDR|GW|20261124083015||ADT^A01^ADT_A01|{control_id}|P|2.5\r"
        "PID|1||1850775123456^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS\r"
    ).encode("ascii")


def _message(
    control_id: str,
    *,
    sender: str = "LAB|HOSP",
    ack: bytes | None = None,
    patient: str = "185077512345678",
    at: datetime = T0,
    status: InboxStatus = InboxStatus.PENDING,
) -> InboundMessage:
    return InboundMessage(
        sender_key=sender,
        control_id=control_id,
        received_at=at,
        message_type="ADT^A01",
        patient_key=patient,
        charset="latin-1",
        raw=_raw(control_id),
        ack=ack if ack is not None else f"MSH|ACK {control_id}\rMSA|AA|{control_id}\r".encode(),
        status=status,
    )


def _row_count(database) -> int:
    with database.engine.connect() as connection:
        return int(
            connection.execute(sa.select(sa.func.count()).select_from(hl7_inbox)).scalar_one()
        )


def _out(destination: str, control_id: str) -> OutboundMessage:
    return OutboundMessage(destination, control_id, f"MSH|Z99 {control_id}\r".encode())


def _queue(inbox, controls: list[str], destinations: list[str]) -> list[int]:
    """Store and complete one inbox message per control id; returns their inbox ids."""
    ids = [o.inbox_id for o in inbox.store_many([_message(c) for c in controls])]
    for inbox_id, control in zip(ids, controls, strict=True):
        inbox.complete(
            inbox_id, [_out(d, f"OUT{control}") for d in destinations], lookup_id=None, now=T0
        )
    return ids


# --- schema -------------------------------------------------------------------------------


def test_migration_from_an_empty_database_creates_the_hl7_tables(database):
    inspector = sa.inspect(database.engine)
    assert {"hl7_inbox", "hl7_outbox"} <= set(inspector.get_table_names())
    inbox_unique = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("hl7_inbox")}
    assert ("sender_key", "control_id") in inbox_unique
    outbox_unique = {
        tuple(u["column_names"]) for u in inspector.get_unique_constraints("hl7_outbox")
    }
    assert ("inbox_id", "destination") in outbox_unique
    assert {tuple(i["column_names"]) for i in inspector.get_indexes("hl7_inbox")} >= {
        ("status", "id")
    }
    assert {tuple(i["column_names"]) for i in inspector.get_indexes("hl7_outbox")} >= {
        ("destination", "status", "id")
    }
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == (
            "0012"
        )


def test_a_database_without_the_tables_gives_a_storage_error(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'empty.db'}")  # not migrated
    try:
        with pytest.raises(StorageError, match="cannot store HL7 messages"):
            SqlInbox(db.engine).store_many([_message("1")])
        with pytest.raises(StorageError, match="cannot list the outbox"):
            SqlOutbox(db.engine).items()
    finally:
        db.dispose()


# --- inbox: store_many ----------------------------------------------------------------------


def test_a_batch_is_stored_in_order_and_read_back_pending_oldest_first(inbox):
    outcomes = inbox.store_many([_message("1"), _message("2"), _message("3")])
    ids = [o.inbox_id for o in outcomes]
    assert all(isinstance(i, int) for i in ids) and ids == sorted(ids)
    assert not any(o.is_duplicate for o in outcomes)
    more = inbox.store_many([_message("4")])
    assert more[0].inbox_id > ids[-1]

    pending = inbox.pending(after_id=0, limit=10)
    assert [p.inbox_id for p in pending] == [*ids, more[0].inbox_id]
    first = pending[0]
    assert first.raw == _raw("1") and isinstance(first.raw, bytes)
    assert (first.patient_key, first.message_type, first.charset) == (
        "185077512345678",
        "ADT^A01",
        "latin-1",
    )
    assert first.received_at == T0 and first.received_at.tzinfo is UTC
    assert [p.inbox_id for p in inbox.pending(after_id=ids[0], limit=2)] == ids[1:3]
    assert inbox.depth() == 4
    assert inbox.store_many([]) == []


def test_a_retransmission_gets_the_first_copys_ack_and_is_not_stored(inbox, database):
    first = inbox.store_many([_message("42", ack=b"ACK-OF-FIRST")])[0]
    again = inbox.store_many([_message("42", ack=b"ACK-OF-SECOND"), _message("43")])
    assert again[0].is_duplicate and again[0].inbox_id is None
    assert again[0].duplicate_ack == b"ACK-OF-FIRST"
    assert isinstance(again[0].duplicate_ack, bytes)
    assert again[1].inbox_id is not None and again[1].inbox_id > first.inbox_id
    assert _row_count(database) == 2
    assert [p.inbox_id for p in inbox.pending(after_id=0, limit=10)] == [
        first.inbox_id,
        again[1].inbox_id,
    ]


def test_a_copy_later_in_the_same_batch_gets_the_first_copys_ack(inbox, database):
    outcomes = inbox.store_many(
        [
            _message("7", ack=b"ACK-A"),
            _message("8", ack=b"ACK-B"),
            _message("7", ack=b"ACK-C"),
            _message("7", ack=b"ACK-D"),
        ]
    )
    assert outcomes[0].inbox_id is not None and not outcomes[0].is_duplicate
    assert outcomes[1].inbox_id is not None and outcomes[1].inbox_id != outcomes[0].inbox_id
    assert [o.duplicate_ack for o in outcomes[2:]] == [b"ACK-A", b"ACK-A"]
    assert _row_count(database) == 2


def test_the_same_control_id_from_another_sender_is_a_different_message(inbox):
    outcomes = inbox.store_many(
        [_message("1", sender="LAB|HOSP"), _message("1", sender="ADT|HOSP")]
    )
    assert not any(o.is_duplicate for o in outcomes)
    assert outcomes[0].inbox_id != outcomes[1].inbox_id


def test_over_long_sender_values_are_stored_and_still_deduplicated(inbox, database):
    # MSH-3/4/10 come from the sender: longer than their columns they must not fail the batch
    # (PostgreSQL would refuse them) nor merge two different messages.
    long_sender = "APPLICATION^" + "1.2.250.1.71.4.2.7" * 20 + "^ISO|FACILITY"
    long_a = "C" * 70 + "A"
    long_b = "C" * 70 + "B"
    outcomes = inbox.store_many(
        [_message(long_a, sender=long_sender), _message(long_b, sender=long_sender)]
    )
    assert not any(o.is_duplicate for o in outcomes)
    again = inbox.store_many([_message(long_b, sender=long_sender, ack=b"later")])
    assert again[0].duplicate_ack == _message(long_b).ack
    assert _row_count(database) == 2


def test_ignored_messages_are_stored_but_never_pending(inbox):
    outcomes = inbox.store_many([_message("1", status=InboxStatus.IGNORED), _message("2")])
    assert outcomes[0].inbox_id is not None
    assert [p.inbox_id for p in inbox.pending(after_id=0, limit=10)] == [outcomes[1].inbox_id]
    assert inbox.store_many([_message("1")])[0].is_duplicate
    assert inbox.depth() == 1


def test_times_are_stored_as_instants_and_read_back_in_utc(inbox):
    paris = timezone(timedelta(hours=1))
    inbox.store_many([_message("1", at=datetime(2026, 11, 24, 9, 30, tzinfo=paris))])
    received = inbox.pending(after_id=0, limit=1)[0].received_at
    assert received == datetime(2026, 11, 24, 8, 30, tzinfo=UTC)
    assert received.utcoffset() == timedelta(0)
    with pytest.raises(ValueError, match="timezone-aware"):
        inbox.store_many([_message("2", at=datetime(2026, 11, 24, 9, 30))])


def test_both_write_strategies_store_the_very_same_rows_and_outcomes(tmp_path):
    """The sqlite3 driver path (``inbox_sqlite``) against SQLAlchemy's (``inbox.store_batch``),
    on two SQLite files: the same batches give the same outcomes and the same rows, byte for
    byte (``quote()`` tells text from blob, integer from real)."""
    paris = timezone(timedelta(hours=1))
    batches = [
        [_message("1"), _message("2", sender="LAB|OTHER"), _message("1")],  # a copy in the batch
        [_message("2", sender="LAB|OTHER"), _message("3", at=T0.astimezone(paris))],  # stored
        [_message("4", status=InboxStatus.IGNORED), _message("x" * 80, sender="S" * 300)],
    ]
    stores, databases = [], []
    for strategy in (SQLALCHEMY_WRITES, SQLITE_DRIVER_WRITES):
        database = Database(f"sqlite:///{tmp_path / strategy.name}.sqlite3")
        database.migrate()
        databases.append(database)
        stores.append(SqlInbox(database.engine, store=strategy.inbox))
    try:
        for batch in batches:
            assert stores[1].store_many(batch) == stores[0].store_many(batch)
        columns = ", ".join(f"quote({c.name})" for c in hl7_inbox.c)
        rows = []
        for database in databases:
            with database.engine.connect() as connection:
                found = connection.exec_driver_sql(f"SELECT {columns} FROM hl7_inbox ORDER BY id")
                rows.append([tuple(r) for r in found])
        assert rows[1] == rows[0] and len(rows[0]) == 5
    finally:
        for database in databases:
            database.dispose()


# --- inbox: concurrent writers --------------------------------------------------------------


def _inbox(database, engine=None):
    """An inbox on ``database`` (through ``engine``, another process's) writing as the gateway
    does on it."""
    return SqlInbox(engine or database.engine, store=write_strategy(database).inbox)


@pytest.fixture
def other_engine(database):
    """The same database through another engine: another gateway process, as far as the
    database can tell."""
    other = Database(database.url)
    yield other.engine
    other.dispose()


@contextlib.contextmanager
def before_each_insert(database, monkeypatch, hook):
    """Call ``hook()`` just before each INSERT into the inbox, between the batch's read of the
    stored keys and its insert: where a concurrent writer can slip in. SQLite stores through
    the driver itself (``cdr/storage/inbox_sqlite.py``), PostgreSQL through SQLAlchemy."""
    if database.engine.dialect.name == "sqlite":
        real = inbox_sqlite.store_batch_on
        inside: list[bool] = []

        class RacingCursor:
            def __init__(self, cursor):
                self._cursor = cursor

            def execute(self, statement, parameters=()):
                # The other writer's own inserts go through this patch too: not for them.
                if statement.startswith("INSERT INTO hl7_inbox") and not inside:
                    inside.append(True)
                    try:
                        hook()
                    finally:
                        inside.pop()
                return self._cursor.execute(statement, parameters)

            def __getattr__(self, name):
                return getattr(self._cursor, name)

        monkeypatch.setattr(
            inbox_sqlite, "store_batch_on", lambda cursor, rows: real(RacingCursor(cursor), rows)
        )
        yield
        return

    def listener(conn, cursor, statement, parameters, context, many):
        if statement.startswith("INSERT INTO hl7_inbox"):
            hook()

    sa.event.listen(database.engine, "before_cursor_execute", listener)
    try:
        yield
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", listener)


def test_a_key_inserted_by_another_process_meanwhile_is_found_on_the_retry(
    database, other_engine, monkeypatch
):
    mine, other = _inbox(database), _inbox(database, other_engine)
    raced: list[bool] = []

    def other_process_stores_first():
        if not raced:
            raced.append(True)  # between our read and our insert, another writer commits "1"
            other.store_many([_message("1", ack=b"ACK-OTHER")])

    with before_each_insert(database, monkeypatch, other_process_stores_first):
        outcomes = mine.store_many([_message("1", ack=b"ACK-MINE"), _message("2")])
    assert raced == [True]
    assert outcomes[0].duplicate_ack == b"ACK-OTHER"
    assert outcomes[1].inbox_id is not None and not outcomes[1].is_duplicate
    assert _row_count(database) == 2


def test_the_batch_is_retried_once_only(database, other_engine, monkeypatch):
    mine, other = _inbox(database), _inbox(database, other_engine)
    keys = iter(["1", "2"])

    def other_process_always_wins():
        key = next(keys, None)
        if key is not None:
            other.store_many([_message(key)])

    with (
        before_each_insert(database, monkeypatch, other_process_always_wins),
        pytest.raises(StorageError, match="cannot store HL7 messages"),
    ):
        mine.store_many([_message("1"), _message("2")])
    assert _row_count(database) == 2  # the other writer's rows, nothing of ours half-stored


def test_two_writers_storing_the_same_messages_at_once_store_each_once(database, other_engine):
    engines = [database.engine, other_engine]
    controls = [f"R{n}" for n in range(40)]
    barrier = threading.Barrier(2)
    results: dict[int, list] = {}
    errors: list[BaseException] = []

    def write(n: int) -> None:
        store = _inbox(database, engines[n])
        try:
            barrier.wait(timeout=10)
            results[n] = store.store_many([_message(c, ack=f"ACK{n}".encode()) for c in controls])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert _row_count(database) == len(controls)
    for i in range(len(controls)):
        pair = [results[0][i], results[1][i]]
        stored = [o for o in pair if not o.is_duplicate]
        assert len(stored) == 1, controls[i]
        winner = 0 if stored[0] is pair[0] else 1
        assert pair[1 - winner].duplicate_ack == f"ACK{winner}".encode()


# --- inbox: complete / fail -----------------------------------------------------------------


def test_complete_marks_done_and_queues_the_outbound_messages_once(inbox, outbox):
    inbox_id = inbox.store_many([_message("1")])[0].inbox_id
    outbound = [_out("bus:2575", "OUT1"), _out("archive:2576", "OUT1")]
    inbox.complete(inbox_id, outbound, lookup_id="a" * 32, now=T0)
    assert inbox.pending(after_id=0, limit=10) == [] and inbox.depth() == 0
    items = outbox.items()
    assert sorted(i.destination for i in items) == ["archive:2576", "bus:2575"]
    assert all(i.inbox_id == inbox_id and i.status is OutboxStatus.PENDING for i in items)
    assert all(i.attempts == 0 and i.created_at == T0 == i.next_attempt_at for i in items)

    inbox.complete(inbox_id, outbound, lookup_id="b" * 32, now=T0 + timedelta(seconds=5))
    assert len(outbox.items()) == 2  # nothing queued twice, no error


def test_a_destination_named_twice_keeps_its_first_message(inbox, outbox):
    inbox_id = inbox.store_many([_message("1")])[0].inbox_id
    first, second = _out("bus:2575", "FIRST"), _out("bus:2575", "SECOND")
    inbox.complete(inbox_id, [first, second], lookup_id=None, now=T0)
    assert [i.control_id for i in outbox.items()] == ["FIRST"]


def test_complete_without_outbound_and_of_an_unknown_message(inbox, outbox):
    inbox_id = inbox.store_many([_message("1")])[0].inbox_id
    inbox.complete(inbox_id, [], lookup_id=None, now=T0)
    assert inbox.depth() == 0 and outbox.items() == []
    with pytest.raises(StorageError, match="9999 is not in the inbox"):
        inbox.complete(9999, [_out("bus:2575", "X")], lookup_id=None, now=T0)
    assert outbox.items() == []


def test_fail_keeps_the_message_out_of_pending_and_never_undoes_a_done_one(inbox, database):
    ids = [o.inbox_id for o in inbox.store_many([_message("1"), _message("2")])]
    inbox.fail(ids[0], "lookup exploded: \x00 in a field", now=T0)
    inbox.complete(ids[1], [], lookup_id=None, now=T0)
    inbox.fail(ids[1], "late failure", now=T0)
    assert inbox.pending(after_id=0, limit=10) == [] and inbox.depth() == 0
    with database.engine.connect() as connection:
        rows = connection.execute(
            sa.select(hl7_inbox.c.id, hl7_inbox.c.status, hl7_inbox.c.error).order_by(
                hl7_inbox.c.id
            )
        ).all()
    assert [(r.status, r.error) for r in rows] == [
        ("failed", "lookup exploded: \\x00 in a field"),
        ("done", ""),
    ]
    with pytest.raises(StorageError):
        inbox.fail(9999, "nope", now=T0)
