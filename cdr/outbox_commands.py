"""``cdr outbox list`` and ``cdr outbox retry``: the HL7 results waiting for, delivered to, or
given up by their destinations, read from the gateway's existing database."""

from __future__ import annotations

import sys
from typing import Any

from cdr.clock import SystemClock
from cdr.exits import EXIT_INPUT, EXIT_OK, print_json
from cdr.gateway_database import database_label, open_existing_database
from cdr.render import table
from cdr.settings import Settings
from cdr.storage import Database
from cdr.storage.outbox import SqlOutbox
from hl7_listener.ports import OutboxItem, OutboxStatus
from rights.errors import InputError

__all__ = ["outbox_list", "outbox_retry"]


def outbox_list(settings: Settings, *, status: str | None, limit: int, as_json: bool) -> int:
    database = _gateway_database(settings)
    try:
        outbox = SqlOutbox(database.engine)
        items = outbox.items(status=OutboxStatus(status) if status else None, limit=limit)
        depth = outbox.depth()
    finally:
        database.dispose()
    rows = [_outbox_row(item) for item in items]
    if as_json:
        print_json({"counts": depth, "items": rows})
        return EXIT_OK
    print(
        table(
            ["Id", "Destination", "MSH-10", "Status", "Tries", "Next try", "Last error"],
            [
                [
                    str(r["id"]),
                    str(r["destination"]),
                    str(r["control_id"]),
                    str(r["status"]),
                    str(r["attempts"]),
                    str(r["next_attempt_at"])[:19] if r["status"] == "pending" else "",
                    (
                        f"before delivery: {r['error_before_delivery']}"[:60]
                        if r["error_before_delivery"]
                        else str(r["last_error"] or "")[:60]
                    ),
                ]
                for r in rows
            ],
        )
    )
    counts = ", ".join(f"{count} {status}" for status, count in sorted(depth.items()))
    print(f"\n{counts or 'outbox empty'}")
    return EXIT_OK


def _outbox_row(item: OutboxItem) -> dict[str, Any]:
    """A delivered message has no current error: the one it met before is history, said so
    (``error_before_delivery``) rather than shown as if delivery were still failing."""
    delivered = item.status is OutboxStatus.DELIVERED
    return {
        "id": item.id,
        "inbox_id": item.inbox_id,
        "destination": item.destination,
        "control_id": item.control_id,
        "status": item.status.value,
        "attempts": item.attempts,
        "created_at": item.created_at.isoformat(),
        "next_attempt_at": item.next_attempt_at.isoformat(),
        "delivered_at": item.delivered_at.isoformat() if item.delivered_at else None,
        "ack_code": item.ack_code,
        "last_error": None if delivered else (item.last_error or None),
        "error_before_delivery": (item.last_error or None) if delivered else None,
    }


def outbox_retry(settings: Settings, *, ids: list[int], every: bool) -> int:
    if not ids and not every:
        print("cdr: name the outbox ids to retry, or --all", file=sys.stderr)
        return EXIT_INPUT
    database = _gateway_database(settings)
    try:
        outbox = SqlOutbox(database.engine)
        if not every:
            _check_dead(ids, outbox.statuses(ids))
        count = outbox.requeue(None if every else ids, now=SystemClock().now())
    finally:
        database.dispose()
    print(f"{count} message(s) requeued; a running gateway sends them within seconds")
    return EXIT_OK


def _check_dead(ids: list[int], statuses: dict[int, OutboxStatus]) -> None:
    """Every named id is a dead-lettered message, or nothing is requeued (``InputError``)."""
    unknown = [str(i) for i in ids if i not in statuses]
    if unknown:
        raise InputError(
            f"no outbox message with id {', '.join(unknown)} (see `cdr outbox list`)",
            location="ID",
        )
    alive = [f"{i} is {statuses[i].value}" for i in ids if statuses[i] is not OutboxStatus.DEAD]
    if alive:
        raise InputError(
            f"only dead-lettered messages are retried: {', '.join(alive)}", location="ID"
        )


def _gateway_database(settings: Settings) -> Database:
    """The gateway's existing database, named on stderr (stdout stays the command's output)."""
    print(f"database: {database_label(settings.effective_database_url)}", file=sys.stderr)
    return open_existing_database(settings)
