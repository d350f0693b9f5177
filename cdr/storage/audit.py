"""The audit trail on SQL: events appended to the hash chain (``audit_chain``), read and
searched as FHIR AuditEvents, and the whole chain verified.

Appends run inside the caller's transaction, after its other writes: the lookup record and its
AuditEvent are committed together or not at all. Each append writes the head row before reading
it: processes sharing the database append in turn (a snapshot older than the last append, on
SQLite, is a conflict ``in_transaction`` runs again).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    and_,
    false,
    func,
    insert,
    or_,
    select,
    true,
    type_coerce,
    update,
)
from sqlalchemy.sql.elements import ColumnElement

from cdr.storage.audit_chain import (
    AuditDraft,
    ChainBreak,
    ChainHead,
    ChainRow,
    ChainWalk,
    audit_id,
    link_hash,
    seq_of,
)
from cdr.storage.fhir_search import instant_matches
from cdr.storage.inbox import from_db
from cdr.storage.packed import unpack
from cdr.storage.query_budget import time_budget
from cdr.storage.tables import audit_chain, audit_events, audit_forwarded
from cdr.storage.transactions import in_transaction, storage_errors
from fhir_server.store import (
    COUNT_BOUND,
    Cancellation,
    Criterion,
    PagePosition,
    SearchPage,
    StoredResource,
    TotalMode,
)
from mapping.fhir.audit_event import (
    CS_AUDIT_EVENT_TYPE,
    CS_AUDIT_SUBTYPE,
    CS_DCM,
    CS_RESTFUL_INTERACTION,
)

__all__ = [
    "HEAD",
    "SqlAuditTrail",
    "append_audit",
    "chained_rows",
    "read_head",
]

_CHUNK = 1000
HEAD = audit_chain.c.id == 1  # the chain's one row


def read_head(connection: Connection) -> ChainHead:
    statement = select(
        audit_chain.c.last_seq,
        audit_chain.c.last_hash,
        audit_chain.c.first_seq,
        audit_chain.c.anchor_hash,
    ).where(HEAD)
    row = connection.execute(statement).one()
    return ChainHead(int(row.last_seq), row.last_hash, int(row.first_seq), row.anchor_hash)


def append_audit(connection: Connection, drafts: Sequence[AuditDraft]) -> None:
    """``drafts`` appended to the chain, in order, within the caller's transaction."""
    if not drafts:
        return
    # The head row written first: its lock (PostgreSQL's row lock, SQLite's write lock) is
    # held from before the head is read until the commit, so that appends take turns.
    connection.execute(update(audit_chain).where(HEAD).values(last_seq=audit_chain.c.last_seq))
    head = read_head(connection)
    rows = chained_rows(head.last_seq, head.last_hash, drafts)
    connection.execute(insert(audit_events), rows)
    last = rows[-1]
    connection.execute(
        update(audit_chain).where(HEAD).values(last_seq=last["seq"], last_hash=last["hash"])
    )


def chained_rows(
    last_seq: int, last_hash: str, drafts: Sequence[AuditDraft]
) -> list[dict[str, Any]]:
    """The rows of ``drafts`` following the event ``last_seq`` whose hash is ``last_hash``."""
    rows = []
    seq, prev = last_seq, last_hash
    for d in drafts:
        seq += 1
        digest = link_hash(prev, seq, d.content)
        rows.append(
            {**d.columns, "seq": seq, "content": d.content, "prev_hash": prev, "hash": digest}
        )
        prev = digest
    return rows


class SqlAuditTrail:
    """The trail's own transactions (events that come with no other write: refusals), its
    FHIR reads and searches, and its verification."""

    def __init__(self, engine: Engine, *, search_timeout_s: float = 10.0) -> None:
        self._engine = engine
        self._search_timeout_s = search_timeout_s

    def record(self, drafts: Sequence[AuditDraft]) -> None:
        in_transaction(
            self._engine, lambda connection: append_audit(connection, drafts), "record audit"
        )

    def read(self, resource_id: str) -> StoredResource | None:
        seq = seq_of(resource_id)
        if seq is None:
            return None
        with storage_errors("read the audit trail"), self._engine.connect() as connection:
            row = connection.execute(
                select(audit_events.c.seq, audit_events.c.recorded, audit_events.c.content).where(
                    audit_events.c.seq == seq
                )
            ).first()
        return None if row is None else _stored(row.seq, row.recorded, row.content)

    def search(
        self,
        criteria: Sequence[Criterion],
        *,
        count: int,
        offset: int = 0,
        after: PagePosition | None = None,
        total: TotalMode = "estimate",
        cancel: Cancellation | None = None,
    ) -> SearchPage:
        """Newest first (by place in the chain); a page position names the last event."""
        where = and_(true(), *(_matches(c) for c in criteria))
        if after is not None:
            before = seq_of(after.resource_id)
            where = and_(where, audit_events.c.seq < (before if before is not None else 0))
        parameters = list(dict.fromkeys(c.param for c in criteria))
        with (
            storage_errors("search the audit trail"),
            self._engine.connect() as connection,
            time_budget(connection, self._search_timeout_s, cancel, parameters) as run,
        ):
            rows = run(
                select(audit_events.c.seq, audit_events.c.recorded, audit_events.c.content)
                .where(where)
                .order_by(audit_events.c.seq.desc())
                .limit(count + 1)
                .offset(offset)
            ).all()
            more = len(rows) > count
            rows = rows[:count]
            counted: int | None = None
            more_than: int | None = None
            if total != "none":
                if not more and offset == 0 and after is None:
                    counted = len(rows)
                else:
                    matching = select(audit_events.c.seq).where(where)
                    if total != "accurate":
                        matching = matching.limit(COUNT_BOUND + 1)
                    counted = run(
                        select(func.count()).select_from(matching.subquery())
                    ).scalar_one()
                    if total != "accurate" and counted > COUNT_BOUND:
                        counted, more_than = None, COUNT_BOUND
        last = rows[-1] if more and rows else None
        return SearchPage(
            resources=[_stored(r.seq, r.recorded, r.content) for r in rows],
            total=counted,
            more_than=more_than,
            next=None if last is None else PagePosition(last.recorded, audit_id(last.seq)),
        )

    def events_after(self, seq: int, limit: int) -> list[tuple[int, str, dict[str, Any]]]:
        """Up to ``limit`` events after ``seq`` in chain order: (seq, hash, AuditEvent)."""
        c = audit_events.c
        with storage_errors("read the audit trail"), self._engine.connect() as connection:
            rows = connection.execute(
                select(c.seq, c.hash, c.recorded, c.content)
                .where(c.seq > seq)
                .order_by(c.seq)
                .limit(limit)
            ).all()
        return [(r.seq, r.hash, _stored(r.seq, r.recorded, r.content).resource) for r in rows]

    def forwarded(self, target: str) -> int:
        """The seq of the last event ``target`` took (0: none yet)."""
        with storage_errors("read the audit trail"), self._engine.connect() as connection:
            last = connection.execute(
                select(audit_forwarded.c.last_seq).where(audit_forwarded.c.target == target)
            ).scalar()
        return int(last or 0)

    def mark_forwarded(self, target: str, seq: int) -> None:
        def mark(connection: Connection) -> None:
            done = connection.execute(
                update(audit_forwarded)
                .where(audit_forwarded.c.target == target)
                .values(last_seq=seq)
            )
            if done.rowcount == 0:
                connection.execute(insert(audit_forwarded).values(target=target, last_seq=seq))

        in_transaction(self._engine, mark, "record the audit trail's forwarding")

    def head(self) -> ChainHead:
        with storage_errors("read the audit trail"), self._engine.connect() as connection:
            return read_head(connection)

    def verify(self) -> tuple[int, ChainBreak | None]:
        """How many events were checked, and the first one found wrong (None: intact). The
        events are read raw, a chunk at a time, in one snapshot of the database."""
        with storage_errors("verify the audit trail"), self._engine.begin() as connection:
            walk = ChainWalk(read_head(connection))
            for chunk in _raw_chunks(connection):
                if not walk.feed(chunk):
                    break
            return walk.checked, walk.finish()


def _raw_chunks(connection: Connection) -> Iterator[list[ChainRow]]:
    c = audit_events.c
    # The content's bytes as stored, unpacked here: a row altered into something unreadable
    # is a break to report, not an error.
    columns = [col for col in audit_events.columns if col.name != "content"]
    raw = type_coerce(c.content, LargeBinary)
    after = -1
    while True:
        rows = connection.execute(
            select(*columns, raw.label("raw")).where(c.seq > after).order_by(c.seq).limit(_CHUNK)
        ).all()
        if not rows:
            return
        chunk = []
        for row in rows:
            values = row._asdict()
            chunk.append(
                ChainRow(
                    seq=int(values.pop("seq")),
                    content=_text(values.pop("raw")),
                    prev_hash=values.pop("prev_hash"),
                    hash=values.pop("hash"),
                    columns=values,
                )
            )
        yield chunk
        after = chunk[-1].seq


def _text(raw: Any) -> str | None:
    try:
        return unpack(bytes(raw))
    except Exception:  # any way the bytes fail to unpack: zlib, UTF-8, a wrong type
        return None


def _stored(seq: int, recorded: datetime, content: str) -> StoredResource:
    resource = json.loads(content)
    stamp = _instant_text(recorded)
    resource = {
        "resourceType": "AuditEvent",
        "id": audit_id(seq),
        "meta": {"versionId": "1", "lastUpdated": stamp},
        **{k: v for k, v in resource.items() if k != "resourceType"},
    }
    return StoredResource(resource, 1, recorded)


def _instant_text(moment: datetime) -> str:
    return from_db(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# The agents' references (AuditEvent.agent.who): the requesting client (a Device id made by
# ``mapping.fhir.audit_event.client_device_id``), the structure, the professional.
_AGENT_COLUMNS = {
    "Device": audit_events.c.client,
    "Organization": audit_events.c.structure,
    "Practitioner": audit_events.c.professional,
}


def _matches(criterion: Criterion) -> ColumnElement[bool]:
    c = audit_events.c
    values = criterion.values
    match criterion.param:
        case "_id":
            seqs = [s for s in (seq_of(v) for v in values) if s is not None]
            return c.seq.in_(seqs) if seqs and not criterion.system else false()
        case "date" | "_lastUpdated":
            return instant_matches(criterion, c.recorded)
        case "outcome" | "type" | "subtype":
            if criterion.system is not None and criterion.system not in _SYSTEMS[criterion.param]:
                return false()
            return c[criterion.param].in_(values)
        case "patient":
            return c.patient.in_(
                [v.removeprefix("Patient/") for v in values if v.startswith("Patient/")]
            )
        case "agent":
            return or_(*(_agent(v) for v in values))
    raise ValueError(f"no audit search by {criterion.param}")


# The code systems of each token's codes (the column keeps the code alone).
_SYSTEMS = {
    "outcome": frozenset(),  # its implicit system is read as none (``fhir_server.search``)
    "type": frozenset({CS_DCM, CS_AUDIT_EVENT_TYPE}),
    "subtype": frozenset({CS_DCM, CS_RESTFUL_INTERACTION, CS_AUDIT_SUBTYPE}),
}


def _agent(reference: str) -> ColumnElement[bool]:
    kind, _, identity = reference.partition("/")
    column = _AGENT_COLUMNS.get(kind)
    return false() if column is None else column == identity
