"""The statements of the hot writes (`$submit` answers, the HL7 intake), built from
``tables.py`` once and run by both write strategies: SQLAlchemy executes them, the sqlite3
driver path runs their compiled SQL (``driver_sql``). Building a statement costs about as much
as running it on a small batch: none is built per call but ``read_versions``, once per tuple
of types.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import Select, and_, bindparam, delete, insert, or_, select, update

from cdr.storage.tables import fhir_resource_history, fhir_resources, fhir_search_index, hl7_inbox

__all__ = [
    "DELETE_INDEX",
    "INBOX_INSERT",
    "INBOX_STORED",
    "INSERT_HISTORY",
    "INSERT_INDEX",
    "INSERT_RESOURCE",
    "UPDATE_RESOURCE",
    "read_versions",
]

_resource = fhir_resources.c
_index = fhir_search_index.c


@lru_cache(maxsize=64)
def read_versions(types: tuple[str, ...]) -> Select[Any]:
    """The stored versions of resources of ``types``, their ids bound as ``ids_<n>`` per type:
    one ``type = ? AND id IN (...)`` per type, answered by the primary key (SQLite 3.40 runs a
    row-value ``(type, id) IN (...)`` as a scan of the whole table)."""
    return select(
        _resource.resource_type,
        _resource.id,
        _resource.version_id,
        _resource.content,
        _resource.last_updated,
    ).where(
        or_(
            *(
                and_(
                    _resource.resource_type == resource_type,
                    _resource.id.in_(bindparam(f"ids_{n}", expanding=True)),
                )
                for n, resource_type in enumerate(types)
            )
        )
    )


# Rows keyed by column name.
INSERT_RESOURCE = insert(fhir_resources)
INSERT_INDEX = insert(fhir_search_index)
INSERT_HISTORY = insert(fhir_resource_history)
# Rows with key_type, key_id and the new version_id, last_updated, content.
UPDATE_RESOURCE = (
    update(fhir_resources)
    .where(
        _resource.resource_type == bindparam("key_type"),
        _resource.id == bindparam("key_id"),
    )
    .values(
        version_id=bindparam("new_version_id"),
        last_updated=bindparam("new_last_updated", type_=_resource.last_updated.type),
        content=bindparam("new_content", type_=_resource.content.type),
    )
)
# Rows with key_type, key_id: the index rows of a resource being replaced.
DELETE_INDEX = delete(fhir_search_index).where(
    _index.resource_type == bindparam("key_type"),
    _index.resource_id == bindparam("key_id"),
)

# The inbox rows already stored among a batch's keys. Both IN lists are prefixes of the
# unique index; the few extra pairs the cross product may bring back are ignored. A batch has
# few senders, so this stays one index probe per key.
INBOX_STORED = select(hl7_inbox.c.sender_key, hl7_inbox.c.control_id, hl7_inbox.c.ack).where(
    hl7_inbox.c.sender_key.in_(bindparam("senders", expanding=True)),
    hl7_inbox.c.control_id.in_(bindparam("controls", expanding=True)),
)
# RETURNING without sort_by_parameter_order: SQLite cannot order a multi-row RETURNING
# (SQLAlchemy would fall back to one INSERT per row), so the new ids are matched by key.
INBOX_INSERT = insert(hl7_inbox).returning(
    hl7_inbox.c.id, hl7_inbox.c.sender_key, hl7_inbox.c.control_id
)
