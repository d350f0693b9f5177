"""Who asked for a lookup, as each entry knows it: the audit trail's requesting agent."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Caller", "Entry"]


class Entry(enum.StrEnum):
    """The way a lookup came in."""

    FHIR = "fhir"  # POST CoverageEligibilityRequest/$submit
    HL7 = "hl7"  # an ADT admission over MLLP
    RQI = "rqi"  # an HL7 RQI^I01 query over MLLP
    CLI = "cli"  # cdr lookup
    PORTAL = "portal"  # the staff portal


@dataclass(frozen=True, slots=True)
class Caller:
    """``client``: the API client's registered name (its token's subject), the HL7 sender
    (MSH-3 and MSH-4 joined by ``^``), the operating-system user of a command; "" when the
    entry knows nobody (the API with authentication off). ``address``: the network address it
    came from, when the entry knows it."""

    entry: Entry
    client: str = ""
    address: str | None = None
