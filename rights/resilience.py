"""Resilience parts of the lookup: the policy, a per-regime circuit breaker, the result cache.

Time is read from the injected ``Clock`` (monotonic seconds), never from the system.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date

from rights.model import RegimeRights
from rights.ports import Clock
from rights.result import RegimeStatus

__all__ = ["BreakerState", "CacheKey", "CircuitBreaker", "ResiliencePolicy", "ResultCache"]


@dataclass(frozen=True, slots=True)
class ResiliencePolicy:
    """How hard the lookup tries each regime.

    ``timeout_s`` bounds one regime's whole call, retries included, so discovery never waits
    longer than that for the slowest regime.
    """

    timeout_s: float = 3.0
    max_attempts: int = 3
    backoff_s: float = 0.05
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    cache_ttl_s: float = 300.0
    cache_size: int = 10_000


class BreakerState(enum.StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


class CircuitBreaker:
    """Opens after ``failures`` consecutive transient failures; after ``reset_s`` lets one
    trial call through (half-open) and closes again if it succeeds."""

    def __init__(self, clock: Clock, *, failures: int, reset_s: float) -> None:
        self._clock = clock
        self._threshold = failures
        self._reset_s = reset_s
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock.monotonic() - self._opened_at >= self._reset_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """May a call go through now? In half-open state only one trial at a time."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._trial_running:
            self._trial_running = True
            return True
        return False

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self) -> None:
        self._trial_running = False
        self._failures += 1
        if self._opened_at is not None or self._failures >= self._threshold:
            self._opened_at = self._clock.monotonic()

    def record_neutral(self) -> None:
        """A call ended in a way that says nothing about the regime's health."""
        self._trial_running = False


@dataclass(frozen=True, slots=True)
class CacheKey:
    """What makes two questions the same. The requester is part of it: a regime may refuse one
    structure what it answers another (eligibility), so an answer is never shared across them."""

    regime: str
    nir: str
    birth_date: str | None
    rang: int
    date_of_care: date
    requester_finess: str


@dataclass(frozen=True, slots=True)
class _Entry:
    expires_at: float
    status: RegimeStatus
    rights: RegimeRights | None


class ResultCache:
    """Answers (found or unknown person) kept for ``ttl_s``; errors are never stored.

    The key holds the date of care: the same person on another day is another question.
    Bounded to ``size`` entries, least recently used first out.
    """

    def __init__(self, clock: Clock, *, ttl_s: float, size: int) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._size = size
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> tuple[RegimeStatus, RegimeRights | None] | None:
        entry = self._entries.get(key)
        if entry is None or entry.expires_at <= self._clock.monotonic():
            if entry is not None:
                del self._entries[key]
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.status, entry.rights

    def put(self, key: CacheKey, status: RegimeStatus, rights: RegimeRights | None) -> None:
        if self._ttl_s <= 0 or not status.answered:
            return
        self._entries[key] = _Entry(self._clock.monotonic() + self._ttl_s, status, rights)
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
