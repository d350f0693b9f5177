"""Durable commits on SQLite: the WAL flushed before the answer, checkpoints off the event loop."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from cdr.storage import durability
from cdr.storage.database import Database
from cdr.storage.writer import GroupCommit, on_loop
from rights.errors import StorageError


async def test_group_commit_answers_after_the_flush_and_commits_arrivals_after_it() -> None:
    events: list[str] = []
    flushing = asyncio.Event()
    release = asyncio.Event()

    def write(jobs: list[str]) -> list[str]:
        events.append(f"commit {','.join(jobs)}")
        return jobs

    async def durable() -> None:
        flushing.set()
        await release.wait()
        events.append("flushed")

    commits: GroupCommit[str, str] = GroupCommit(write, on_loop, durable=durable)

    async def submit(job: str) -> None:
        await commits.submit(job)
        events.append(f"answer {job}")

    first = asyncio.gather(submit("a"), submit("b"))
    await flushing.wait()
    flushing.clear()
    # submitted while the first flush runs: they wait for it, then share one commit
    later = asyncio.gather(submit("c"), submit("d"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert events == ["commit a,b"]  # nobody answered before the flush, nothing else committed
    release.set()
    await first
    await later
    commits_and_flushes = [e for e in events if not e.startswith("answer")]
    assert commits_and_flushes == ["commit a,b", "flushed", "commit c,d", "flushed"]
    second_flush = len(events) - 1 - events[::-1].index("flushed")
    assert events.index("answer a") > events.index("flushed")
    assert events.index("answer c") > second_flush


async def test_a_group_commit_cancelled_during_its_flush_tells_its_waiters() -> None:
    started = asyncio.Event()

    async def durable() -> None:
        started.set()
        await asyncio.sleep(3600)

    commits: GroupCommit[str, str] = GroupCommit(lambda jobs: list(jobs), on_loop, durable=durable)
    waiter = asyncio.create_task(commits.submit("a"))
    await started.wait()
    drain = commits._task
    assert drain is not None
    drain.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter


async def test_a_failed_flush_fails_the_batch_it_was_for() -> None:
    async def durable() -> None:
        raise StorageError("cannot flush the database's WAL to disk: EIO")

    commits: GroupCommit[str, str] = GroupCommit(lambda jobs: list(jobs), on_loop, durable=durable)
    with pytest.raises(StorageError, match="cannot flush"):
        await commits.submit("a")


def _file_database(tmp_path: Path, **options: bool) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}", **options)
    database.migrate()
    return database


async def test_wal_sync_flushes_the_wal_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    database = _file_database(tmp_path)
    wal = tmp_path / "cdr.sqlite3-wal"
    flushed: list[int] = []
    real = durability._datasync

    def datasync(descriptor: int) -> None:
        flushed.append(os.fstat(descriptor).st_ino)
        real(descriptor)

    monkeypatch.setattr(durability, "_datasync", datasync)
    try:
        sync = database.wal_sync()
        assert sync is not None
        await sync.sync()
        assert wal.stat().st_ino in flushed
        # calls made together share flushes: never more flushes than calls, at least one
        # flush after the last call began
        before = sync.flushes
        await asyncio.gather(*(sync.sync() for _ in range(20)))
        assert 1 <= sync.flushes - before <= 2
    finally:
        database.dispose()


def test_normal_synchronous_and_postgresql_need_no_wal_sync(tmp_path: Path) -> None:
    database = _file_database(tmp_path, durable_commits=False)
    try:
        assert database.wal_sync() is None
    finally:
        database.dispose()


async def test_a_wal_that_cannot_be_flushed_is_a_storage_error(tmp_path: Path) -> None:
    database = _file_database(tmp_path)
    try:
        sync = database.wal_sync()
        assert sync is not None
        database.engine.dispose()  # the last connection closed: SQLite removed the WAL file
        assert not (tmp_path / "cdr.sqlite3-wal").exists()
        with pytest.raises(StorageError, match="cannot flush"):
            await sync.sync()
    finally:
        database.dispose()


def test_event_loop_connections_leave_checkpoints_to_the_checkpointer(tmp_path: Path) -> None:
    database = _file_database(tmp_path)
    engine = database.no_wait_engine()
    assert engine is not None
    db_file = tmp_path / "cdr.sqlite3"
    try:
        with engine.begin() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
            connection.exec_driver_sql("CREATE TABLE filler (data BLOB)")
        size_before = db_file.stat().st_size
        blob = os.urandom(8192)
        for _ in range(4):  # 8 MB, more than SQLite's 1,000-page automatic checkpoint
            with engine.begin() as connection:
                connection.exec_driver_sql(
                    "INSERT INTO filler VALUES (?)", [(blob,) for _ in range(256)]
                )
        # the committing connection never checkpoints: the pages reach the database file only
        # through the checkpointer's thread (polled with a deadline)
        deadline = time.monotonic() + 10
        while db_file.stat().st_size < size_before + 8_000_000:
            assert time.monotonic() < deadline, "no checkpoint was made"
            time.sleep(0.01)
    finally:
        engine.dispose()
        database.dispose()
