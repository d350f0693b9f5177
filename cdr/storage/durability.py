"""What makes an SQLite commit survive a power loss, done off the event loop.

SQLite in WAL mode with ``synchronous=NORMAL`` writes a commit into the WAL file without
flushing it: the commit survives the gateway's crash (the operating system holds the pages), not
the operating system's crash or a power loss. ``synchronous=FULL`` flushes the WAL at every
commit, inside the commit call: on the event loop, where the HL7 intake commits (BENCHMARKS.md),
that would stop every connection for the length of a disk flush.

``WalSync`` gives the same promise as FULL to the commits that need it (the inbox batches,
acknowledged AA only once durable): the commit is made as before, then the WAL file is flushed
(``fsync``) on a thread of its own, and only then are the ACKs sent. The WAL is one sequential
file, so the flush also makes every commit before it durable, whoever made it. Messages
arriving during the flush wait for the next commit: the group commit makes one flush serve a
whole batch.

``WalCheckpointer`` copies the WAL back into the database file on a thread of its own. The
connections that commit on the event loop are opened with ``wal_autocheckpoint=0``: otherwise
the commit that crosses SQLite's threshold (1,000 pages) runs the checkpoint, disk flushes
included, on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rights.errors import StorageError

__all__ = ["WalCheckpointer", "WalSync"]

log = logging.getLogger("cdr.storage")


class WalSync:
    """``await sync()`` returns once the WAL of ``database`` is on disk: a flush that started
    after the call has completed. Calls made while a flush runs share the next one (at most one
    flush runs, one more is waited for), so the flushes keep up with any rate of commits."""

    def __init__(self, database: Path) -> None:
        self._wal = Path(f"{database}-wal")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cdr-wal-sync")
        self._directory_synced = False
        self._waiting: list[asyncio.Future[None]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.flushes = 0

    async def sync(self) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(future)
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_while_waited_for())
        await future

    async def _flush_while_waited_for(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                covered, self._waiting = self._waiting, []  # all committed before this flush
                error: Exception | None = None
                try:
                    await loop.run_in_executor(self._executor, self._flush)
                except OSError as exc:
                    error = StorageError(f"cannot flush the database's WAL to disk: {exc}")
                except Exception as exc:  # the executor shut down: tell the waiters
                    error = exc
                for future in covered:
                    if future.done():
                        continue
                    if error is None:
                        future.set_result(None)
                    else:
                        future.set_exception(error)
        finally:
            self._flusher = None

    def _flush(self) -> None:
        # Opened for each flush: SQLite deletes and creates the WAL file as connections come
        # and go; a flush through any descriptor flushes the file's data (POSIX). fdatasync, as
        # SQLite itself uses on Linux: the data and what reading it needs (the file's size),
        # not its times.
        descriptor = os.open(self._wal, os.O_RDONLY)
        try:
            _datasync(descriptor)
        finally:
            os.close(descriptor)
        if not self._directory_synced:
            # The WAL file's own directory entry, once: a new file must be found after a crash.
            _fsync_directory(self._wal.parent)
            self._directory_synced = True
        self.flushes += 1

    def close(self) -> None:
        self._executor.shutdown(wait=True)


_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


def _fsync_directory(directory: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot open a directory this way
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


class WalCheckpointer:
    """A thread that runs ``PRAGMA wal_checkpoint(PASSIVE)`` every ``interval_s``: it copies
    the committed pages into the database file without waiting for, or stopping, any writer.
    When it catches up, the next writer starts the WAL file over, so the WAL stays small."""

    def __init__(self, database: Path, *, interval_s: float = 0.5) -> None:
        self._database = database
        self._interval_s = interval_s
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cdr-wal-checkpoint", daemon=True)
        self.checkpoints = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        connection: sqlite3.Connection | None = None
        warned = False
        try:
            while not self._stopping.wait(self._interval_s):
                try:
                    if connection is None:
                        connection = sqlite3.connect(self._database, check_same_thread=False)
                        connection.execute("PRAGMA busy_timeout=100")
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error as exc:  # a lock held long, a file gone: try again later
                    if not warned:
                        log.warning("WAL checkpoint not made (tried again later): %s", exc)
                        warned = True
        finally:
            if connection is not None:
                connection.close()
