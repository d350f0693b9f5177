"""The MSH of a message we send in answer to, or about, one we received."""

from __future__ import annotations

from datetime import datetime

from mapping.hl7v2.er7 import Delimiters, components, escape, segment

__all__ = ["hl7_timestamp", "pam_fr_header", "reply_msh"]


def hl7_timestamp(moment: datetime) -> str:
    """``YYYYMMDDHHMMSS+ZZZZ`` (HL7 v2.5 DTM, §2.A.22): the wall time of ``moment`` with its
    offset, so that a receiver neither reads UTC as local time nor guesses the zone."""
    # Formatted by hand: two strftime calls were a twentieth of the HL7 intake's time per
    # message (one timestamp in each ACK).
    m = moment
    text = f"{m.year:04d}{m.month:02d}{m.day:02d}{m.hour:02d}{m.minute:02d}{m.second:02d}"
    offset = m.utcoffset()
    if offset is None:
        return text
    minutes = round(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{text}{sign}{hours:02d}{minutes:02d}"


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
    country: str = "",
    language: str = "",
    profile: str = "",
) -> str:
    """MSH in delimiters ``d``. Application, facility, type, version, charset and profile
    fields are given as ER7 text (escaped, components joined); ``control_id`` is escaped here.
    ``country`` (MSH-17), ``language`` (MSH-19) and ``profile`` (MSH-21) are left empty in
    ACKs, which echo the sender; results fill them (``pam_fr_header``)."""
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
        country,  # MSH-17
        # MSH-18: the charset the caller encodes the message in.
        charset_field,
        language,  # MSH-19 principal language of message
        "",  # MSH-20 alternate character set handling scheme
        profile,  # MSH-21 message profile identifier
        d=d,
    )


def pam_fr_header(d: Delimiters) -> tuple[str, str, str]:
    """MSH-17, MSH-19 and MSH-21 of a message we originate under IHE PAM France 2.11.

    PAM FR 2.11.2 §6.5: MSH-21.1 ``2.11`` and MSH-21.2 ``IHE_FRANCE-2.11-PAM`` declare the
    profile (only the 2.11 version, never 2.11.x), next to MSH-17 ``FRA`` and MSH-19 ``FR``
    as its example writes them; ITI TF-2 ITI-30/31 make MSH-17/19/21 RE."""
    return "FRA", "FR", components("2.11", "IHE_FRANCE-2.11-PAM", d=d)
