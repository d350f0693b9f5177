"""Original-mode acknowledgements: MSH + MSA + ERR, the only place errors become ACK codes.

IHE ITI TF-2 Appendix C: MSA-2 echoes the incoming MSH-10; MSA-3 is not used, the error goes in
ERR-2 (location, ERL), ERR-3 (HL7 table 0357) and ERR-4 (severity).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mapping.er7 import Delimiters, escape, segment
from mapping.hl7_err import err_segment
from rights.errors import MessageError

__all__ = ["AckHeader", "ack_for"]


@dataclass(frozen=True, slots=True)
class AckHeader:
    """The incoming MSH fields an ACK needs, as received (still escaped); empty when unknown."""

    sending_application: str = ""
    sending_facility: str = ""
    receiving_application: str = ""
    receiving_facility: str = ""
    control_id: str = ""
    trigger: str = ""
    processing_id: str = "P"
    version: str = "2.5"
    charset_field: str = ""


def ack_for(
    header: AckHeader,
    *,
    code: str,
    control_id: str,
    now: datetime,
    application: str,
    facility: str,
    error: MessageError | None = None,
    d: Delimiters | None = None,
) -> str:
    """The ACK text (segments ended by ``\\r``) for ``code`` AA, AE or AR."""
    d = d or Delimiters()
    encoding = d.component + d.repetition + d.escape + d.subcomponent
    message_type = d.component.join(("ACK", header.trigger, "ACK")) if header.trigger else "ACK"
    msh = segment(
        "MSH",
        encoding,
        header.receiving_application or escape(application, d),
        header.receiving_facility or escape(facility, d),
        header.sending_application,
        header.sending_facility,
        now.strftime("%Y%m%d%H%M%S"),
        "",
        message_type,
        escape(control_id, d),
        header.processing_id or "P",
        header.version or "2.5",
        "",  # MSH-13 sequence number
        "",  # MSH-14 continuation
        "",  # MSH-15 accept ack type
        "",  # MSH-16 application ack type
        "",  # MSH-17 country
        header.charset_field,
        d=d,
    )
    msa = segment("MSA", code, header.control_id, d=d)
    lines = [msh, msa]
    if error is not None:
        lines.append(err_segment(error, d))
    return "\r".join(lines) + "\r"
