"""Length limits of the inbound fields the gateway stores, echoes or reads.

A sender controls every byte of a message up to the MLLP size limit: a one-megabyte MSH-10 would
be stored, echoed in MSA-2 of its ACK and of every duplicate's ACK, and a one-megabyte birth
date quoted in ERR-8. Each field below has a bound; a longer one is refused before anything
else reads it, with ERR-3 ``102`` (HL7 table 0357 has no code of its own for a length: a length
is part of the data type, HL7 v2.5 ch.2.5.5 and ch.2A) and ERR-2 at the field (and repetition).

The bounds are the HL7 v2.5 lengths where a French or later rule is no tighter, and the larger of
v2.5 and v2.7 where engines are known to send more than v2.5 allows (tolerant, still bounded):

- MSH-10 message control id, ST: 20 in v2.5, 199 from v2.7 (ch.2.14.9.10): 199.
- MSH-3 to MSH-6, HD: 227 in v2.5 (IS 20 + ST 199 + ID 6 and separators).
- PID-3, PV1-19, IN1-49, CX: 250 in v2.5 per repetition (CX-1 64 in France, IHE France N.1).
- PID-5, XPN: 250 per repetition (v2.5).
- PID-7, EVN-2, PV1-44, ZBE-2, MSH-7 (TS/DTM: 26 in v2.5) and PID-25 (NM 2): 26.
- PID-19, ST 16 in v2.5: 199 (a NIR with spaces or dots is accepted, see docs/hl7-interface.md).
- ZBE-1, EI: 427 in v2.5 (EI-1 128 in France, IHE France N.2).
- IN1-2 and IN1-3 (CWE and CX in v2.5, 250): 250.

Lengths are counted on the field as received (escape sequences included), which is at least as
long as the value, so a value within the bound is never refused for its escapes.
"""

from __future__ import annotations

from mapping.hl7v2.er7 import Message, field_location
from rights.errors import MappingError

__all__ = ["BODY_LIMITS", "MSH_LIMITS", "oversized_field"]

# (segment, field) -> most characters of one repetition
MSH_LIMITS: dict[tuple[str, int], int] = {
    ("MSH", 3): 227,
    ("MSH", 4): 227,
    ("MSH", 5): 227,
    ("MSH", 6): 227,
    ("MSH", 7): 26,
    ("MSH", 10): 199,
}
BODY_LIMITS: dict[tuple[str, int], int] = {
    ("EVN", 2): 26,
    ("PID", 3): 250,
    ("PID", 5): 250,
    ("PID", 7): 26,
    ("PID", 19): 199,
    ("PID", 25): 26,
    ("PV1", 19): 250,
    ("PV1", 44): 26,
    ("ZBE", 1): 427,
    ("ZBE", 2): 26,
    ("IN1", 2): 250,
    ("IN1", 3): 250,
    ("IN1", 49): 250,
}


def _by_segment(limits: dict[tuple[str, int], int]) -> dict[str, tuple[tuple[int, int], ...]]:
    grouped: dict[str, list[tuple[int, int]]] = {}
    for (segment_id, number), limit in limits.items():
        grouped.setdefault(segment_id, []).append((number, limit))
    return {segment_id: tuple(fields) for segment_id, fields in grouped.items()}


_MSH = _by_segment(MSH_LIMITS)
_BODY = _by_segment(BODY_LIMITS)


def oversized_field(message: Message, *, header: bool) -> MappingError | None:
    """The first field over its bound, of ``MSH_LIMITS`` (``header``: answered AR, the fault is
    in the MSH) or of ``BODY_LIMITS`` (AE); None when every one is within its bound. One pass
    over the segments: it runs on every message."""
    limits = _MSH if header else _BODY
    occurrences: dict[str, int] = {}
    for segment in message.segments:
        fields = limits.get(segment.id)
        if fields is None:
            continue
        occurrence = occurrences[segment.id] = occurrences.get(segment.id, 0) + 1
        for number, limit in fields:
            if len(segment.field(number)) > limit:
                error = _too_long(
                    segment.id, number, limit, occurrence, segment.repetitions(number)
                )
                if error is not None:
                    return error
    return None


def _too_long(
    segment_id: str, number: int, limit: int, occurrence: int, repetitions: list[str]
) -> MappingError | None:
    for repetition, value in enumerate(repetitions, start=1):
        if len(value) > limit:
            location = field_location(
                segment_id, number, occurrence=occurrence, repetition=repetition
            )
            return MappingError(
                f"{location} is {len(value):,} characters long, at most {limit} are accepted",
                code=102,
                location=location,
                acknowledgment="AR" if segment_id == "MSH" else "AE",
            )
    return None
