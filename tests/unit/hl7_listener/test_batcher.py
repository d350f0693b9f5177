"""GroupCommit: items submitted while a flush runs wait for the next one and share it."""

from __future__ import annotations

import asyncio

import pytest

from hl7_listener.batcher import GroupCommit
from rights.errors import StorageError
from tests.unit.hl7_listener.fakes import wait_until


class GatedFlush:
    """A flush that records each batch and holds it until the test opens its gate.

    Results are ``"stored:<item>"``; a batch holding ``"boom"`` raises ``StorageError``.
    """

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gates: list[asyncio.Event] = []

    async def __call__(self, batch: list[str]) -> list[str]:
        gate = asyncio.Event()
        self.batches.append(list(batch))
        self.gates.append(gate)
        await gate.wait()
        if "boom" in batch:
            raise StorageError("database is locked")
        return [f"stored:{item}" for item in batch]

    def open(self, index: int) -> None:
        self.gates[index].set()

    async def started(self, count: int) -> None:
        await wait_until(lambda: len(self.batches) >= count, what=f"flush #{count}")


class Submitter:
    """Submits each item from its own task (one task per connection, as in the listener) and
    notes when the submit has been made, so a test can wait for it without peeking inside."""

    def __init__(self, commits: GroupCommit[str, str]) -> None:
        self.commits = commits
        self.submitted: list[str] = []

    def spawn(self, item: str) -> asyncio.Task[str]:
        return asyncio.create_task(self._submit(item))

    async def _submit(self, item: str) -> str:
        # No await between the note and submit's own queueing: both happen in one step.
        self.submitted.append(item)
        return await self.commits.submit(item)

    async def made(self, count: int) -> None:
        await wait_until(lambda: len(self.submitted) >= count, what=f"{count} submits")


async def test_one_item_alone_is_one_flush() -> None:
    flush = GatedFlush()
    submit = Submitter(GroupCommit(flush))
    waiter = submit.spawn("a")
    await flush.started(1)
    flush.open(0)
    assert await waiter == "stored:a"
    assert flush.batches == [["a"]]


async def test_items_submitted_during_a_flush_are_committed_together_in_the_next() -> None:
    flush = GatedFlush()
    commits: GroupCommit[str, str] = GroupCommit(flush)
    submit = Submitter(commits)
    first = submit.spawn("a")
    await flush.started(1)
    later = [submit.spawn(item) for item in ("b", "c", "d")]
    await submit.made(4)
    assert len(flush.batches) == 1  # nothing flushed while the first batch runs
    assert not first.done()
    flush.open(0)
    assert await first == "stored:a"
    await flush.started(2)
    assert not any(task.done() for task in later)  # not resolved before their own commit
    flush.open(1)
    assert await asyncio.gather(*later) == ["stored:b", "stored:c", "stored:d"]
    assert flush.batches == [["a"], ["b", "c", "d"]]
    await commits.aclose()


async def test_each_waiter_gets_the_result_of_its_own_item() -> None:
    async def flush(batch: list[int]) -> list[int]:
        await asyncio.sleep(0)  # a real flush yields: the other submits queue behind it
        return [item * 10 for item in batch]

    commits: GroupCommit[int, int] = GroupCommit(flush)
    results = await asyncio.gather(*(commits.submit(n) for n in range(20)))
    assert results == [n * 10 for n in range(20)]


async def test_a_failing_flush_fails_exactly_its_batch_and_the_next_batch_works() -> None:
    flush = GatedFlush()
    commits: GroupCommit[str, str] = GroupCommit(flush)
    submit = Submitter(commits)
    first = submit.spawn("a")
    await flush.started(1)
    doomed = [submit.spawn(item) for item in ("boom", "x")]
    await submit.made(3)
    flush.open(0)
    await flush.started(2)
    after = submit.spawn("z")  # queued behind the failing batch
    await submit.made(4)
    flush.open(1)
    for task in doomed:
        with pytest.raises(StorageError, match="database is locked"):
            await task
    await flush.started(3)
    flush.open(2)
    assert await first == "stored:a"
    assert await after == "stored:z"
    assert flush.batches == [["a"], ["boom", "x"], ["z"]]

    # The batcher is still usable once the failed batch has drained.
    fresh = submit.spawn("y")
    await flush.started(4)
    flush.open(3)
    assert await fresh == "stored:y"
    await commits.aclose()


async def test_a_batch_holds_at_most_max_batch_items() -> None:
    flush = GatedFlush()
    commits: GroupCommit[str, str] = GroupCommit(flush, max_batch=2)
    submit = Submitter(commits)
    first = submit.spawn("a")
    await flush.started(1)
    queued = [submit.spawn(item) for item in "bcdef"]
    await submit.made(6)
    for index in range(4):
        await flush.started(index + 1)
        flush.open(index)
    assert await first == "stored:a"
    assert await asyncio.gather(*queued) == [f"stored:{item}" for item in "bcdef"]
    assert flush.batches == [["a"], ["b", "c"], ["d", "e"], ["f"]]
    await commits.aclose()


async def test_aclose_waits_for_the_batch_in_flight_and_those_queued_behind_it() -> None:
    flush = GatedFlush()
    commits: GroupCommit[str, str] = GroupCommit(flush)
    submit = Submitter(commits)
    waiters = [submit.spawn("a")]
    await flush.started(1)
    waiters.append(submit.spawn("b"))
    await submit.made(2)
    closing = asyncio.create_task(commits.aclose())
    flush.open(0)
    await flush.started(2)
    assert not closing.done()
    flush.open(1)
    await closing
    assert [task.result() for task in waiters] == ["stored:a", "stored:b"]


async def test_a_flush_returning_the_wrong_number_of_results_fails_its_waiters_not_hangs() -> None:
    calls: list[list[str]] = []

    async def short_flush(batch: list[str]) -> list[str]:
        calls.append(batch)
        return [] if len(calls) == 1 else [f"stored:{item}" for item in batch]

    commit: GroupCommit[str, str] = GroupCommit(short_flush)
    with pytest.raises(RuntimeError, match="0 results for a batch of 1"):
        await asyncio.wait_for(commit.submit("a"), 5)
    assert await asyncio.wait_for(commit.submit("b"), 5) == "stored:b"
