"""The real clock (the only place the gateway reads the system time).

Instants are kept in UTC (storage, FHIR ``meta.lastUpdated``); what a person or a peer reads as
a calendar day or a wall time is the establishment's: the default date of care and the local
time with its UTC offset written in HL7 timestamps (``CDR_TIMEZONE``, not the host's zone: a
server set to UTC would otherwise ask for yesterday's rights between midnight and 01:00/02:00 in
Paris).
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, tzinfo
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_TIMEZONE", "SystemClock"]

DEFAULT_TIMEZONE = "Europe/Paris"


class SystemClock:
    def __init__(self, zone: tzinfo | None = None) -> None:
        self.zone: tzinfo = zone if zone is not None else ZoneInfo(DEFAULT_TIMEZONE)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def local_now(self) -> datetime:
        """The establishment's wall time, with its offset (for HL7 timestamps)."""
        return datetime.now(self.zone)

    def monotonic(self) -> float:
        return time.monotonic()

    def today(self) -> date:
        # The date of care defaults to the calendar day of the establishment.
        return datetime.now(self.zone).date()
