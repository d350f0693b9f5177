"""What the portal needs from the rest of the gateway, as Protocols the composition root fills
(the portal never reaches a database itself: the import contracts forbid it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from rights.caller import Caller
from rights.model import RightsQuery
from rights.result import LookupReport

__all__ = ["RecentLookup", "RecentLookups", "RunLookup", "StoredReports", "TermsAcceptances"]

# The gateway's LookupService.run: the lookup, stored and audited; returns its id and report.
RunLookup = Callable[[RightsQuery, Caller], Awaitable[tuple[str, LookupReport]]]


class TermsAcceptances(Protocol):
    """Who accepted which version of the terms of use (CGU), and when."""

    def has_accepted(self, user_id: str, version: str) -> bool: ...

    def accept(self, user_id: str, version: str, at: datetime) -> None: ...


@dataclass(frozen=True, slots=True)
class RecentLookup:
    lookup_id: str
    created_at: datetime
    nir_masked: str
    regime: str | None  # None: discovery
    in_force: bool
    outcome: str


class RecentLookups(Protocol):
    def recent(self, rpps: str, limit: int) -> list[RecentLookup]: ...


class StoredReports(Protocol):
    """A stored lookup read back as its report, for the professional who asked only (their
    RPPS is the lookup's requester), with the time it was made; None otherwise."""

    def report(self, lookup_id: str, rpps: str) -> tuple[LookupReport, datetime] | None: ...
