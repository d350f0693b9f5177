"""What one validation lookup (`$submit`) writes to the store, table by table (issue 19 item 4).

The gateway is built as `cdr serve` builds it (SQLite, `bootstrap.build_gateway` and
`build_submit_service`), its regimes at an embedded sandbox on a real socket (latency 0, answer
cache off), and `$submit` is called in process: the store's content is what is measured, not
the HTTP path. Two cases, each on a fresh database after a warm-up lookup per person:

- ``distinct``: each lookup for another open CNAM member (a new Patient each time);
- ``repeated``: the same lookups again for the same members (what a hospital does all day:
  the same patients come back), where an unchanged resource costs nothing to write.

Bytes are the database's own accounting of its pages, divided by the number of lookups: on
SQLite the ``dbstat`` table (every table and index of the file), on PostgreSQL (when a server
answers where the other benchmarks look for one) each table's and index's main fork, a table's
TOAST table with it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchmarks.fhir_bench import (
    POSTGRES_URL,
    _cer_for,
    _postgres_database,
    _postgres_unavailable,
)
from benchmarks.harness import show
from cdr.bootstrap import (
    build_gateway,
    build_population_for,
    build_sandbox,
    build_submit_service,
)
from cdr.clock import SystemClock
from cdr.settings import Settings
from rights.caller import Caller, Entry
from rights.catalogue import default_catalogue
from sandbox.population import Member
from sandbox.server import start_in_thread

__all__ = ["Footprint", "measure_footprint", "run_footprint"]

_TABLES = ("lookups", "lookup_results", "fhir_resources", "fhir_search_index")


@dataclass(frozen=True, slots=True)
class Footprint:
    """Per lookup: rows and bytes (the pages' ``pgsize``, indexes included) by table or
    index; the JSON text stored in each JSON or text column."""

    lookups: int
    rows: dict[str, float]
    bytes: dict[str, float]
    payload: dict[str, float]  # bytes of stored text: resources' content, lookup JSON columns
    index_rows_by_param: dict[str, float]

    @property
    def total_bytes(self) -> float:
        return sum(self.bytes.values())


_POSTGRES_PAGES = sa.text(
    "SELECT c.relname, pg_relation_size(c.oid) + "
    "coalesce(pg_relation_size(nullif(c.reltoastrelid, 0)), 0) "
    "+ coalesce((SELECT sum(pg_relation_size(i.indexrelid)) FROM pg_index i "
    "WHERE i.indrelid = c.reltoastrelid), 0) "
    "FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'i') "
    "AND c.relname NOT LIKE 'alembic_version%'"
)


def _postgres_snapshot(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        rows = {
            t: connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in _TABLES
        }
        pages = {name: int(size) for name, size in connection.execute(_POSTGRES_PAGES)}
        payload = {
            column: int(
                connection.execute(
                    # As stored: after PostgreSQL's own compression of large values, if any.
                    sa.text(f"SELECT coalesce(sum(pg_column_size({name})), 0) FROM {table}")
                ).scalar_one()
            )
            for column, (table, name) in {
                "fhir_resources.content": ("fhir_resources", "content"),
                "lookup_results.rights": ("lookup_results", "rights"),
                "lookups.warnings": ("lookups", "warnings"),
            }.items()
        }
    return {"rows": rows, "pages": pages, "payload": payload, "by_param": {}}


def _snapshot(path: Path) -> dict[str, Any]:
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        rows = {t: connection.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in _TABLES}
        pages = dict(
            connection.execute(
                # Every table and index of the gateway's data, the implicit indexes of
                # primary keys and unique constraints (sqlite_autoindex_*) included.
                "SELECT name, sum(pgsize) FROM dbstat WHERE name NOT IN "
                "('sqlite_schema', 'sqlite_master', 'sqlite_sequence', 'sqlite_stat1', "
                "'alembic_version') GROUP BY name"
            ).fetchall()
        )
        payload = {
            "fhir_resources.content": connection.execute(
                "SELECT coalesce(sum(length(CAST(content AS BLOB))), 0) FROM fhir_resources"
            ).fetchone()[0],
            "lookup_results.rights": connection.execute(
                "SELECT coalesce(sum(length(CAST(rights AS BLOB))), 0) FROM lookup_results"
            ).fetchone()[0],
            "lookups.warnings": connection.execute(
                "SELECT coalesce(sum(length(CAST(warnings AS BLOB))), 0) FROM lookups"
            ).fetchone()[0],
        }
        by_param = dict(
            connection.execute(
                "SELECT resource_type || '.' || param, count(*) FROM fhir_search_index "
                "GROUP BY resource_type, param"
            ).fetchall()
        )
    finally:
        connection.close()
    return {"rows": rows, "pages": pages, "payload": payload, "by_param": by_param}


def _delta(before: dict[str, int], after: dict[str, int], n: int) -> dict[str, float]:
    return {k: (after.get(k, 0) - before.get(k, 0)) / n for k in sorted(after.keys() | before)}


# The lookups measured are audited as a client's `$submit` would be.
_CALLER = Caller(Entry.FHIR, "his-bench", "127.0.0.1")


async def _rounds(
    gateway: Any, snapshot: Any, warm_up: Sequence[Member], measured: Sequence[Member]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The snapshots before and after ``measured``'s lookups, ``warm_up``'s made first."""
    service = build_submit_service(gateway)
    try:
        for member in warm_up:
            await service.submit(_cer_for(member), _CALLER)
        before = snapshot()
        for member in measured:
            await service.submit(_cer_for(member), _CALLER)
        return before, snapshot()
    finally:
        await gateway.aclose()


# A population large enough that pages (4 KiB) are a small part of what a table grows by.
_PER_REGIME = 600


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, sandbox_per_regime=_PER_REGIME, **values)  # type: ignore[call-arg]


def open_cnam_members() -> list[Member]:
    """The sandbox's CNAM members with rights open today: each `$submit` reaches the regime and
    finds rights (a Patient, Coverage, Organization and often a Practitioner)."""
    settings = _settings()
    population = build_population_for(
        settings, default_catalogue(), SystemClock(settings.zone).today()
    )
    return [
        m
        for m in population.members
        if m.regime == "cnam" and m.rights is not None and "open" in m.scenarios
    ]


def measure_footprint(
    members: Sequence[Member], *, repeated: bool, database_url: str | None = None
) -> Footprint:
    """Per-lookup writes of one `$submit` for each of ``members``; ``repeated``: each of them
    looked up once before the measured round. ``database_url``: a fresh PostgreSQL database
    (None: a SQLite file)."""
    settings = _settings()
    server = start_in_thread(build_sandbox(settings, today=SystemClock(settings.zone).today()))
    try:
        with tempfile.TemporaryDirectory(prefix="cdr-footprint-") as root:
            gateway_settings = _settings(
                regimes_url=server.url,
                data_dir=Path(root),
                cache_ttl_s=0,
                database_url=database_url,
            )
            gateway = build_gateway(gateway_settings)
            engine = gateway.database.engine
            path = Path(root) / "cdr.sqlite3"
            snapshot = (
                (lambda: _snapshot(path))
                if database_url is None
                else (lambda: _postgres_snapshot(engine))
            )
            warm_up = members if repeated else members[:1]
            measured = members if repeated else members[1:]
            before, after = asyncio.run(_rounds(gateway, snapshot, warm_up, measured))
    finally:
        server.stop()
    n = len(measured)
    return Footprint(
        lookups=n,
        rows=_delta(before["rows"], after["rows"], n),
        bytes=_delta(before["pages"], after["pages"], n),
        payload=_delta(before["payload"], after["payload"], n),
        index_rows_by_param=_delta(before["by_param"], after["by_param"], n),
    )


def run_footprint(*, quick: bool = False) -> dict[str, Footprint]:
    members = open_cnam_members()[: 8 if quick else 1000]
    results = {
        "SQLite, distinct": measure_footprint(members, repeated=False),
        "SQLite, repeated": measure_footprint(members, repeated=True),
    }
    unavailable = _postgres_unavailable(POSTGRES_URL)
    if unavailable is not None:
        print(f"\n## Store footprint on PostgreSQL: skipped ({unavailable})")
    else:
        for case, repeated in (("distinct", False), ("repeated", True)):
            with _postgres_database(POSTGRES_URL) as url:
                results[f"PostgreSQL, {case}"] = measure_footprint(
                    members, repeated=repeated, database_url=url
                )
    for case, footprint in results.items():
        rows = [(f"rows {table}", f"{footprint.rows.get(table, 0):.2f}") for table in _TABLES] + [
            (f"index rows {param}", f"{count:.2f}")
            for param, count in footprint.index_rows_by_param.items()
            if count
        ]
        rows += [
            (f"stored {column}", f"{size:,.0f} B") for column, size in footprint.payload.items()
        ]
        rows += [
            (f"pages {name}", f"{size:,.0f} B") for name, size in footprint.bytes.items() if size
        ]
        rows.append(
            ("total bytes per lookup (tables + indexes)", f"{footprint.total_bytes:,.0f} B")
        )
        show(f"Store footprint per validation lookup, {case} ({footprint.lookups} lookups)", rows)
    return results
