"""What one validation lookup (`$submit`) writes to the store, table by table (issue 19 item 4).

The gateway is built as `cdr serve` builds it (SQLite, `bootstrap.build_gateway` and
`build_submit_service`), its regimes at an embedded sandbox on a real socket (latency 0, answer
cache off), and `$submit` is called in process: the store's content is what is measured, not
the HTTP path. Two cases, each on a fresh database after a warm-up lookup per person:

- ``distinct``: each lookup for another open CNAM member (a new Patient each time);
- ``repeated``: the same lookups again for the same members (what a hospital does all day:
  the same patients come back), where an unchanged resource costs nothing to write.

Bytes are SQLite's own accounting of its pages (the ``dbstat`` table: every table and index
of the file, cell payload and the page space they take), divided by the number of lookups.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.fhir_bench import _cer_for
from benchmarks.harness import show
from cdr.bootstrap import (
    build_gateway,
    build_population_for,
    build_sandbox,
    build_submit_service,
)
from cdr.clock import SystemClock
from cdr.settings import Settings
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


async def _rounds(
    gateway: Any, path: Path, warm_up: Sequence[Member], measured: Sequence[Member]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The snapshots before and after ``measured``'s lookups, ``warm_up``'s made first."""
    service = build_submit_service(gateway)
    try:
        for member in warm_up:
            await service.submit(_cer_for(member))
        before = _snapshot(path)
        for member in measured:
            await service.submit(_cer_for(member))
        return before, _snapshot(path)
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


def measure_footprint(members: Sequence[Member], *, repeated: bool) -> Footprint:
    """Per-lookup writes of one `$submit` for each of ``members``; ``repeated``: each of them
    looked up once before the measured round."""
    settings = _settings()
    server = start_in_thread(build_sandbox(settings, today=SystemClock(settings.zone).today()))
    try:
        with tempfile.TemporaryDirectory(prefix="cdr-footprint-") as root:
            gateway_settings = _settings(regimes_url=server.url, data_dir=Path(root), cache_ttl_s=0)
            gateway = build_gateway(gateway_settings)
            warm_up = members if repeated else members[:1]
            measured = members if repeated else members[1:]
            before, after = asyncio.run(
                _rounds(gateway, Path(root) / "cdr.sqlite3", warm_up, measured)
            )
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
        "distinct": measure_footprint(members, repeated=False),
        "repeated": measure_footprint(members, repeated=True),
    }
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
