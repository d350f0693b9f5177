"""The MSH of a message we send in answer to, or about, one we received."""

from __future__ import annotations

from mapping.er7 import Delimiters, escape, segment

__all__ = ["reply_msh"]


def reply_msh(
    d: Delimiters,
    *,
    sending_application: str,
    sending_facility: str,
    receiving_application: str,
    receiving_facility: str,
    timestamp: str,
    message_type: str,
    control_id: str,
    processing_id: str,
    version: str,
    charset_field: str,
) -> str:
    """MSH in delimiters ``d``. Application, facility, type, version and charset fields are
    given as ER7 text (escaped, components joined); ``control_id`` is escaped here."""
    return segment(
        "MSH",
        d.encoding_characters,
        sending_application,
        sending_facility,
        receiving_application,
        receiving_facility,
        timestamp,
        "",  # MSH-8 security
        message_type,
        escape(control_id, d),
        processing_id or "P",
        version,
        "",  # MSH-13 sequence number
        "",  # MSH-14 continuation
        "",  # MSH-15 accept ack type
        "",  # MSH-16 application ack type
        "",  # MSH-17 country
        # MSH-18 as the received message wrote it: the caller encodes in that charset.
        charset_field,
        d=d,
    )
