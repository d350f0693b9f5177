"""Is an HL7 v2 message one the gateway accepts? The listener's checks, in the listener's order,
without a listener.

The order is the intake's (``hl7_listener.router.Intake.handle``, HL7 v2 ch.2 processing rules):
the MSH-18 character set and the bytes it must read, the segment structure, the MSH rules
(``mapping.hl7v2.header_rules``, answered AR), the field lengths, then the content of an ADT or
RQI^I01 (``mapping.hl7v2.adt_to_query``, answered AE). The first fault ends the check, as it ends
the gateway's reading: the finding is the ERR the gateway's ACK would carry. What only a running
gateway knows (a duplicate, a database down) is left to ``cdr conformance run``.
"""

from __future__ import annotations

from datetime import date

from conformance.findings import Finding
from mapping.hl7v2.adt_to_query import SUPPORTED_TRIGGERS, admission_from_message
from mapping.hl7v2.er7 import Message
from mapping.hl7v2.header_rules import header_fault
from mapping.hl7v2.inbound_charset import codec_for, decode, sniff_charset_field
from mapping.hl7v2.lengths import oversized_field
from rights.catalogue import RegimeCatalogue
from rights.errors import MessageError, ParseError
from rights.model import Requester

__all__ = ["first_fault", "hl7_findings", "looks_like_hl7"]


def looks_like_hl7(raw: bytes) -> bool:
    """ER7 text: it starts (after blank lines) with a segment id and a field separator, as an
    MSH does; a message whose MSH was lost (``PID|…``) is HL7 too, and answered AR 100."""
    head = raw.lstrip(b"\r\n\xef\xbb\xbf")[:4]
    return len(head) == 4 and head[:3].isalnum() and head[:3].isupper() and head[3:] == b"|"


def hl7_findings(
    raw: bytes, *, catalogue: RegimeCatalogue, requester: Requester, today: date
) -> list[Finding]:
    """The fault the gateway would acknowledge AE or AR for ``raw`` (one message, no MLLP
    framing), or nothing when it would answer AA. ``today`` is the day the message is taken
    as received (future birth dates, dates of care too far ahead)."""
    error = first_fault(raw, catalogue=catalogue, requester=requester, today=today)
    if error is None:
        return []
    return [Finding(error.location, f"{error.acknowledgment} {error.code}", error.message)]


def first_fault(
    raw: bytes, *, catalogue: RegimeCatalogue, requester: Requester, today: date
) -> MessageError | None:
    """The error the gateway's ACK would carry for ``raw`` (its code, location and the AE or AR
    it is acknowledged with), or None for an AA."""
    try:
        codec = codec_for(sniff_charset_field(raw))
        text = decode(raw, codec)
    except MessageError as exc:
        # As the listener does: without a readable MSH, the MSH's absence is the fault.
        return _unreadable_msh(raw) or exc
    try:
        message = Message.parse(text)
    except ParseError as exc:
        return _rejected(exc)
    fault = header_fault(message) or oversized_field(message, header=False)
    if fault is not None:
        return fault
    if message.message_code == "RQI" or message.trigger in SUPPORTED_TRIGGERS:
        try:
            admission_from_message(message, catalogue=catalogue, requester=requester, today=today)
        except MessageError as exc:
            return exc
    return None


def _unreadable_msh(raw: bytes) -> ParseError | None:
    first_line = raw.decode("latin-1").split("\r", 1)[0].split("\n", 1)[0]
    try:
        Message.parse(first_line)
    except ParseError as exc:
        return _rejected(exc)
    return None


def _rejected(exc: ParseError) -> ParseError:
    """A message that cannot be parsed is rejected (AR), whatever its table 0357 code."""
    return ParseError(exc.message, code=exc.code, location=exc.location, acknowledgment="AR")
