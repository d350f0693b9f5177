"""A lookup's report as HL7 v2: IN1/IN2/IN3 groups (IHE ITI TF-4 §4.1.2.11, PAM FR), sent back to
the integration bus in ADT^Z99 or ADT^A31, or in the RPI^I01 that answers an RQI^I01 (DESIGN §6).

Pure: values in, ER7 text out (segments ended by CR) in the delimiters of the message answered.
Every value taken from the report is escaped; segments copied from that message (PID, PV1, PRD)
are copied as received, since they are already written in its delimiters. The segments carrying
the rights are built by ``mapping.rights_segments``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from mapping.adt_to_query import Admission
from mapping.er7 import Delimiters, Message, components, escape, segment
from mapping.hl7_err import err_segment
from mapping.hl7_msh import reply_msh
from mapping.rights_segments import (
    family_doctor_segment,
    insurance_segments,
    report_disposition,
    zrd_segment,
)
from rights.catalogue import RegimeCatalogue
from rights.errors import MessageError
from rights.result import LookupReport

__all__ = ["insurance_segments", "rights_update_message", "rpi_message", "zrd_segment"]

# PAM FR 2.11 (MSH-12 fully populated).
_PAM_FR_VERSION = ("2.5", "FRA", "2.11")


def _timestamp(now: datetime) -> str:
    # With its UTC offset when known, so that a receiver does not read UTC as local time.
    text = now.strftime("%Y%m%d%H%M%S")
    return text + now.strftime("%z") if now.utcoffset() is not None else text


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
) -> str:
    return reply_msh(
        d,
        sending_application=escape(sending_application, d),
        sending_facility=escape(sending_facility, d),
        receiving_application=answered.sending_application,
        receiving_facility=answered.sending_facility,
        timestamp=_timestamp(now),
        message_type=components(*message_type, d=d),
        control_id=control_id,
        processing_id=answered.msh.field(11),
        version=version,
        charset_field=answered.msh.field(18),
    )


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
    final: bool = True,
) -> str:
    """The rights of ``report`` for the admission ``inbound``, as ADT^Z99^ADT_A01 (PAM FR update
    of the movement: ZBE-4 UPDATE, ZBE-6 original trigger, ZBE-9 C, administrative change without
    movement) or ADT^A31^ADT_A05. MSH-5/6 answer the inbound MSH-3/4. ``final`` False: an
    updated result will follow (ZRD-8 ``P``)."""
    d = inbound.delimiters
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
    )
    lines = [msh, segment("EVN", "", _timestamp(now), d=d)]
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
    lines += insurance_segments(report, d, catalogue=catalogue)
    lines.append(
        zrd_segment(report, d, catalogue=catalogue, answers=inbound.control_id, final=final)
    )
    return "\r".join(lines) + "\r"


def _zbe(inbound: Message, admission: Admission, now: datetime, d: Delimiters) -> str:
    """ZBE of the update (PAM FR ZBE): the inbound movement, updated, scope C."""
    zbe = inbound.first("ZBE")

    def copied(n: int) -> str:
        value = zbe.field(n) if zbe is not None else ""
        return "" if value == '""' else value

    # ZBE-1 is required: without an inbound movement, name it after the visit, else the message.
    movement = copied(1) or escape(admission.visit_number or admission.control_id, d)
    trigger = inbound.trigger or admission.trigger
    # Updating an update: the original trigger is the one the inbound Z99 already carried.
    original = (copied(6) if trigger == "Z99" else "") or escape(trigger, d)
    return segment(
        "ZBE",
        movement,
        copied(2) or _timestamp(now),
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
        lines.append(zrd_segment(report, d, catalogue=catalogue))
    return "\r".join(lines) + "\r"
