"""The MSH of a message we send in answer to, or about, one we received."""

from __future__ import annotations

from datetime import datetime

from mapping.er7 import Delimiters, escape, segment

__all__ = ["hl7_timestamp", "reply_msh"]


def hl7_timestamp(moment: datetime) -> str:
    """``YYYYMMDDHHMMSS+ZZZZ`` (HL7 v2.5 DTM, §2.A.22): the wall time of ``moment`` with its
    offset, so that a receiver neither reads UTC as local time nor guesses the zone."""
    text = moment.strftime("%Y%m%d%H%M%S")
    return text + moment.strftime("%z") if moment.utcoffset() is not None else text


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
