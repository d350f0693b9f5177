"""The MSH checks of the original acknowledgement mode: what is answered AR before the content
of a message is read (docs/hl7-interface.md §3 and §5).

HL7 v2 ch.2 "Message processing rules": the responder validates MSH-9, MSH-11 and MSH-12 first and
rejects (AR) what it cannot take; only then is the content read (AE names the field). Pure: the
MLLP listener's intake and the conformance kit's validator both ask ``header_fault``, so a
tester's file is judged by the very rules, and in the very words, of the gateway's ACKs.
"""

from __future__ import annotations

from collections.abc import Set
from typing import Literal

from mapping.hl7v2.adt_to_query import SUPPORTED_TRIGGERS
from mapping.hl7v2.er7 import Message
from mapping.hl7v2.lengths import oversized_field
from rights.errors import MessageError, ParseError

__all__ = ["PROCESSING_IDS", "VERSIONS", "header_fault"]

# MSH-11 (table 0103): production, training, debugging.
PROCESSING_IDS = frozenset({"P", "T", "D"})
# MSH-12: the PAM FR profile is 2.5; engines in the field send 2.3 to 2.5.1, sometimes 2.6+.
VERSIONS = frozenset({"2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8"})


def header_fault(
    message: Message,
    *,
    lookup_triggers: Set[str] = SUPPORTED_TRIGGERS,
    other_events: Literal["reject", "accept"] = "reject",
    synchronous_queries: bool = True,
) -> MessageError | None:
    """The first fault of the MSH (answered AR), or None when the content may be read.

    ``other_events`` ``accept`` takes ADT events outside ``lookup_triggers`` (stored, ignored);
    ``synchronous_queries`` takes ``RQI^I01``.
    """
    if not message.control_id:
        return ParseError(
            "MSH-10 (message control id) is empty: the message cannot be acknowledged",
            code=101,
            location="MSH-10",
            acknowledgment="AR",
        )
    too_long = oversized_field(message, header=True)
    if too_long is not None:
        return too_long
    code = message.message_code
    if code == "RQI" and synchronous_queries:
        if message.trigger != "I01":
            return _reject(201, "MSH-9.2", f"RQI^{message.trigger} is not supported, only I01")
    elif code != "ADT":
        return _reject(200, "MSH-9.1", f"message type {code!r} is not supported (ADT, RQI)")
    elif message.trigger not in lookup_triggers and other_events == "reject":
        supported = ", ".join(sorted(lookup_triggers))
        return _reject(
            201, "MSH-9.2", f"event ADT^{message.trigger} is not supported ({supported})"
        )
    if message.processing_id not in PROCESSING_IDS:
        return _reject(202, "MSH-11", f"processing id {message.processing_id!r} is not P, T or D")
    if message.version not in VERSIONS:
        return _reject(203, "MSH-12", f"version {message.version!r} is not supported (2.3+)")
    return None


def _reject(code: int, location: str, message: str) -> MessageError:
    return MessageError(message, code=code, location=location, acknowledgment="AR")
