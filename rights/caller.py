"""Who asked for a lookup, as each entry knows it: the audit trail's requesting agent."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Caller", "Entry", "Person"]


class Entry(enum.StrEnum):
    """The way a lookup came in."""

    FHIR = "fhir"  # POST CoverageEligibilityRequest/$submit
    HL7 = "hl7"  # an ADT admission over MLLP
    RQI = "rqi"  # an HL7 RQI^I01 query over MLLP
    CLI = "cli"  # cdr lookup
    PORTAL = "portal"  # the staff portal


@dataclass(frozen=True, slots=True)
class Person:
    """The professional at the desk who asks (attended mode), as their CPx card names them:
    ``national_id`` is the card certificate's CN, its type prefix kept (8 + RPPS, 0 + ADELI,
    3 + FINESS/number for a CPE)."""

    national_id: str
    name: str = ""
    profession: str = ""

    @property
    def rpps(self) -> str | None:
        """The RPPS number when the card names its holder by one."""
        return self.national_id[1:] if self.national_id.startswith("8") else None


@dataclass(frozen=True, slots=True)
class Caller:
    """``client``: the API client's registered name (its token's subject), the HL7 sender
    (MSH-3 and MSH-4 joined by ``^``), the operating-system user of a command; "" when the
    entry knows nobody (the API with authentication off). ``address``: the network address it
    came from, when the entry knows it. ``person``: the card holder who asks in attended mode
    (``cdr lookup --card``, the portal); None when the structure asks on its own."""

    entry: Entry
    client: str = ""
    address: str | None = None
    person: Person | None = None
