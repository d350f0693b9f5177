"""Ports: what the lookup use case needs from the outside world, as Protocols.

Adapters in ``regimes/`` and ``cdr/storage`` implement them; ``cdr.bootstrap`` picks which.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from rights.caller import Caller
from rights.catalogue import Regime
from rights.model import RegimeRights, RightsQuery
from rights.result import LookupReport

__all__ = ["Clock", "LookupStore", "RegimeGateway"]


class RegimeGateway(Protocol):
    """Talks to the services of one wire family.

    ``fetch`` returns the rights, or None when the regime answers that it does not know the
    person. It raises ``RegimeUnavailable``, ``RegimeTimeout`` or ``RegimeRejected`` (with
    ``regime`` set) when the regime cannot give an answer; never a foreign exception.
    """

    family: str

    async def fetch(self, regime: Regime, query: RightsQuery) -> RegimeRights | None: ...

    async def health(self, regime: Regime) -> bool: ...


class Clock(Protocol):
    """Wall time for timestamps and monotonic seconds for TTLs and breakers."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class LookupStore(Protocol):
    """Persists every lookup: query, requester, per-regime outcome and timings."""

    def save(self, report: LookupReport, caller: Caller) -> str:
        """Store the report (and its audit event: ``caller`` asked); return its id."""
        ...
