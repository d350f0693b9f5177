"""SQL for the sqlite3 driver path, compiled from the SQLAlchemy Core statements of the
SQLAlchemy path, never typed by hand: a column renamed or added in ``tables.py`` changes both
paths at once.

Each statement is compiled once (at import, or once per shape for the few built per call) by
SQLAlchemy's own SQLite compiler with named parameters, which the sqlite3 driver binds from a
mapping itself. What SQLAlchemy would add at run time is done here: the values a statement
holds (``resource_type = 'Patient'``) are bound with the caller's, and an expanding ``IN``
gets one parameter per item.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects import sqlite
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement

__all__ = ["DriverStatement", "sqlite_statement"]

_DIALECT = sqlite.dialect(paramstyle="named")
_EXPANDING = re.compile(r"__\[POSTCOMPILE_(\w+)\]")


@dataclass(frozen=True, slots=True)
class DriverStatement:
    sql: str
    held: Mapping[str, Any]  # the values compiled into the statement
    expanding: frozenset[str]  # parameters bound to a list (``IN``)

    def parameters(self, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """The driver's parameters of one execution (one row of an executemany)."""
        return {**self.held, **values} if self.held else values

    def many(self, rows: Sequence[Mapping[str, Any]]) -> Sequence[Mapping[str, Any]]:
        """The driver's parameters of an executemany of ``rows``."""
        return rows if not self.held else [self.parameters(row) for row in rows]

    def expanded(self, values: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The SQL and parameters of one execution whose expanding parameters are bound to
        ``values``' lists (none empty): ``IN (:ids_0_1, :ids_0_2)``, as SQLAlchemy renders it."""
        parameters = dict(self.held)
        for name, value in values.items():
            if name in self.expanding:
                parameters.update({f"{name}_{n}": v for n, v in enumerate(value, 1)})
            else:
                parameters[name] = value

        def items(match: re.Match[str]) -> str:
            name = match[1]
            return ", ".join(f":{name}_{n}" for n in range(1, len(values[name]) + 1))

        return _EXPANDING.sub(items, self.sql), parameters


def sqlite_statement(
    statement: ClauseElement, *, column_keys: Sequence[str] | None = None
) -> DriverStatement:
    """``statement`` compiled for the sqlite3 driver. ``column_keys``: the columns an INSERT
    or UPDATE sets (its parameters are named after them)."""
    compiled = statement.compile(
        dialect=_DIALECT, column_keys=None if column_keys is None else list(column_keys)
    )
    assert isinstance(compiled, SQLCompiler)  # a statement, not a DDL element
    held: dict[str, Any] = {}
    expanding: set[str] = set()
    for bind, name in compiled.bind_names.items():
        if bind.expanding:
            expanding.add(name)
        elif not bind.required:
            if bind.type.dialect_impl(_DIALECT).bind_processor(_DIALECT) is not None:
                # Only plain values (text, numbers) are held as they are; a held date would
                # need SQLAlchemy's conversion first.
                raise TypeError(f"held value of {name} needs converting: {bind.type!r}")
            held[name] = bind.effective_value
    return DriverStatement(compiled.string, held, frozenset(expanding))
