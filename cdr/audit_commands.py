"""`cdr audit verify`: the audit trail's hash chain checked from its anchor to its head."""

from __future__ import annotations

import sys

from cdr.exits import EXIT_FAILED, EXIT_OK, print_json
from cdr.gateway_database import database_label, open_existing_database
from cdr.settings import Settings
from cdr.storage.audit import SqlAuditTrail
from cdr.storage.audit_chain import audit_id

__all__ = ["audit_verify"]


def audit_verify(settings: Settings, *, as_json: bool) -> int:
    """Exit 0 when every event is in place, unchanged and linked to the one before; 1 naming
    the first one that is not (DESIGN §9)."""
    print(f"database: {database_label(settings.effective_database_url)}", file=sys.stderr)
    database = open_existing_database(settings)
    try:
        trail = SqlAuditTrail(database.engine)
        checked, broken = trail.verify()
        head = trail.head()
    finally:
        database.dispose()
    if as_json:
        print_json(
            {
                "intact": broken is None,
                "checked": checked,
                "first_seq": head.first_seq,
                "last_seq": head.last_seq,
                "head_hash": head.last_hash,
                "first_bad": None
                if broken is None
                else {"id": audit_id(broken.seq), "seq": broken.seq, "reason": broken.reason},
            }
        )
    elif broken is None:
        span = (
            "no events yet"
            if head.last_seq < head.first_seq
            else f"{audit_id(head.first_seq)} to {audit_id(head.last_seq)}"
        )
        print(f"audit trail intact: {checked} events ({span}), head hash {head.last_hash}")
    else:
        print(f"audit trail broken: {broken}", file=sys.stderr)
    return EXIT_OK if broken is None else EXIT_FAILED
