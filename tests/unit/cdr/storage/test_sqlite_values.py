"""The values the sqlite3 driver path writes are the ones SQLAlchemy's own types would write."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, LargeBinary

from cdr.storage import Database
from cdr.storage.packed import PackedAuditText, PackedJson, PackedText
from cdr.storage.sqlite_values import _rule, sqlite_datetime
from cdr.storage.tables import (
    audit_events,
    fhir_resources,
    fhir_search_index,
    lookup_results,
    lookups,
)

PARIS = timezone(timedelta(hours=1))
SAMPLES = {
    DateTime: [
        datetime(2026, 11, 24, 9, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 10, 0, 0, 123456, tzinfo=PARIS),  # its wall time, as SQLAlchemy
        datetime(999, 1, 2, 3, 4, 5, 6),  # a short year padded to four digits
        date(2026, 1, 2),
        None,
    ],
    Date: [date(2026, 11, 24), date(5, 1, 1), datetime(2026, 11, 24, 23, 59, tzinfo=UTC), None],
    JSON: [None, [], [{"code": "x", "message": "é\x00\n"}], {"a": [1, 2.5, None, True]}, "t", 3],
    Boolean: [True, False, None, 1, 0],
    Float: [3001, 12.5, 0, None],
    PackedText: ["", '{"resourceType":"Patient","name":[{"family":"Lefèvre"}]}', None],
    PackedJson: [None, [], {"a": [1, 2.5, None, True], "é": "\x00"}, "t", 3],
    PackedAuditText: ["", '{"outcome":"0","outcomeDesc":"é"}', None],
}
BAD = {
    DateTime: ["2026-11-24", 3],
    Date: ["2026-11-24"],
    JSON: [{1j}],
    Boolean: ["yes", 2],
    Float: ["soon", [1]],
    PackedText: [3],
    PackedJson: [{1j}],
    PackedAuditText: [3],
}


@pytest.fixture(scope="module")
def dialect():
    """The dialect of the engine the gateway builds: its configuration (a JSON serializer, say)
    is part of what SQLAlchemy would write."""
    database = Database("sqlite:///:memory:")
    yield database.engine.dialect
    database.dispose()


def _kind(column: Column) -> type:
    return next(kind for kind in SAMPLES if isinstance(column.type, kind))


@pytest.mark.parametrize(
    "column",
    [
        c
        for table in (lookups, lookup_results, fhir_resources, fhir_search_index, audit_events)
        for c in table.c
    ],
    ids=str,
)
def test_each_column_is_written_as_sqlalchemy_writes_it(column, dialect):
    processor = column.type.dialect_impl(dialect).bind_processor(dialect)
    rule = _rule(column)
    if processor is None:
        assert rule is None  # stored as given, by both
        return
    assert rule is not None
    for value in SAMPLES[_kind(column)]:
        ours, theirs = rule(value), processor(value)
        if isinstance(theirs, memoryview):  # sqlite3.Binary: the driver stores its bytes
            theirs = bytes(theirs)
        assert (type(ours), ours) == (type(theirs), theirs), value
    for value in BAD[_kind(column)]:
        with pytest.raises(Exception) as theirs_failed:
            processor(value)
        with pytest.raises(type(theirs_failed.value)):
            rule(value)


def test_the_resources_timestamp_is_sqlalchemys_datetime_text(dialect):
    processor = fhir_resources.c.last_updated.type.dialect_impl(dialect).bind_processor(dialect)
    for value in SAMPLES[DateTime][:3]:
        assert sqlite_datetime(value) == processor(value)


def test_a_column_type_without_a_rule_is_refused_not_guessed():
    with pytest.raises(TypeError, match="no SQLite value rule"):
        _rule(Column("payload", LargeBinary))
