"""When an admission is looked up again, and what a re-lookup's outcome means (issue 18 item 5).

A lookup that could not ask a regime (down, no answer in time, circuit open) says nothing about
the patient's rights with that regime: "could not ask" is not "no rights". Such an admission's
first result is sent marked not final, and the lookup is made again in the background, with
backoff as the outbox retries deliveries, until every regime answers (an updated result, final)
or the window ends (a last result, final, the regimes still down left unknown). A regime that
refused the request or does not know the person did answer: nothing to ask again.

Pure: the clock is passed in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from rights.result import LookupReport, RegimeStatus

__all__ = ["RelookupPolicy", "RelookupStatus", "not_asked", "settled_status"]

_NOT_ASKED = (RegimeStatus.UNAVAILABLE, RegimeStatus.TIMEOUT)


class RelookupStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for its next try
    FINAL = "final"  # every regime answered: the updated result was queued
    EXPIRED = "expired"  # the window ended: a last result was queued, some regimes unknown
    SUPERSEDED = "superseded"  # a newer message of the patient was processed: nothing sent


def not_asked(report: LookupReport) -> tuple[str, ...]:
    """The regimes the lookup could not ask (catalogue order)."""
    return tuple(r.regime for r in report.results if r.status in _NOT_ASKED)


def settled_status(still_not_asked: tuple[str, ...]) -> RelookupStatus:
    """How a re-lookup whose result is final closes."""
    return RelookupStatus.EXPIRED if still_not_asked else RelookupStatus.FINAL


@dataclass(frozen=True, slots=True)
class RelookupPolicy:
    """``window_s`` from the first result; tries after ``backoff_s`` × 2ⁿ, capped at
    ``backoff_max_s``, the last one at the end of the window."""

    window_s: float
    backoff_s: float
    backoff_max_s: float

    def deadline(self, first_result_at: datetime) -> datetime:
        return first_result_at + timedelta(seconds=self.window_s)

    def next_attempt(self, *, attempts: int, now: datetime, deadline: datetime) -> datetime:
        """When to try again after ``attempts`` tries (0 for the first result), never after
        the deadline, so that the last try is made when the window ends."""
        delay = min(self.backoff_s * 2.0 ** min(attempts, 62), self.backoff_max_s)
        return min(now + timedelta(seconds=delay), deadline)

    @staticmethod
    def is_last_try(*, now: datetime, deadline: datetime) -> bool:
        """A try made at or after the deadline gives the last result, final whatever it says."""
        return now >= deadline
