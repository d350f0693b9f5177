"""The application service every entry point calls: look up rights, then persist the lookup."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from rights.caller import Caller
from rights.lookup import RightsLookup
from rights.model import RightsQuery
from rights.ports import LookupStore
from rights.result import LookupReport

__all__ = ["LookupService", "StoredReport"]


@dataclass(frozen=True, slots=True)
class StoredReport:
    lookup_id: str
    report: LookupReport


class LookupService:
    def __init__(
        self,
        lookup: RightsLookup,
        store: LookupStore,
        observe: Callable[[LookupReport], None] | None = None,
        blocking: Callable[..., Awaitable[Any]] = asyncio.to_thread,
    ) -> None:
        self.lookup = lookup
        self._store = store
        self._observe = observe
        self._blocking = blocking

    async def run(self, query: RightsQuery, caller: Caller) -> StoredReport:
        """The lookup, stored with its audit event (``caller`` asked for it)."""
        report = await self.run_unsaved(query)
        # The database driver blocks: keep it off the event loop.
        lookup_id: str = await self._blocking(self._store.save, report, caller)
        return StoredReport(lookup_id, report)

    async def run_unsaved(self, query: RightsQuery) -> LookupReport:
        """The lookup, observed, for a caller that stores the report itself in the same
        transaction as its own answer (`$submit`: one commit instead of two)."""
        report = await self.lookup.lookup(query)
        if self._observe is not None:
            self._observe(report)
        return report
