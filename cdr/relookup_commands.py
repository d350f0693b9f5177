"""``cdr outbox relookups``: the admissions looked up again in the background (issue 18 item 5)."""

from __future__ import annotations

import sys

from cdr.exits import EXIT_OK, print_json
from cdr.gateway_database import database_label, open_existing_database
from cdr.render import table
from cdr.settings import Settings
from cdr.storage.relookups import SqlRelookups
from hl7_listener.relookup_policy import RelookupStatus

__all__ = ["outbox_relookups"]


def outbox_relookups(settings: Settings, *, status: str | None, limit: int, as_json: bool) -> int:
    # The gateway's existing database, named on stderr, never created here (issue 18.10).
    print(f"database: {database_label(settings.effective_database_url)}", file=sys.stderr)
    database = open_existing_database(settings)
    try:
        store = SqlRelookups(database.engine)
        items = store.items(status=RelookupStatus(status) if status else None, limit=limit)
        depth = store.depth()
    finally:
        database.dispose()
    rows = [
        {
            "id": item.id,
            "inbox_id": item.inbox_id,
            "control_id": item.control_id,
            "status": item.status.value,
            "waiting_for": list(item.waiting_for),
            "attempts": item.attempts,
            "created_at": item.created_at.isoformat(),
            "next_attempt_at": item.next_attempt_at.isoformat(),
            "deadline_at": item.deadline_at.isoformat(),
            "closed_at": item.closed_at.isoformat() if item.closed_at else None,
        }
        for item in items
    ]
    if as_json:
        print_json({"counts": depth, "items": rows})
        return EXIT_OK
    pending = RelookupStatus.PENDING.value
    print(
        table(
            ["Id", "Inbox", "MSH-10", "Status", "Waiting for", "Tries", "Next try", "Gives up at"],
            [
                [
                    str(r["id"]),
                    str(r["inbox_id"]),
                    str(r["control_id"]),
                    str(r["status"]),
                    ",".join(r["waiting_for"]),  # type: ignore[arg-type]
                    str(r["attempts"]),
                    str(r["next_attempt_at"])[:19] if r["status"] == pending else "",
                    str(r["deadline_at"])[:19] if r["status"] == pending else "",
                ]
                for r in rows
            ],
        )
    )
    counts = ", ".join(f"{count} {status}" for status, count in sorted(depth.items()))
    print(f"\n{counts or 'no re-lookups'}")
    return EXIT_OK
