"""What a validator found in a file: one fault, where it is, and the gateway's words for it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Finding"]


@dataclass(frozen=True, slots=True)
class Finding:
    """``location``: ``PID-7``, ``PID-3(2).1``, ``MSH-18`` (HL7) or a FHIRPath expression (FHIR).
    ``code``: ``AE 102`` (MSA-1 and HL7 table 0357); "" for FHIR, whose rule is in the message.
    ``message``: the ERR-8 text or the OperationOutcome diagnostics the gateway would answer
    (``… [key]``: the rule that failed in brackets)."""

    location: str
    code: str
    message: str

    def line(self) -> str:
        where = self.location or "-"
        if self.code:
            return f"{self.code} at {where}: {self.message}"
        return f"{where}: {self.message}"
