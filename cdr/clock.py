"""The real clock (the only place the gateway reads the system time)."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

__all__ = ["SystemClock"]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def today(self) -> date:
        # The date of care defaults to the local calendar day of the establishment.
        return datetime.now().date()
