"""What a batch of FHIR writes changes, decided from the versions already stored.

Shared by the two ways a batch is written (SQLAlchemy in ``fhir_store``, the sqlite3 driver in
``answers_sqlite``), which differ only in how they read the stored versions and run the rows:
a write marked new is not looked up; unchanged content is no write and keeps its version;
changed content is the next version, its index rows replaced; the same resource twice in a
batch is the later one, as two upserts would leave it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from cdr.storage.index_types import index_type
from fhir_server import json_text
from fhir_server.search_params import index_entries
from fhir_server.store import IndexEntry, ResourceWrite, StoredResource

__all__ = [
    "INDEX_VALUE_LENGTH",
    "Key",
    "Planned",
    "StoredVersion",
    "WritePlan",
    "plan_writes",
    "versions_to_read",
    "with_version",
]

Key = tuple[str, str]  # (resource type, id)

INDEX_VALUE_LENGTH = 255  # fhir_search_index.value: a longer value is stored cut


@dataclass(frozen=True, slots=True)
class StoredVersion:
    version_id: int
    content: str
    last_updated: datetime


@dataclass(frozen=True, slots=True)
class Planned:
    """One resource row to write (insert or update) and the index entries that replace its
    stored ones."""

    resource_type: str
    resource_id: str
    version_id: int
    content: str
    index: Sequence[IndexEntry]


@dataclass(frozen=True, slots=True)
class WritePlan:
    new: list[Planned]  # to insert
    changed: list[Planned]  # to update, their stored index rows deleted
    indexed: list[Planned]  # whose index rows to insert: the new and the changed
    results: list[StoredResource]  # one per write, in order
    # The stored versions the changes replace, for ``fhir_resource_history`` (vread,
    # _history): (type, id) -> that version, as read before the batch.
    superseded: dict[Key, StoredVersion] = field(default_factory=dict)

    def history_rows(self) -> list[dict[str, Any]]:
        """The ``fhir_resource_history`` rows to insert, keyed by column (content as text)."""
        return [
            {
                "resource_type": resource_type,
                "id": resource_id,
                "version_id": version.version_id,
                "last_updated": version.last_updated,
                "content": version.content,
            }
            for (resource_type, resource_id), version in self.superseded.items()
        ]

    def index_rows(self) -> list[dict[str, Any]]:
        """The ``fhir_search_index`` rows to insert, keyed by column."""
        return [
            {
                "resource_type": index_type(p.resource_type),
                "resource_id": p.resource_id,
                "param": e.param,
                "system": e.system,
                "value": e.value[:INDEX_VALUE_LENGTH],
            }
            for p in self.indexed
            for e in p.index
        ]

    def replaced_index(self) -> list[dict[str, Any]]:
        """The keys (``key_type``, ``key_id``) whose stored index rows ``DELETE_INDEX``
        deletes: those of the changed resources."""
        return [
            {"key_type": index_type(p.resource_type), "key_id": p.resource_id} for p in self.changed
        ]


def versions_to_read(writes: Sequence[ResourceWrite]) -> dict[str, list[str]]:
    """The ids whose stored version the batch needs, by type, each once and in order: none of
    the writes marked new (their ids were just made)."""
    to_read: dict[str, dict[str, None]] = {}
    for write in writes:
        if not write.new:
            to_read.setdefault(write.resource["resourceType"], {})[write.resource["id"]] = None
    return {resource_type: list(ids) for resource_type, ids in to_read.items()}


def plan_writes(
    writes: Sequence[ResourceWrite], stored: Mapping[Key, StoredVersion], now: datetime
) -> WritePlan:
    """``stored``: the versions read for ``versions_to_read(writes)``. The rows to write are
    stamped ``now``."""
    current = dict(stored)  # each planned row becomes the version a later write compares with
    new: dict[Key, Planned] = {}
    changed: dict[Key, Planned] = {}
    indexed: dict[Key, Planned] = {}
    results: list[StoredResource] = []
    stamps: dict[datetime, str] = {}  # lastUpdated texts: most writes of a batch share one
    superseded: dict[Key, StoredVersion] = {}
    for write in writes:
        resource_type, resource_id = write.resource["resourceType"], write.resource["id"]
        key = (resource_type, resource_id)
        content = _content_without_meta(write.resource)
        known = current.get(key)
        if known is not None and write.if_absent:
            kept: dict[str, Any] = orjson.loads(known.content)
            results.append(_written(kept, known.version_id, known.last_updated, stamps))
            continue
        if known is not None and known.content == content:
            results.append(_written(write.resource, known.version_id, known.last_updated, stamps))
            continue
        if known is not None and key in stored and key not in superseded:
            # The version stored before this batch goes to the history; one made and
            # replaced within the batch was never stored, so there is nothing to keep of it.
            superseded[key] = stored[key]
        version_id = 1 if known is None else known.version_id + 1
        index = index_entries(write.resource) if write.index is None else write.index
        planned = Planned(resource_type, resource_id, version_id, content, index)
        # A resource first inserted in this batch stays an insert, of its latest content.
        (changed if key in changed or (known is not None and key not in new) else new)[key] = (
            planned
        )
        indexed[key] = planned
        current[key] = StoredVersion(version_id, content, now)
        results.append(_written(write.resource, version_id, now, stamps))
    return WritePlan(
        list(new.values()), list(changed.values()), list(indexed.values()), results, superseded
    )


def _content_without_meta(resource: dict[str, Any]) -> str:
    meta = resource.get("meta")
    body = resource
    if meta is not None and not (meta and "versionId" not in meta and "lastUpdated" not in meta):
        # Only then is there something to leave out (the resources a lookup makes have not):
        # no copy of the resource otherwise.
        body = {k: v for k, v in resource.items() if k != "meta"}
        kept = _meta_without_version(meta)
        if kept:
            body["meta"] = kept
    return json_text.dumps(body, sort_keys=True).decode()


def _meta_without_version(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in ("versionId", "lastUpdated")}


def _written(
    resource: dict[str, Any],
    version_id: int,
    last_updated: datetime,
    stamps: dict[datetime, str],
) -> StoredResource:
    """A resource just written (or found unchanged): the caller's dict is its content, so it
    is not parsed back from the text (that parse was the largest single cost of a `$submit`
    under load). A copy at the top level only: nested values are shared with the caller."""
    last_updated = _utc(last_updated)
    text = stamps.get(last_updated)
    if text is None:
        text = stamps[last_updated] = _instant(last_updated)
    return _with_version_text(dict(resource), version_id, last_updated, text)


def with_version(
    resource: dict[str, Any], version_id: int, last_updated: datetime
) -> StoredResource:
    last_updated = _utc(last_updated)
    return _with_version_text(resource, version_id, last_updated, _instant(last_updated))


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes: they were stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _instant(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _with_version_text(
    resource: dict[str, Any], version_id: int, last_updated: datetime, text: str
) -> StoredResource:
    meta = _meta_without_version(resource.get("meta", {}))
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = text
    resource["meta"] = meta
    return StoredResource(resource, version_id, last_updated)
