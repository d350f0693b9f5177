"""The store at hospital scale (issue 19): searches and `$submit` as the store grows.

For each database (SQLite, PostgreSQL) the store starts empty and is filled to each size in turn
(``scale_fill``: the gateway's own write path, in bulk; the fill rate is printed, not judged).
At each size, and at the empty store first:

1. the store's size on disk and what each lookup added (SQLite: the file after a checkpoint;
   PostgreSQL: ``pg_total_relation_size`` of the FHIR tables and of the lookup records);
2. p50/p95 of every advertised search through the store's own search (``scale_search``);
3. `$submit` throughput as users make it: ``cdr serve`` on that very store, loaded by wrk as in
   the FHIR section (cnam validations, sandbox latency 0, cache off), beside the empty store's.

Goals: every search <= 200 ms p95 at 1,000,000 lookups; `$submit` at 1,000,000 >= 0.9 x the
empty store's rate.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from benchmarks.fhir_bench import (
    CONNECTIONS,
    SUBMIT,
    Plan,
    _cer_for,
    _gateway,
    _load,
    _members,
    _postgres_database,
    _postgres_unavailable,
    postgres_admin_url,
)
from benchmarks.harness import SandboxProcess, median, sandbox_process, show
from benchmarks.scale_fill import AnswerTemplate, StoreFiller, answer_templates, year_end
from benchmarks.scale_search import COUNT, SearchTiming, time_searches
from benchmarks.wrk import run_wrk, write_post_script, wrk_available
from cdr.bootstrap import prepare_storage
from cdr.clock import SystemClock
from cdr.settings import Settings
from cdr.storage import Database, SqlLookupStore
from cdr.storage.audit import SqlAuditTrail
from cdr.storage.fhir_store import SqlFhirStore
from cdr.storage.fhir_with_audit import FhirStoreWithAudit

__all__ = ["DATABASES", "SIZES", "run_scale"]

SIZES = (100_000, 1_000_000)
DATABASES = ("sqlite", "postgresql")
SEARCH_GOAL_MS = 200.0
SUBMIT_GOAL = 0.9
_FHIR_TABLES = ("fhir_resources", "fhir_search_index", "fhir_resource_history")
_LOOKUP_TABLES = ("lookups", "lookup_results")


@dataclass(frozen=True, slots=True)
class _Store:
    label: str
    database: Database
    data_dir: Path
    url: str | None  # the gateway's CDR_DATABASE_URL; None: cdr.sqlite3 in data_dir


def run_scale(
    *,
    sizes: tuple[int, ...] = SIZES,
    databases: tuple[str, ...] = DATABASES,
    quick: bool = False,
    submit: bool = True,
) -> None:
    """``submit`` False leaves out the `$submit` throughput (no gateway, no sandbox, no wrk)."""
    runs = 5 if quick else 20
    plan = Plan(seconds=1, rounds=1, overhead_count=0, overhead_seconds=0, workers=(1,))
    if not quick:
        plan = Plan(seconds=2, rounds=3, overhead_count=0, overhead_seconds=0, workers=(1,))
    templates = answer_templates()
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="cdr-scale-") as tmp:
        root = Path(tmp)
        sandbox: SandboxProcess | None = None
        if submit and not wrk_available():
            show("Store at scale: $submit", [("skipped", "wrk is not installed (Debian wrk)")])
        elif submit:
            sandbox = stack.enter_context(sandbox_process())
            sandbox.reset_faults()
        script = write_post_script(root, SUBMIT, [json.dumps(_cer_for(m)) for m in _members()])
        for kind in databases:
            with _store(kind, root / kind) as store, _store(kind, root / f"{kind}-empty") as empty:
                if isinstance(store, str) or isinstance(empty, str):
                    reason = store if isinstance(store, str) else str(empty)
                    show(f"Store at scale: {kind}", [("skipped", reason)])
                    continue
                _run_one(store, empty, templates, sizes, runs, sandbox, script, plan)


@contextmanager
def _store(kind: str, data_dir: Path) -> Iterator[_Store | str]:
    """A fresh, migrated store with the conformance resources (as `cdr serve` prepares it), or
    why there is none."""
    url: str | None = None
    with ExitStack() as stack:
        if kind == "postgresql":
            admin = postgres_admin_url()
            reason = _postgres_unavailable(admin)
            if reason is not None:
                yield f"PostgreSQL: {reason} (set CDR_BENCH_POSTGRES_URL)"
                return
            url = stack.enter_context(_postgres_database(admin))
        settings = Settings(_env_file=None, data_dir=data_dir, database_url=url)  # type: ignore[call-arg]
        prepare_storage(settings)
        database = Database(settings.effective_database_url)
        try:
            label = "SQLite" if kind == "sqlite" else "PostgreSQL"
            yield _Store(label, database, data_dir, url)
        finally:
            database.dispose()


def _size_on_disk(store: _Store) -> tuple[int, str]:
    """Bytes of the store, and how they were measured."""
    engine = store.database.engine
    if store.url is None:
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        files = [store.data_dir / name for name in ("cdr.sqlite3", "cdr.sqlite3-wal")]
        size = sum(f.stat().st_size for f in files if f.exists())
        return size, f"the file; {_sqlite_tables(store)}"
    sizes = []
    with engine.connect() as connection:
        for tables in (_FHIR_TABLES, _LOOKUP_TABLES):
            total = " + ".join(f"pg_total_relation_size('{t}')" for t in tables)
            sizes.append(int(connection.exec_driver_sql(f"SELECT {total}").scalar_one()))
    fhir, lookups = sizes
    how = f"FHIR tables {fhir / 1e6:,.1f} MB + lookup records {lookups / 1e6:,.1f} MB"
    return fhir + lookups, how


def _analyze(store: _Store) -> str:
    """PostgreSQL: fresh planner statistics, as autovacuum keeps them on a server that runs it
    (a store that grew over a year has been analysed many times). The benchmarks' server may run
    without autovacuum: planned on the statistics of an empty table, the deep page of a broad
    search was a nested loop over every match, past its time budget at 100,000 lookups."""
    if store.url is None:
        return ""  # the gateway never runs ANALYZE on SQLite: measured as it runs
    with store.database.engine.connect() as connection:
        connection.exec_driver_sql(f"ANALYZE {', '.join(_FHIR_TABLES + _LOOKUP_TABLES)}")
        connection.commit()
    return "; then ANALYZE, as autovacuum would"


def _sqlite_tables(store: _Store) -> str:
    """The FHIR tables and the lookup records, indexes included (SQLite's ``dbstat`` table)."""
    try:
        with store.database.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT s.tbl_name, sum(d.pgsize) FROM dbstat AS d "
                "JOIN sqlite_schema AS s ON s.name = d.name GROUP BY s.tbl_name"
            ).all()
    except sa.exc.OperationalError:  # a SQLite built without dbstat
        return "no dbstat in this SQLite to say by table"
    by_table = {str(name): int(size) for name, size in rows}
    fhir = sum(by_table.get(t, 0) for t in _FHIR_TABLES)
    lookups = sum(by_table.get(t, 0) for t in _LOOKUP_TABLES)
    return f"FHIR tables {fhir / 1e6:,.1f} MB + lookup records {lookups / 1e6:,.1f} MB"


def _submit_rates(
    filled: _Store, empty: _Store, sandbox: SandboxProcess | None, script: Path, plan: Plan
) -> tuple[list[float], list[float]] | None:
    """`$submit` requests/s of ``cdr serve`` on the filled store and on an empty one, both
    running, loaded in turn round after round: what the machine did meanwhile weighs on both."""
    if sandbox is None:
        return None
    rates: tuple[list[float], list[float]] = ([], [])
    with (
        _gateway(sandbox.url, 1, filled.url, filled.data_dir) as on_filled,
        _gateway(sandbox.url, 1, empty.url, empty.data_dir) as on_empty,
    ):
        servers = (on_filled, on_empty)
        for server in servers:  # warm both: imports, pools, the first pages
            run_wrk(server.url + SUBMIT, script, connections=CONNECTIONS, seconds=1)
        for round_number in range(plan.rounds):
            # Each round in the other order: neither store always runs first.
            pairs = list(zip(servers, rates, strict=True))
            for server, into in pairs[:: -1 if round_number % 2 else 1]:
                into.append(_load(server.url, script, plan).rate)
    return rates


def _submit_row(rates: tuple[list[float], list[float]]) -> str:
    filled, empty = rates
    ratio = median([f / e for f, e in zip(filled, empty, strict=True)])
    met = "met" if ratio >= SUBMIT_GOAL else "missed"
    return (
        f"{median(filled):,.0f} requests/s (rounds: {_rounds(filled)}), empty store "
        f"{median(empty):,.0f} (rounds: {_rounds(empty)}): {ratio:.2f} x "
        f"(median of per-round ratios; goal >= {SUBMIT_GOAL} x: {met})"
    )


def _rounds(rates: list[float]) -> str:
    return ", ".join(f"{r:,.0f}" for r in rates)


def _run_one(
    store: _Store,
    empty: _Store,
    templates: list[AnswerTemplate],
    sizes: tuple[int, ...],
    runs: int,
    sandbox: SandboxProcess | None,
    script: Path,
    plan: Plan,
) -> None:
    end = year_end(SystemClock().today())
    filler = StoreFiller(store.database, templates, end)
    # The gateway's default time budget; AuditEvents searched in the audit trail.
    fhir = FhirStoreWithAudit(
        SqlFhirStore(store.database.engine), SqlAuditTrail(store.database.engine)
    )
    lookups = SqlLookupStore(store.database.engine)
    empty_bytes, _ = _size_on_disk(store)
    curve: list[tuple[str, str]] = []
    for size in sorted(sizes):
        before = filler.filled
        started = time.perf_counter()
        filler.fill(max(0, size - before))
        seconds = max(time.perf_counter() - started, 1e-9)
        analyzed = _analyze(store)
        stored = lookups.count()  # the fill's and those of the $submit runs
        total_bytes, how = _size_on_disk(store)
        per_lookup = (total_bytes - empty_bytes) / max(stored, 1)
        rows = [
            (
                "fill (SqlAnswerStore.save, in bulk)",
                f"{filler.filled - before:,} lookups at {(filler.filled - before) / seconds:,.0f}"
                f" lookups/s ({seconds:,.0f} s); {stored:,} stored in all (with the $submit runs')"
                + analyzed,
            ),
            (
                "size on disk",
                f"{total_bytes / 1e6:,.1f} MB ({how}); {per_lookup:,.0f} bytes per lookup",
            ),
        ]
        timings = time_searches(fhir, end, runs)
        rows += [(t.label, _timing(t)) for t in timings]
        judged = [t for t in timings if t.judged]
        failed = [t for t in judged if t.error is not None]
        worst = max((t for t in judged if t.error is None), key=lambda t: t.p95_ms, default=None)
        met = worst is not None and worst.p95_ms <= SEARCH_GOAL_MS and not failed
        slowest = "" if worst is None else f"slowest p95 {worst.p95_ms:,.1f} ms: {worst.label}"
        verdict = f"{'met' if met else 'missed'} at {size:,} ({slowest})"
        rows.append(
            (
                f"goal: every search <= {SEARCH_GOAL_MS:.0f} ms p95",
                verdict + (f"; {len(failed)} failed" if failed else ""),
            )
        )
        curve.append((f"{size:,} lookups: searches", f"{verdict}; {per_lookup:,.0f} bytes/lookup"))
        rates = _submit_rates(store, empty, sandbox, script, plan)
        if rates is not None:
            rows.append(("$submit (cdr serve --workers 1, wrk) vs empty", _submit_row(rates)))
            curve.append((f"{size:,} lookups: $submit", _submit_row(rates)))
        show(f"Store at scale: {store.label}, {filler.filled:,} lookups (_count={COUNT})", rows)
    show(f"Store at scale: {store.label}, the curve", curve)


def _timing(t: SearchTiming) -> str:
    if t.error is not None:
        return f"FAILED after {t.runs} runs: {t.error}"
    return f"p50 {t.p50_ms:,.1f} ms, p95 {t.p95_ms:,.1f} ms  (n={t.runs}; matches: {t.matches})"
