"""The FHIR store the API reads: the resources, and the audit trail's AuditEvents beside them.

AuditEvents are not stored as resources (no versions, no search index rows): they live in the
hash chain (``cdr.storage.audit``), which serves their reads and searches here under the same
port. Nothing writes an AuditEvent through this store.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cdr.storage.audit import SqlAuditTrail
from cdr.storage.fhir_store import SqlFhirStore
from fhir_server.store import (
    Cancellation,
    Criterion,
    IndexEntry,
    PagePosition,
    SearchPage,
    StoredResource,
    TotalMode,
)

__all__ = ["FhirStoreWithAudit"]

_AUDIT = "AuditEvent"


class FhirStoreWithAudit:
    def __init__(self, resources: SqlFhirStore, audit: SqlAuditTrail) -> None:
        self.resources = resources
        self.audit = audit

    def upsert(
        self, resource: dict[str, Any], index: Sequence[IndexEntry], now: datetime
    ) -> StoredResource:
        return self.resources.upsert(resource, index, now)

    def upsert_many(
        self, items: Sequence[tuple[dict[str, Any], Sequence[IndexEntry]]], now: datetime
    ) -> list[StoredResource]:
        return self.resources.upsert_many(items, now)

    def read(self, resource_type: str, resource_id: str) -> StoredResource | None:
        if resource_type == _AUDIT:
            return self.audit.read(resource_id)
        return self.resources.read(resource_type, resource_id)

    def read_version(
        self, resource_type: str, resource_id: str, version_id: int
    ) -> StoredResource | None:
        if resource_type == _AUDIT:
            # An AuditEvent is never changed: its one version is 1.
            return self.audit.read(resource_id) if version_id == 1 else None
        return self.resources.read_version(resource_type, resource_id, version_id)

    def versions(self, resource_type: str, resource_id: str) -> list[StoredResource]:
        if resource_type == _AUDIT:
            stored = self.audit.read(resource_id)
            return [] if stored is None else [stored]
        return self.resources.versions(resource_type, resource_id)

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
        if resource_type == _AUDIT:
            return self.audit.search(
                criteria, count=count, offset=offset, after=after, total=total, cancel=cancel
            )
        return self.resources.search(
            resource_type,
            criteria,
            count=count,
            offset=offset,
            after=after,
            total=total,
            cancel=cancel,
        )
