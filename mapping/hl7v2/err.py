"""The ERR segment: where an HL7 error sits (ERL) and what it is (HL7 table 0357).

Shared by the listener's ACKs and the RPI^I01 answers, so both report an error the same way.
"""

from __future__ import annotations

from mapping.hl7v2.er7 import Delimiters, components, escape, segment
from rights.errors import MessageError

__all__ = ["ERR8_MAX", "ERROR_TEXT", "erl", "err_segment"]

# HL7 table 0357, message error condition codes.
ERROR_TEXT = {
    0: "Message accepted",
    100: "Segment sequence error",
    101: "Required field missing",
    102: "Data type error",
    103: "Table value not found",
    200: "Unsupported message type",
    201: "Unsupported event code",
    202: "Unsupported processing id",
    203: "Unsupported version id",
    204: "Unknown key identifier",
    205: "Duplicate key identifier",
    206: "Application record locked",
    207: "Application internal error",
}


def erl(location: str, d: Delimiters) -> str:
    """``PID-3(2).1`` → ``PID^1^3^2^1``: ERL segment, occurrence, field, repetition, component,
    subcomponent (the repetition is written whenever a component is: ERL positions are fixed)."""
    if not location:
        return ""
    head, _, rest = location.partition("-")
    seg, _, occurrence = head.partition("#")
    parts = [escape(seg, d), occurrence or "1"]
    if rest:
        field, *deeper = rest.split(".")
        number, _, rep = field.partition("(")
        parts.append(number)
        if rep or deeper:
            parts.append(rep.rstrip(")") or "1")
        parts += deeper
    return d.component.join(parts)


# ERR-8 (TX, 250 in v2.5): our texts fit; one quoting a sender's value is cut, so that a huge
# field cannot make a huge ACK.
ERR8_MAX = 250


def err_segment(error: MessageError, d: Delimiters) -> str:
    """ERR as IHE ITI TF-2 C.2.4 wants it: ERR-2 location, ERR-3 table 0357, ERR-4 severity,
    ERR-8 the message for a human (at most ``ERR8_MAX`` characters before escaping)."""
    label = ERROR_TEXT.get(error.code, "Error")
    text = error.message
    if len(text) > ERR8_MAX:
        text = text[: ERR8_MAX - 4] + " ..."
    return segment(
        "ERR",
        "",
        erl(error.location, d),
        components(str(error.code), escape(label, d), "HL70357", d=d),
        "E",
        "",
        "",
        "",
        escape(text, d),
        d=d,
    )
