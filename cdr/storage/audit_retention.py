"""The audit trail's retention: its oldest events deleted in chain order, the chain's anchor
moved to the last one deleted so that what is kept still verifies (``cdr.storage.audit``)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

from sqlalchemy import Connection, Engine, delete, select, update

from cdr.storage.audit import HEAD, read_head
from cdr.storage.inbox import from_db, to_utc
from cdr.storage.tables import audit_chain, audit_events
from cdr.storage.transactions import in_transaction

__all__ = ["purge_audit", "purge_audit_batch"]


def purge_audit(
    engine: Engine, before: datetime, *, batch: int = 1000, dry_run: bool = False
) -> int:
    """``purge_audit_batch`` batch after batch; returns how many went (or would go)."""
    deleted = 0
    while True:
        gone = purge_audit_batch(engine, before, batch=batch, dry_run=dry_run, skip=deleted)
        deleted += gone
        if gone < batch:
            return deleted


def purge_audit_batch(
    engine: Engine, before: datetime, *, batch: int, dry_run: bool = False, skip: int = 0
) -> int:
    """Up to ``batch`` of the oldest events recorded before ``before`` deleted in one
    transaction, in chain order; the chain's anchor moves to the last one deleted, so that what
    is kept still verifies from its first event. Stops at the first event recorded since (a
    later one is kept even if older events follow it). ``skip``: events a dry run already
    counted. Returns how many went (or would go)."""
    return in_transaction(
        engine,
        partial(_purge_batch, before=before, batch=batch, dry_run=dry_run, skip=skip),
        "purge the audit trail",
    )


def _purge_batch(
    connection: Connection, *, before: datetime, batch: int, dry_run: bool, skip: int
) -> int:
    if not dry_run:
        # The head row written first, as an append does: purges and appends take turns.
        connection.execute(
            update(audit_chain).where(HEAD).values(first_seq=audit_chain.c.first_seq)
        )
    head = read_head(connection)
    c = audit_events.c
    start = head.first_seq + (skip if dry_run else 0)  # a dry run deletes nothing to move past
    rows = connection.execute(
        select(c.seq, c.recorded, c.hash).where(c.seq >= start).order_by(c.seq).limit(batch)
    ).all()
    cutoff = to_utc(before)
    old = []
    for row in rows:
        if from_db(row.recorded) >= cutoff:
            break
        old.append(row)
    if old and not dry_run:
        last = old[-1]
        connection.execute(delete(audit_events).where(c.seq >= start, c.seq <= last.seq))
        connection.execute(
            update(audit_chain).where(HEAD).values(first_seq=last.seq + 1, anchor_hash=last.hash)
        )
    return len(old)
