"""`cdr purge` (DESIGN §9): delete what is older than the retention period (issue 14 item 5)."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, time, timedelta
from time import monotonic, sleep

from sqlalchemy import Engine

from cdr.clock import SystemClock
from cdr.exits import EXIT_OK, print_json
from cdr.gateway_database import database_label, open_existing_database
from cdr.settings import Settings
from cdr.storage.retention import PurgeCounts, purge_batches
from rights.errors import InputError

__all__ = ["purge_before", "purge_command"]

_MAX_DAYS = 36_500  # a century: as CDR_RETENTION_DAYS

# What each count is, as the table prints it (the JSON keeps the table names).
_KINDS = {
    "lookups": "lookups",
    "lookup_results": "lookup results (one per regime asked)",
    "fhir_resources": "FHIR resources",
    "fhir_search_index": "FHIR search index rows",
    "fhir_resource_history": "FHIR resource versions (history)",
    "hl7_inbox": "HL7 messages received",
    "hl7_outbox": "HL7 results sent or given up",
    "hl7_relookups": "HL7 re-lookups",
    "audit_events": "audit events (CDR_AUDIT_RETENTION_DAYS)",
}


def purge_before(
    settings: Settings, *, before: str | None, older_than_days: str | None, now: datetime
) -> datetime:
    """The instant before which rows go: the start of ``before`` (a day in the establishment's
    time zone), ``older_than_days`` days before ``now``, or ``CDR_RETENTION_DAYS`` before it.
    ``InputError`` naming the option for a value that cannot be one."""
    if before is not None and older_than_days is not None:
        raise InputError("give --before or --older-than-days, not both", location="--before")
    if before is not None:
        try:
            day = date.fromisoformat(before)
        except ValueError:
            raise InputError(
                f"expected a date YYYY-MM-DD (got {before!r})", location="--before"
            ) from None
        today = now.astimezone(settings.zone).date()
        if day > today:
            # Everything stored so far, today's answers included: never what anyone means.
            raise InputError(
                f"{day.isoformat()} is after today ({today.isoformat()})", location="--before"
            )
        return _instant(datetime.combine(day, time(), tzinfo=settings.zone), "--before")
    days = settings.retention_days
    if older_than_days is not None:
        if not older_than_days.isdecimal() or not 1 <= int(older_than_days) <= _MAX_DAYS:
            raise InputError(
                f"expected a whole number of days from 1 to {_MAX_DAYS} (got {older_than_days!r})",
                location="--older-than-days",
            )
        days = int(older_than_days)
    return now - timedelta(days=days)


def _instant(moment: datetime, option: str) -> datetime:
    """``moment`` in UTC, as storage compares it; ``InputError`` when no UTC instant is it
    (a day at the very start of the calendar)."""
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InputError(f"{moment.date().isoformat()} is too far back", location=option) from None


def purge_command(
    settings: Settings,
    *,
    before: str | None,
    older_than_days: str | None,
    dry_run: bool,
    as_json: bool,
) -> int:
    clock = SystemClock(settings.zone)
    now = clock.now()
    cutoff = purge_before(settings, before=before, older_than_days=older_than_days, now=now)
    # The audit trail has its own, longer period, whatever the options say about the data.
    audit_cutoff = now - timedelta(days=settings.audit_retention_days)
    # The gateway's existing database, named on stderr, never created here (issue 18.10).
    print(f"database: {database_label(settings.effective_database_url)}", file=sys.stderr)
    database = open_existing_database(settings)
    try:
        counts = _purge_gently(database.engine, cutoff, audit_cutoff, dry_run=dry_run)
    finally:
        database.dispose()
    if as_json:
        print_json({"before": cutoff.isoformat(), "dry_run": dry_run, "counts": counts.as_dict()})
        return EXIT_OK
    print(_report(counts, cutoff.astimezone(settings.zone), dry_run=dry_run))
    return EXIT_OK


def _purge_gently(
    engine: Engine, before: datetime, audit_before: datetime, *, dry_run: bool
) -> PurgeCounts:
    """``purge``, resting after each batch as long as it took, as the periodic purge does: a
    gateway running on the same SQLite file commits its HL7 messages between two batches. A
    dry run holds no write lock and does not rest."""
    total = PurgeCounts()
    steps = purge_batches(engine, before, dry_run=dry_run, audit_before=audit_before)
    while True:
        started = monotonic()
        counts = next(steps, None)
        if counts is None:
            return total
        total += counts
        if not dry_run:
            sleep(monotonic() - started)


def _report(counts: PurgeCounts, cutoff: datetime, *, dry_run: bool) -> str:
    done = "would be deleted (dry run: nothing deleted)" if dry_run else "deleted"
    lines = [f"Older than {cutoff.isoformat(timespec='seconds')}, {done}:"]
    width = max(len(label) for label in _KINDS.values())
    values = counts.as_dict()
    lines += [f"  {label.ljust(width)}  {values[kind]:>9}" for kind, label in _KINDS.items()]
    return "\n".join(lines)
