"""Values as SQLAlchemy's SQLite types store them, for the writes made on the sqlite3 driver.

A row written on the driver must be the very row SQLAlchemy would have written: reads,
searches, the CLI and migrations all go through SQLAlchemy and parse these texts back.
``tests/unit/cdr/storage/test_sqlite_values.py`` holds each rule to SQLAlchemy's own bind processor.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, Date, DateTime, Float, Integer, String, Table

from cdr.storage.database import json_column_text
from cdr.storage.packed import PackedAuditText, PackedJson, PackedText, pack, pack_audit

__all__ = ["Rule", "column_rules", "sqlite_datetime"]

Rule = Callable[[Any], Any]


def sqlite_datetime(value: datetime) -> str:
    # The text SQLAlchemy's SQLite DATETIME writes and reads back: the wall time, its offset
    # dropped (callers store UTC). isoformat pads the year to four digits as SQLAlchemy does,
    # where strftime's %Y would not.
    return value.replace(tzinfo=None).isoformat(" ", "microseconds")


def _datetime(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return sqlite_datetime(value)
    if isinstance(value, date):  # SQLAlchemy stores a date as its midnight
        return f"{value.isoformat()} 00:00:00.000000"
    raise TypeError("SQLite DateTime type only accepts Python datetime and date objects as input.")


def _date(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, date):  # a datetime too: its day
        return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"
    raise TypeError("SQLite Date type only accepts Python date objects as input.")


def _json(value: Any) -> str:
    # SQLAlchemy's JSON (none_as_null=False) stores None as the JSON text null, not SQL NULL,
    # written by the engines' serializer.
    return json_column_text(value)


def _boolean(value: Any) -> int | None:
    if value not in (False, True, None):
        raise (TypeError if not isinstance(value, int) else ValueError)(
            f"Not a boolean value: {value!r}"
        )
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _packed_text(value: Any) -> bytes | None:
    return None if value is None else pack(value)


def _packed_audit_text(value: Any) -> bytes | None:
    return None if value is None else pack_audit(value)


def _packed_json(value: Any) -> bytes | None:
    return None if value is None else pack(json_column_text(value))


def _rule(column: Column[Any]) -> Rule | None:
    """None: the driver stores the value as given, as SQLAlchemy does for this type."""
    kind = column.type
    if isinstance(kind, PackedText):
        return _packed_text
    if isinstance(kind, PackedAuditText):
        return _packed_audit_text
    if isinstance(kind, PackedJson):
        return _packed_json
    if isinstance(kind, DateTime):
        return _datetime
    if isinstance(kind, Date):
        return _date
    if isinstance(kind, JSON):
        return _json
    if isinstance(kind, Boolean):
        return _boolean
    if isinstance(kind, Float):
        return _float
    if isinstance(kind, String | Integer):
        return None
    # A new column type needs its rule here (and its check in the tests) before the driver
    # path may write it.
    raise TypeError(f"no SQLite value rule for {column} ({kind!r})")


def column_rules(table: Table, names: tuple[str, ...]) -> tuple[Rule | None, ...]:
    """The rule of each named column of ``table``, in order."""
    return tuple(_rule(table.c[name]) for name in names)
