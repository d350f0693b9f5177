"""A lookup's report as HL7 v2: IN1/IN2/IN3 groups (IHE ITI TF-4 §4.1.2.11, PAM FR), sent back to
the integration bus in ADT^Z99 or ADT^A31, or in the RPI^I01 that answers an RQI^I01 (DESIGN §6).

Pure: values in, ER7 text out (segments ended by CR) in the delimiters of the message answered.
Every value taken from the report is escaped; segments copied from that message (PID, PV1, PRD)
are copied as received, since they are already written in its delimiters. The segments carrying
the rights are built by ``mapping.hl7v2.rights_segments``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from mapping.hl7v2.adt_to_query import Admission
from mapping.hl7v2.er7 import Delimiters, Message, components, escape, segment
from mapping.hl7v2.err import err_segment
from mapping.hl7v2.msh import hl7_timestamp, pam_fr_header, reply_msh
from mapping.hl7v2.rights_segments import (
    encode_groups,
    insurance_groups,
    insurance_segments,
    report_disposition,
    status_obx,
    zrd_segment,
)
from mapping.hl7v2.rol import family_doctor_segment
from rights.catalogue import RegimeCatalogue
from rights.errors import MessageError
from rights.result import LookupReport

__all__ = [
    "DEFAULT_RESULT_CHARSET",
    "insurance_segments",
    "result_kind",
    "rights_update_message",
    "rpi_message",
    "zrd_segment",
]

# PAM FR 2.11 (MSH-12 fully populated, PAM FR 2.11.2 §6.5).
_PAM_FR_VERSION = ("2.5", "FRA", "2.11")
# MSH-18 of a result when the destination sets none: PAM FR 2.11.2 §6.1, "ISO 8859/15 est
# l'encodage standard en France" (it holds every French letter, œ and € included).
DEFAULT_RESULT_CHARSET = "8859/15"


def _msh(
    answered: Message,
    d: Delimiters,
    *,
    message_type: tuple[str, str, str],
    version: str,
    control_id: str,
    now: datetime,
    sending_application: str,
    sending_facility: str,
    charset_field: str,
    pam_fr: bool,
) -> str:
    country, language, profile = pam_fr_header(d) if pam_fr else ("", "", "")
    return reply_msh(
        d,
        sending_application=escape(sending_application, d),
        sending_facility=escape(sending_facility, d),
        receiving_application=answered.sending_application,
        receiving_facility=answered.sending_facility,
        timestamp=hl7_timestamp(now),
        message_type=components(*message_type, d=d),
        control_id=control_id,
        processing_id=answered.msh.field(11),
        version=version,
        charset_field=charset_field,
        country=country,
        language=language,
        profile=profile,
    )


def result_kind(inbound: Message, configured: Literal["Z99", "A31"]) -> Literal["Z99", "A31"]:
    """The result message for ``inbound``: Z99 only when it names a movement (a ZBE). PAM FR
    2.11.2 §5 (remarque 2): Z99 corrects the movement ZBE-1 identifies and "ne peut en aucun
    cas servir à insérer un nouveau mouvement"; a message without one (A28, A31, a non-PAM A04)
    gets the ITI-30 update of the patient, A31."""
    if configured == "Z99" and inbound.first("ZBE") is not None:
        return "Z99"
    return "A31"


def rights_update_message(
    inbound: Message,
    admission: Admission,
    report: LookupReport,
    *,
    kind: Literal["Z99", "A31"],
    control_id: str,
    now: datetime,
    sending_application: str,
    sending_facility: str,
    catalogue: RegimeCatalogue | None = None,
    charset_field: str = DEFAULT_RESULT_CHARSET,
    zrd: bool = True,
    final: bool | None = None,
) -> str:
    """The rights of ``report`` for the admission ``inbound``, as ADT^Z99^ADT_A01 (PAM FR update
    of the movement: ZBE-4 UPDATE, ZBE-6 original trigger, ZBE-9 C, administrative change
    without movement) when ``kind`` is Z99 and ``inbound`` carries a movement, else as
    ADT^A31^ADT_A05 (``result_kind``). MSH-5/6 answer the inbound MSH-3/4; MSH-18 is
    ``charset_field``, the charset the caller encodes the text in. ``zrd`` False leaves our Z
    segment out, for receivers that validate strictly (the OBX says the essentials). ``final``
    False: an updated result will follow (OBX-11 and ZRD-8 ``P``); None: final when every
    regime answered."""
    d = inbound.delimiters
    kind = result_kind(inbound, kind)
    structure = ("ADT", "Z99", "ADT_A01") if kind == "Z99" else ("ADT", "A31", "ADT_A05")
    msh = _msh(
        inbound,
        d,
        message_type=structure,
        version=components(*_PAM_FR_VERSION, d=d),
        control_id=control_id,
        now=now,
        sending_application=sending_application,
        sending_facility=sending_facility,
        charset_field=charset_field,
        pam_fr=True,
    )
    stamp = hl7_timestamp(now)
    lines = [msh, segment("EVN", "", stamp, d=d)]
    pid = inbound.first("PID")
    lines.append(pid.encode() if pid is not None else segment("PID", "1", d=d))
    doctor = family_doctor_segment(report, d)
    if doctor is not None:
        lines.append(doctor)
    pv1 = inbound.first("PV1") if kind == "Z99" else None
    # An identity update has no visit: PV1-2 "N" (not applicable), as ITI-30 A31 does.
    lines.append(pv1.encode() if pv1 is not None else segment("PV1", "1", "N", d=d))
    if kind == "Z99":
        lines.append(_zbe(inbound, admission, now, d))
    lines.append(status_obx(report, stamp, d, final=final))
    groups = insurance_groups(report, catalogue)
    lines += encode_groups(groups, report, d)
    if zrd:
        lines.append(
            zrd_segment(
                report,
                d,
                catalogue=catalogue,
                answers=inbound.control_id,
                groups=groups,
                final=final,
            )
        )
    return "\r".join(lines) + "\r"


def _zbe(inbound: Message, admission: Admission, now: datetime, d: Delimiters) -> str:
    """ZBE of the update (PAM FR 2.11.2 §6.13): the inbound movement, updated, scope C. Only
    called when ``inbound`` has a ZBE (``result_kind``): no movement is ever made up."""
    zbe = inbound.first("ZBE")

    def copied(n: int) -> str:
        value = zbe.field(n) if zbe is not None else ""
        return "" if value == '""' else value

    trigger = inbound.trigger or admission.trigger
    # Updating an update: the original trigger is the one the inbound Z99 already carried.
    original = (copied(6) if trigger == "Z99" else "") or escape(trigger, d)
    return segment(
        "ZBE",
        copied(1),
        copied(2) or hl7_timestamp(now),
        "",
        "UPDATE",
        "N",
        original,
        copied(7),
        copied(8),
        "C",
        d=d,
    )


def rpi_message(
    query_message: Message,
    report: LookupReport | None,
    *,
    control_id: str,
    now: datetime,
    sending_application: str,
    sending_facility: str,
    error: MessageError | None = None,
    catalogue: RegimeCatalogue | None = None,
) -> str:
    """RPI^I01^RPI_I01 answering the RQI^I01 ``query_message``: MSA AA with the rights of
    ``report``, or MSA AE/AR (``error.acknowledgment``) with an ERR when ``error`` is given.
    PRD/CTD and PID are copied from the query; NTE holds a sentence for a human."""
    if report is None and error is None:
        raise ValueError("an RPI answers with a report or with an error")
    d = query_message.delimiters
    msh = _msh(
        query_message,
        d,
        message_type=("RPI", "I01", "RPI_I01"),
        version=query_message.msh.field(12) or "2.5",
        control_id=control_id,
        now=now,
        sending_application=sending_application,
        sending_facility=sending_facility,
        # A reply to the query: in the query's charset (the caller encodes it so), like an
        # ACK; RPI is not a PAM FR message, so no PAM FR profile in MSH-21.
        charset_field=query_message.msh.field(18),
        pam_fr=False,
    )
    code = error.acknowledgment if error is not None else "AA"
    lines = [msh, segment("MSA", code, query_message.msh.field(10), d=d)]
    if error is not None:
        lines.append(err_segment(error, d))
    lines += [s.encode() for s in query_message.segments if s.id in ("PRD", "CTD", "PID")]
    if report is not None:
        lines += insurance_segments(report, d, catalogue=catalogue)
        note = report_disposition(report, catalogue)
    else:
        note = f"No lookup: {error.message}" if error is not None else ""
    lines.append(segment("NTE", "1", "L", escape(note, d), d=d))
    if report is not None:
        # A synchronous reply: nothing follows it, so it is final whatever the regimes did.
        lines.append(zrd_segment(report, d, catalogue=catalogue, final=True))
    return "\r".join(lines) + "\r"
