"""Store-and-forward delivery of the outbox to the integration bus.

One loop per destination sends the oldest pending message and waits for its ACK before the next
(the order of a patient's updates must hold at the receiver, as with an engine's queue). AA/CA
marks it delivered; AE/AR/CE/CR, a timeout, a refused or closed connection count a failed try
and schedule the next one with exponential backoff; after the configured number of tries the
message is dead-lettered and the loop moves on (``cdr outbox retry`` requeues it).

What the gateway guarantees: each accepted message yields one outbound message per destination,
with its own MSH-10 kept across retries; it is delivered at least once, and more than once only
if the gateway stops between the destination's ACK and recording it — a receiver that drops a
repeated MSH-10 therefore sees each result exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from hl7_listener.ports import OutboxItem, OutboxStore
from mapping.hl7v2.er7 import Message
from rights.errors import CdrError, StorageError

__all__ = ["Delivery", "OutboundSender", "ack_code_of"]

log = logging.getLogger("cdr.hl7")

Blocking = Callable[..., Awaitable[Any]]


class Delivery(Protocol):
    """Sends one payload to one destination and returns the reply payload."""

    async def send(self, payload: bytes) -> bytes: ...

    async def close(self) -> None: ...


def ack_code_of(reply: bytes) -> str:
    """MSA-1 of a reply, or "" when the reply is not a readable acknowledgement."""
    try:
        message = Message.parse(reply.decode("latin-1"))
    except CdrError:
        return ""
    msa = message.first("MSA")
    return msa.value(1).upper() if msa is not None else ""


class OutboundSender:
    def __init__(
        self,
        *,
        outbox: OutboxStore,
        blocking: Blocking,
        connect: Callable[[str], Delivery],
        now: Callable[[], datetime],
        destinations: Sequence[str] = (),
        max_attempts: int = 10,
        backoff_s: float = 1.0,
        backoff_max_s: float = 300.0,
        poll_interval_s: float = 1.0,
    ) -> None:
        self._outbox = outbox
        self._blocking = blocking
        self._connect = connect
        self._now = now
        self._destinations = list(destinations)
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._backoff_max_s = backoff_max_s
        self._poll_interval_s = poll_interval_s
        self._loops: dict[str, asyncio.Task[None]] = {}
        self._wakes: dict[str, asyncio.Event] = {}
        self._supervisor: asyncio.Task[None] | None = None
        self.delivered = 0
        self.failures = 0
        self.dead = 0

    def wake(self) -> None:
        for event in self._wakes.values():
            event.set()

    def start(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise())

    async def stop(self) -> None:
        tasks = [*self._loops.values()]
        if self._supervisor is not None:
            tasks.append(self._supervisor)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._loops.clear()

    async def _supervise(self) -> None:
        """Start a loop for every configured destination and any other found in the outbox
        (messages queued for a destination since removed from the configuration still go)."""
        while True:
            try:
                found: list[str] = await self._blocking(self._outbox.destinations)
            except StorageError as exc:
                log.error("hl7 outbox unreadable: %s", exc.message)
                found = []
            for destination in [*self._destinations, *found]:
                if destination not in self._loops:
                    self._wakes[destination] = asyncio.Event()
                    self._loops[destination] = asyncio.create_task(self._deliver(destination))
            await asyncio.sleep(self._poll_interval_s * 5)

    async def _deliver(self, destination: str) -> None:
        wake = self._wakes[destination]
        client = self._connect(destination)
        try:
            while True:
                wake.clear()
                try:
                    item: OutboxItem | None = await self._blocking(self._outbox.head, destination)
                except StorageError as exc:
                    log.error("hl7 outbox unreadable: %s", exc.message)
                    item = None
                if item is None:
                    await _wait(wake, self._poll_interval_s)
                    continue
                delay = (item.next_attempt_at - self._now()).total_seconds()
                if delay > 0:
                    await _wait(wake, min(delay, self._poll_interval_s))
                    continue
                try:
                    await self._attempt(client, item)
                except StorageError as exc:
                    log.error("hl7 outbox update failed, will try again: %s", exc.message)
                    await _wait(wake, self._poll_interval_s)
                except Exception:  # one bad item must not stop the destination's queue
                    log.exception("hl7 outbox %d: unexpected error", item.id)
                    await _wait(wake, self._poll_interval_s)
        finally:
            await client.close()

    async def _attempt(self, client: Delivery, item: OutboxItem) -> None:
        try:
            reply = await client.send(item.payload)
        except CdrError as exc:
            await self._failed(item, f"not delivered: {exc.message}")
            return
        code = ack_code_of(reply)
        if code in ("AA", "CA"):
            await self._blocking(
                lambda: self._outbox.delivered(item.id, ack_code=code, now=self._now())
            )
            self.delivered += 1
            return
        await self._failed(item, f"destination answered {code or 'no readable ACK'}")

    async def _failed(self, item: OutboxItem, error: str) -> None:
        self.failures += 1
        attempts = item.attempts + 1
        if attempts >= self._max_attempts:
            log.error(
                "hl7 outbox %d to %s dead after %d tries: %s",
                item.id,
                item.destination,
                attempts,
                error,
            )
            await self._blocking(lambda: self._outbox.dead(item.id, error=error, now=self._now()))
            self.dead += 1
            return
        delay = min(self._backoff_s * 2 ** (attempts - 1), self._backoff_max_s)
        log.warning(
            "hl7 outbox %d to %s, try %d failed (%s); next in %.1f s",
            item.id,
            item.destination,
            attempts,
            error,
            delay,
        )
        next_at = self._now() + timedelta(seconds=delay)
        await self._blocking(
            lambda: self._outbox.retry_later(item.id, error=error, next_attempt_at=next_at)
        )


async def _wait(event: asyncio.Event, timeout: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
