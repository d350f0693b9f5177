"""Results of a lookup: one ``RightsResult`` per regime asked, gathered in a ``LookupReport``."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from rights.model import RegimeRights, RightsQuery

__all__ = [
    "Evaluation",
    "InForceReason",
    "LookupReport",
    "RegimeStatus",
    "RightsResult",
    "Warning",
]


class RegimeStatus(enum.StrEnum):
    """How a regime answered."""

    FOUND = "found"  # the regime knows the person and returned rights
    UNKNOWN = "unknown"  # the regime answered that it does not know the person
    UNAVAILABLE = "unavailable"  # down, refusing connections, 5xx, circuit open
    TIMEOUT = "timeout"  # no answer within the budget
    REJECTED = "rejected"  # the regime refused the request (bad request, not eligible)

    @property
    def answered(self) -> bool:
        return self in (RegimeStatus.FOUND, RegimeStatus.UNKNOWN)


class InForceReason(enum.StrEnum):
    """Why rights are, or are not, in force on the date of care."""

    IN_FORCE = "in-force"
    EXPIRED = "expired"
    NOT_YET_OPEN = "not-yet-open"
    NO_RIGHTS = "no-rights"  # the regime knows the person but holds no AMO period
    UNKNOWN_PERSON = "unknown-person"
    REGIME_UNAVAILABLE = "regime-unavailable"  # no answer: down, 5xx, timeout, circuit open
    REQUESTER_REFUSED = "requester-refused"  # the regime refused who asks (HTTP 403)
    REQUEST_REJECTED = (
        "request-rejected"  # the regime refused the request, or its answer was unreadable
    )


@dataclass(frozen=True, slots=True)
class Warning:
    """Something the admission clerk or the billing office should know. ``code`` is stable."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The rights held against the date of care."""

    in_force: bool
    reason: InForceReason
    c2s_in_force: bool = False
    ame_in_force: bool = False
    exonerations_in_force: tuple[str, ...] = ()  # ETM codes valid on the date of care
    warnings: tuple[Warning, ...] = ()


@dataclass(frozen=True, slots=True)
class RightsResult:
    """One regime's answer for one beneficiary, evaluated for the date of care."""

    regime: str
    status: RegimeStatus
    evaluation: Evaluation
    rights: RegimeRights | None = None
    detail: str = ""
    elapsed_ms: float = 0.0
    attempts: int = 0
    from_cache: bool = False


@dataclass(frozen=True, slots=True)
class LookupReport:
    """All regime answers for one query, in catalogue order."""

    query: RightsQuery
    results: tuple[RightsResult, ...]
    started_at: datetime
    elapsed_ms: float
    warnings: tuple[Warning, ...] = ()  # about the identity asked for (provisional number…)

    @property
    def found(self) -> tuple[RightsResult, ...]:
        return tuple(r for r in self.results if r.status is RegimeStatus.FOUND)

    @property
    def failed(self) -> tuple[RightsResult, ...]:
        return tuple(r for r in self.results if not r.status.answered)

    @property
    def in_force(self) -> bool:
        return any(r.evaluation.in_force for r in self.results)

    @property
    def outcome(self) -> str:
        """``complete`` when every regime answered, ``partial`` when some did, else ``error``."""
        if not self.failed:
            return "complete"
        return "partial" if len(self.failed) < len(self.results) else "error"
