"""The FHIR server's storage port, implemented by ``cdr.storage.fhir_store``."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from rights.caller import Caller
from rights.result import LookupReport

__all__ = [
    "COUNT_BOUND",
    "AnswerStore",
    "Cancellation",
    "Criterion",
    "FhirStore",
    "IndexEntry",
    "PagePosition",
    "ResourceWrite",
    "SearchPage",
    "StoredResource",
    "TotalMode",
]


@dataclass(frozen=True, slots=True)
class StoredResource:
    resource: dict[str, Any]  # with meta.versionId and meta.lastUpdated set
    version_id: int
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One searchable value of a resource: tokens keep their system; references and dates
    have none."""

    param: str
    value: str
    system: str | None = None


@dataclass(frozen=True, slots=True)
class ResourceWrite:
    """One resource to store with its search index. ``index`` None: the store derives it
    (``search_params.index_entries``) if and when it writes the resource; a resource found
    unchanged needs none. ``new``: its id was made for this write (a CER or CERsp of a
    `$submit`), so it is inserted without looking for a stored version. ``if_absent``: written
    only when no version is stored (a placeholder, such as the Patient as asked that a queued
    answer points to, must not replace what a lookup wrote); the stored version is returned
    otherwise."""

    resource: dict[str, Any]
    index: Sequence[IndexEntry] | None = None
    new: bool = False
    if_absent: bool = False


@dataclass(frozen=True, slots=True)
class Criterion:
    """One search condition. ``values`` are OR-ed; criteria are AND-ed.

    kind ``token``: match value, and system when ``system`` is not None ("" = no system);
    kind ``reference``: exact value (``Patient/123``); kind ``date``: ``prefix`` eq/ge/gt/le/lt
    on the ISO text.
    """

    param: str
    kind: str
    values: tuple[str, ...]
    system: str | None = None
    prefix: str = "eq"


# ``_total=estimate`` (the default) counts the matches up to this many, then says "more than":
# an exact count of an unbounded result was most of the time of a search (issue 19).
COUNT_BOUND = 1000

# FHIR R4 search ``_total`` (http.html#total): not counted, counted up to a bound, counted.
TotalMode = Literal["none", "estimate", "accurate"]


@dataclass(frozen=True, slots=True)
class PagePosition:
    """Where a page ends in the search order (most recently updated first, then by id): the
    next page starts after it, whatever was stored since."""

    last_updated: datetime
    resource_id: str


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of a search. ``total``: the number of matches, None when not counted or when
    counting stopped at ``more_than`` (there are more). ``next``: where the following page
    starts, None on the last page."""

    resources: list[StoredResource]
    total: int | None
    more_than: int | None = None
    next: PagePosition | None = None


class Cancellation:
    """Set when nobody waits for a search any more (its client has gone, the server stops):
    the store stops the query it runs for it. Thread-safe: cancelled on the event loop, the
    query runs in a worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled = False
        self._actions: list[Callable[[], None]] = []

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            actions = list(self._actions)
        for action in actions:
            action()

    @contextmanager
    def stops(self, action: Callable[[], None]) -> Iterator[None]:
        """Run ``action`` (stop the running query) if cancelled while in this block."""
        with self._lock:
            self._actions.append(action)
            cancelled = self._cancelled
        if cancelled:
            action()
        try:
            yield
        finally:
            with self._lock:
                self._actions.remove(action)


class FhirStore(Protocol):
    def upsert(
        self, resource: dict[str, Any], index: Sequence[IndexEntry], now: datetime
    ) -> StoredResource:
        """Create or replace by (resourceType, id). A new version only when the content changed."""
        ...

    def upsert_many(
        self, items: Sequence[tuple[dict[str, Any], Sequence[IndexEntry]]], now: datetime
    ) -> list[StoredResource]:
        """Several resources in one transaction, all or none."""
        ...

    def read(self, resource_type: str, resource_id: str) -> StoredResource | None: ...

    def read_version(
        self, resource_type: str, resource_id: str, version_id: int
    ) -> StoredResource | None:
        """vread: one version, current or replaced; None when it was never stored."""
        ...

    def versions(self, resource_type: str, resource_id: str) -> list[StoredResource]:
        """Every version kept, the newest first (empty: no such resource)."""
        ...

    def search(
        self,
        resource_type: str,
        criteria: Sequence[Criterion],
        *,
        count: int,
        offset: int = 0,
        after: PagePosition | None = None,
        total: TotalMode = "estimate",
        cancel: Cancellation | None = None,
    ) -> SearchPage:
        """One page of matches, most recently updated first, starting ``offset`` matches
        after ``after`` (or the first). Raises ``SearchTooCostly`` past the store's time
        budget, ``StorageError`` when cancelled."""
        ...


class AnswerStore(Protocol):
    async def save(
        self,
        writes: Sequence[ResourceWrite],
        report: LookupReport | None,
        caller: Caller | None = None,
    ) -> list[StoredResource]:
        """The resources of one answer, and the lookup record behind it if any (with its
        audit event: ``caller`` asked for it), in one transaction; returns once they are
        committed, in the order of ``writes``."""
        ...
