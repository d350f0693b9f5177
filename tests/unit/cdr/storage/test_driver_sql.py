"""``driver_sql``: the sqlite3 driver runs SQLAlchemy's own SQL for a statement, with the values
the statement holds and its expanding IN lists bound as SQLAlchemy binds them."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest
import sqlalchemy as sa

from cdr.storage.driver_sql import sqlite_statement

metadata = sa.MetaData()
things = sa.Table(
    "things",
    metadata,
    sa.Column("kind", sa.String(8), primary_key=True),
    sa.Column("name", sa.String(8), primary_key=True),
    sa.Column("size", sa.Integer),
)


@pytest.fixture
def engine(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'things.sqlite3'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_an_insert_and_a_select_with_held_values_and_lists_run_on_the_driver(engine):
    insert = sqlite_statement(sa.insert(things), column_keys=("kind", "name", "size"))
    assert insert.sql == "INSERT INTO things (kind, name, size) VALUES (:kind, :name, :size)"
    rows = [
        {"kind": "a", "name": "x", "size": 1},
        {"kind": "a", "name": "y", "size": 2},
        {"kind": "b", "name": "x", "size": 3},
    ]
    select = sa.select(things.c.size).where(
        things.c.kind == "a",  # held by the statement
        things.c.name.in_(sa.bindparam("names", expanding=True)),
    )
    with engine.begin() as connection:
        cursor = connection.connection.cursor()
        cursor.executemany(insert.sql, insert.many(rows))
        cursor.execute(*sqlite_statement(select).expanded({"names": ["x", "y", "z"]}))
        driver = sorted(size for (size,) in cursor.fetchall())
        cursor.close()
        through_sqlalchemy = sorted(connection.scalars(select, {"names": ["x", "y", "z"]}))
    assert driver == through_sqlalchemy == [1, 2]


def test_a_statement_holding_a_value_that_needs_converting_is_refused():
    """A held date would be bound unconverted: compiling such a statement fails loudly."""
    column = sa.Column("at", sa.DateTime)
    with pytest.raises(TypeError, match="needs converting"):
        sqlite_statement(sa.select(column).where(column == datetime(2026, 1, 1)))


def test_the_driver_raises_its_own_errors_for_the_one_helper_to_translate(engine):
    insert = sqlite_statement(sa.insert(things), column_keys=("kind", "name", "size"))
    with engine.begin() as connection:
        cursor = connection.connection.cursor()
        cursor.execute(insert.sql, {"kind": "a", "name": "x", "size": 1})
        with pytest.raises(sqlite3.IntegrityError):
            cursor.execute(insert.sql, {"kind": "a", "name": "x", "size": 2})
        cursor.close()
