"""Per-destination options of the HL7 results (``CDR_HL7_DESTINATION_OPTIONS``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["HL7DestinationOptions"]


class HL7DestinationOptions(BaseModel):
    """How the results for one ``host:port`` destination are written (docs/hl7-interface.md §6).

    ``charset`` is MSH-18: 8859/15 (PAM FR 2.11.2 §6.1, the default) or UNICODE UTF-8 hold
    every name; 8859/1 and ASCII are for receivers that insist, characters they lack then go as
    HL7 hex escapes. ``zrd`` False leaves our Z segment out, for receivers that validate the
    profile strictly (the OBX still states the rights)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    charset: Literal["8859/15", "UNICODE UTF-8", "8859/1", "ASCII"] = "8859/15"
    zrd: bool = True
