"""The periodic purge of `cdr serve` (issue 14 item 5): it purges what is older than the
retention period, again at each interval, logs what it deleted, outlives a database fault, and
stops at once; it runs beside the HL7 processing only (one per gateway)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cdr.bootstrap import build_gateway
from cdr.hl7_runtime import Hl7Runtime
from cdr.purge_loop import PurgeLoop
from cdr.storage import Database
from cdr.storage.tables import lookups
from tests.conftest import gateway_settings
from tests.unit.cdr.storage.aged_rows import count_rows, store_lookup

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RETENTION = timedelta(days=365)


@pytest.fixture
def database(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}")
    database.migrate()
    yield database
    database.dispose()


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.01)


def _loop(database: Database, *, interval_s: float = 3600.0, batch: int = 1000) -> PurgeLoop:
    return PurgeLoop(
        database.engine,
        retention=RETENTION,
        interval_s=interval_s,
        now=lambda: NOW,
        first_delay_s=0.0,
        batch=batch,
    )


async def test_it_purges_shortly_after_the_start_logs_the_counts_and_stops(
    database, caplog
) -> None:
    for n in range(5):
        store_lookup(database.engine, f"old-{n}", NOW - RETENTION - timedelta(days=1, minutes=n))
    store_lookup(database.engine, "recent", NOW - timedelta(days=1))
    loop = _loop(database, batch=2)
    caplog.set_level(logging.INFO, logger="cdr.purge")

    loop.start()
    await _until(lambda: loop.runs == 1)
    started = time.monotonic()
    await loop.stop()

    assert time.monotonic() - started < 1.0  # not the hour to the next round
    assert count_rows(database.engine, lookups) == 1
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "purge"]
    assert "5 lookups, 10 lookup_results" in line.getMessage()
    assert line.lookups == 5  # type: ignore[attr-defined]


async def test_it_purges_again_at_each_interval(database) -> None:
    loop = _loop(database, interval_s=0.05)
    loop.start()
    try:
        await _until(lambda: loop.runs >= 1)
        store_lookup(database.engine, "old", NOW - RETENTION - timedelta(days=1))
        await _until(lambda: loop.runs >= 2 and count_rows(database.engine, lookups) == 0)
    finally:
        await loop.stop()


async def test_nothing_to_delete_writes_no_line(database, caplog) -> None:
    caplog.set_level(logging.INFO, logger="cdr.purge")
    loop = _loop(database)
    assert (await loop.run_once()).total == 0
    assert not [r for r in caplog.records if r.name == "cdr.purge"]


async def test_a_database_fault_is_logged_and_the_loop_goes_on(tmp_path, caplog) -> None:
    unmigrated = Database(f"sqlite:///{tmp_path / 'empty.sqlite3'}")  # no tables: every purge fails
    loop = _loop(unmigrated, interval_s=0.01)
    try:
        loop.start()
        await _until(lambda: len([r for r in caplog.records if r.name == "cdr.purge"]) >= 2)
        lines = [r for r in caplog.records if r.name == "cdr.purge"]
        assert all(r.levelno == logging.ERROR for r in lines)
        assert "purge failed, tried again in 0 s: cannot purge" in lines[0].getMessage()
    finally:
        await loop.stop()
        unmigrated.dispose()


def test_an_interval_of_zero_is_no_loop(database) -> None:
    with pytest.raises(ValueError, match="interval"):
        _loop(database, interval_s=0)


@pytest.mark.parametrize(
    ("processing", "interval_s", "purges"),
    [(True, 3600.0, True), (False, 3600.0, False), (True, 0.0, False)],
    ids=["processing", "intake-only", "disabled"],
)
async def test_the_purge_runs_beside_the_hl7_processing_only(
    processing, interval_s, purges, tmp_path
) -> None:
    settings = gateway_settings(
        "http://127.0.0.1:9", tmp_path, mllp_port=0, purge_interval_s=interval_s
    )
    gateway = build_gateway(settings)
    runtime = Hl7Runtime(gateway, intake=not processing, processing=processing)
    try:
        assert (runtime.purge_loop is not None) == purges
        await runtime.start()
    finally:
        await runtime.stop()
        await gateway.aclose()
