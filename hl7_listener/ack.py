"""Original-mode acknowledgements: MSH + MSA + ERR, the only place errors become ACK codes.

IHE ITI TF-2 Appendix C: MSA-2 echoes the incoming MSH-10; MSA-3 is not used, the error goes in
ERR-2 (location, ERL), ERR-3 (HL7 table 0357) and ERR-4 (severity).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mapping.hl7v2.er7 import Delimiters, escape, segment
from mapping.hl7v2.err import err_segment
from mapping.hl7v2.msh import hl7_timestamp, reply_msh
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
    message_type = d.component.join(("ACK", header.trigger, "ACK")) if header.trigger else "ACK"
    msh = reply_msh(
        d,
        sending_application=header.receiving_application or escape(application, d),
        sending_facility=header.receiving_facility or escape(facility, d),
        receiving_application=header.sending_application,
        receiving_facility=header.sending_facility,
        timestamp=hl7_timestamp(now),
        message_type=message_type,
        control_id=control_id,
        processing_id=header.processing_id,
        version=header.version or "2.5",
        charset_field=header.charset_field,
    )
    msa = segment("MSA", code, header.control_id, d=d)
    lines = [msh, msa]
    if error is not None:
        lines.append(err_segment(error, d))
    return "\r".join(lines) + "\r"
