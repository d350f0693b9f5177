"""Group commit: concurrent jobs share a transaction, a bad job fails alone, results in order."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from cdr.storage.writer import GroupCommit, SingleWriter


class _Ledger:
    """A fake store: ``write`` is one transaction; a job named ``bad`` makes it fail."""

    def __init__(self) -> None:
        self.transactions: list[list[str]] = []
        self.committed: list[str] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def write(self, jobs: Sequence[str]) -> list[str]:
        self.entered.set()
        self.release.wait(timeout=5)
        self.transactions.append(list(jobs))
        if "bad" in jobs:
            raise ValueError("bad job")
        self.committed += jobs
        return [job.upper() for job in jobs]


async def _in_transaction(ledger: _Ledger) -> None:
    """Until the writer thread is inside ``ledger.write`` (polled, with a deadline)."""
    deadline = asyncio.get_running_loop().time() + 5
    while not ledger.entered.is_set():
        assert asyncio.get_running_loop().time() < deadline, "the writer never started"
        await asyncio.sleep(0.001)


async def _let_tasks_start() -> None:
    await asyncio.sleep(0)  # tasks just created run their first step in the next loop pass


@pytest.fixture
def writer():
    single = SingleWriter()
    yield single
    single.close()


async def test_a_job_alone_is_a_transaction_of_its_own(writer):
    ledger = _Ledger()
    commits = GroupCommit(ledger.write, writer.run)
    assert await commits.submit("a") == "A"
    assert ledger.transactions == [["a"]]


async def test_jobs_arriving_during_a_transaction_are_written_together_in_order(writer):
    ledger = _Ledger()
    commits = GroupCommit(ledger.write, writer.run)
    ledger.release.clear()  # hold the first transaction while the others arrive
    first = asyncio.create_task(commits.submit("a"))
    await _in_transaction(ledger)
    rest = [asyncio.create_task(commits.submit(job)) for job in ("b", "c", "d")]
    await _let_tasks_start()
    ledger.release.set()
    assert await first == "A"
    assert [await task for task in rest] == ["B", "C", "D"]
    assert ledger.transactions == [["a"], ["b", "c", "d"]]


async def test_a_failing_batch_is_written_again_job_by_job_so_only_the_bad_job_fails(writer):
    ledger = _Ledger()
    commits = GroupCommit(ledger.write, writer.run)
    ledger.release.clear()
    first = asyncio.create_task(commits.submit("a"))
    await _in_transaction(ledger)
    batch = [asyncio.create_task(commits.submit(job)) for job in ("b", "bad", "c")]
    await _let_tasks_start()
    ledger.release.set()
    outcomes = await asyncio.gather(first, *batch, return_exceptions=True)
    assert outcomes[:2] == ["A", "B"] and outcomes[3] == "C"
    assert isinstance(outcomes[2], ValueError)
    assert ledger.transactions == [["a"], ["b", "bad", "c"], ["b"], ["bad"], ["c"]]
    assert ledger.committed == ["a", "b", "c"]


async def test_a_batch_holds_at_most_max_batch_jobs(writer):
    ledger = _Ledger()
    commits = GroupCommit(ledger.write, writer.run, max_batch=2)
    ledger.release.clear()
    tasks = [asyncio.create_task(commits.submit(job)) for job in "abcde"]
    await _in_transaction(ledger)
    ledger.release.set()
    assert await asyncio.gather(*tasks) == list("ABCDE")
    assert [len(t) for t in ledger.transactions] == [2, 2, 1]


async def test_a_cancelled_waiter_does_not_disturb_the_others(writer):
    ledger = _Ledger()
    commits = GroupCommit(ledger.write, writer.run)
    ledger.release.clear()
    gone = asyncio.create_task(commits.submit("a"))
    kept = asyncio.create_task(commits.submit("b"))
    await _in_transaction(ledger)
    gone.cancel()
    ledger.release.set()
    assert await kept == "B"
    assert ledger.committed == ["a", "b"]  # its data is stored all the same


async def test_when_the_writer_is_gone_every_waiter_hears_it():
    single = SingleWriter()
    single.close()
    commits = GroupCommit(_Ledger().write, single.run)
    with pytest.raises(RuntimeError):
        await commits.submit("a")


@pytest.mark.parametrize(("passes", "transactions"), [(0, [["a"], ["b"]]), (2, [["a", "b"]])])
async def test_gather_passes_let_a_job_one_step_away_join_the_commit(passes, transactions):
    from cdr.storage.writer import on_loop

    ledger = _Ledger()
    commits = GroupCommit(ledger.write, on_loop, gather_passes=passes)

    async def one_step_later() -> str:
        await asyncio.sleep(0)  # e.g. its regime answer is read first
        return await commits.submit("b")

    first = asyncio.create_task(commits.submit("a"))
    second = asyncio.create_task(one_step_later())
    assert await asyncio.gather(first, second) == ["A", "B"]
    assert ledger.transactions == transactions


class _Busy:
    """A local commit refused ``times`` times for a lock held elsewhere, then accepted."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.calls = 0

    async def submit(self, job: str) -> str:
        from rights.errors import StorageBusy

        self.calls += 1
        if self.calls <= self.times:
            raise StorageBusy("cannot store: database is locked")
        return f"local {job}"


class _Waiting:
    def __init__(self) -> None:
        self.jobs: list[str] = []

    async def submit(self, job: str) -> str:
        self.jobs.append(job)
        return f"waited {job}"


async def test_a_lock_held_elsewhere_is_waited_for_on_the_loop_then_by_the_writer():
    from cdr.storage.writer import LocalFirstCommit

    local, waiting = _Busy(times=2), _Waiting()
    assert await LocalFirstCommit(local, waiting).submit("a") == "local a"  # type: ignore[arg-type]
    assert (local.calls, waiting.jobs) == (3, [])

    held = _Busy(times=1_000)  # the lock never comes free in time on the loop
    assert await LocalFirstCommit(held, waiting).submit("b") == "waited b"  # type: ignore[arg-type]
    assert held.calls == len(LocalFirstCommit.RETRY_DELAYS_S) + 1
    assert waiting.jobs == ["b"]

    assert await LocalFirstCommit(None, waiting).submit("c") == "waited c"  # PostgreSQL


async def test_other_storage_errors_are_not_retried():
    from cdr.storage.writer import LocalFirstCommit
    from rights.errors import StorageError

    class Broken:
        calls = 0

        async def submit(self, job: str) -> str:
            Broken.calls += 1
            raise StorageError("cannot store: disk I/O error")

    waiting = _Waiting()
    with pytest.raises(StorageError, match="disk"):
        await LocalFirstCommit(Broken(), waiting).submit("a")  # type: ignore[arg-type]
    assert (Broken.calls, waiting.jobs) == (1, [])
