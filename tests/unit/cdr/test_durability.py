"""Durable commits on SQLite: the WAL flushed before the answer, checkpoints off the event loop."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from cdr.storage.database import Database
from cdr.storage.writer import GroupCommit, on_loop, then_sync
from rights.errors import StorageError


async def test_a_group_commit_answers_only_after_the_sync() -> None:
    events: list[str] = []

    def write(jobs: list[str]) -> list[str]:
        events.append(f"commit {','.join(jobs)}")
        return jobs

    async def sync() -> None:
        await asyncio.sleep(0)
        events.append("sync")

    commits: GroupCommit[str, str] = GroupCommit(write, then_sync(on_loop, sync))

    async def submit(job: str) -> None:
        await commits.submit(job)
        events.append(f"answer {job}")

    await asyncio.gather(submit("a"), submit("b"))
    assert events == ["commit a,b", "sync", "answer a", "answer b"]


def test_then_sync_without_a_sync_is_the_run_itself() -> None:
    assert then_sync(on_loop, None) is on_loop


def _file_database(tmp_path: Path, **options: bool) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'cdr.sqlite3'}", **options)
    database.migrate()
    return database


async def test_wal_sync_flushes_the_wal_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    database = _file_database(tmp_path)
    wal = tmp_path / "cdr.sqlite3-wal"
    flushed: list[int] = []
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        flushed.append(os.fstat(descriptor).st_ino)
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", fsync)
    try:
        sync = database.wal_sync()
        assert sync is not None
        await sync.sync()
        assert wal.stat().st_ino in flushed
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
