"""From one MLLP frame to its acknowledgement: the original-mode processing rules.

HL7 v2 ch.2 "Message processing rules": validate the syntax and MSH-9/11/12 first (reject with
AR), then the content (AE names the field), and only then accept: the message is committed to the
durable inbox before its AA leaves (IHE ITI TF-2 C.2.3). A message is a duplicate when its
MSH-3, MSH-4 and MSH-10 were accepted before; it gets the stored ACK again and triggers nothing.

Input without a readable MSH cannot be acknowledged properly (there is no MSH-10 for MSA-2): we
log it and answer AR with ERR 100 and an empty MSA-2, so that the sender's connection does not
hang waiting; engines treat it as a rejection and alert. This choice is in docs/hl7-interface.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from hl7_listener.ack import AckHeader, ack_for
from hl7_listener.charset import codec_for, decode, encode, sniff_charset_field
from hl7_listener.ports import InboundMessage, InboxStatus, StoreOutcome
from mapping.hl7v2.adt_to_query import SUPPORTED_TRIGGERS, Admission, admission_from_message
from mapping.hl7v2.charset import encode_escaped
from mapping.hl7v2.er7 import Delimiters, Message, Segment
from mapping.hl7v2.header_rules import header_fault
from mapping.hl7v2.lengths import MSH_LIMITS, oversized_field
from mapping.hl7v2.rights_to_in1 import rpi_message
from rights.caller import Caller, Entry
from rights.catalogue import RegimeCatalogue
from rights.errors import CdrError, FramingError, MessageError, ParseError
from rights.model import Requester, RightsQuery
from rights.result import LookupReport

__all__ = ["Intake", "IntakeOptions"]

log = logging.getLogger("cdr.hl7")

_INTERNAL_ERROR = 207  # HL7 table 0357: application internal error


@dataclass(frozen=True, slots=True)
class IntakeOptions:
    application: str = "CDR-GATEWAY"
    facility: str = "CDR"
    lookup_triggers: frozenset[str] = SUPPORTED_TRIGGERS
    # Other ADT events: AR 201 ("reject") or AA, stored and ignored ("accept").
    other_events: Literal["reject", "accept"] = "reject"
    synchronous_queries: bool = True


@dataclass
class IntakeCounters:
    accepted: int = 0
    duplicates: int = 0
    errors: int = 0
    rejected: int = 0
    queries: int = 0


StoreFn = Callable[[InboundMessage], Awaitable[StoreOutcome]]
QueryFn = Callable[[RightsQuery, Caller], Awaitable[LookupReport]]


class Intake:
    def __init__(
        self,
        *,
        options: IntakeOptions,
        catalogue: RegimeCatalogue,
        requester: Requester,
        now: Callable[[], datetime],
        new_control_id: Callable[[], str],
        store: StoreFn,
        query: QueryFn | None = None,
        on_accepted: Callable[[], None] = lambda: None,
    ) -> None:
        self._options = options
        self._catalogue = catalogue
        self._requester = requester
        self._now = now
        self._new_control_id = new_control_id
        self._store = store
        self._query = query
        self._on_accepted = on_accepted
        self.counters = IntakeCounters()

    async def handle(self, frame: bytes) -> bytes:
        """The reply to one frame (an ACK, or an RPI for a query); never raises."""
        codec = "ascii"
        try:
            charset_field = sniff_charset_field(frame)
            try:
                codec = codec_for(charset_field)
            except FramingError as exc:
                # The ACK must still be readable: answer in Latin-1, ASCII's superset.
                codec = "latin-1"
                return self._reject_early(frame, codec, exc)
            try:
                text = decode(frame, codec)
            except FramingError as exc:
                return self._reject_early(frame, codec, exc)
            return await self._handle_text(frame, text, codec)
        except CdrError as exc:  # storage and other expected failures: ask to send again later
            log.error("hl7 message not accepted: %s", exc.message)
            return self._internal_error(frame, codec, exc.message)
        except Exception:
            log.exception("hl7 message not accepted: unexpected error")
            return self._internal_error(frame, codec, "unexpected error, see the gateway log")

    async def handle_oversize(self, head: bytes) -> bytes:
        """A frame over the size limit: salvage its MSH from the head and answer AR."""
        codec = "latin-1"
        error = FramingError(
            "message larger than the configured maximum (CDR_MLLP_MAX_MESSAGE_BYTES)",
            code=100,
            acknowledgment="AR",
        )
        return self._reject_early(head, codec, error)

    async def _handle_text(self, frame: bytes, text: str, codec: str) -> bytes:
        try:
            message = Message.parse(text)
        except ParseError as exc:
            log.warning("hl7 input without a readable MSH rejected: %s", exc.message)
            return self._reply(AckHeader(), "AR", exc, Delimiters(), codec)
        header = _header(message)
        d = message.delimiters
        check = self._check_header(message)
        if check is not None:
            return self._reply(header, check.acknowledgment, check, d, codec)
        if message.message_code == "RQI":
            return await self._answer_query(message, codec)
        too_long = oversized_field(message, header=False)
        if too_long is not None:
            return self._reply(header, too_long.acknowledgment, too_long, d, codec)
        trigger = message.trigger
        now = self._now()  # one reading of the clock: the day of care, the row, the ACK
        admission: Admission | None = None
        status = InboxStatus.PENDING
        if trigger in self._options.lookup_triggers:
            try:
                admission = admission_from_message(
                    message,
                    catalogue=self._catalogue,
                    requester=self._requester,
                    today=now.date(),
                )
            except MessageError as exc:
                return self._reply(header, exc.acknowledgment, exc, d, codec)
        else:
            status = InboxStatus.IGNORED
        ack = encode(self._ack_text(header, "AA", None, d, now), codec)
        outcome = await self._store(
            InboundMessage(
                sender_key=f"{header.sending_application}|{header.sending_facility}",
                control_id=message.control_id,
                received_at=now,
                message_type=f"{message.message_code}^{trigger}",
                patient_key=admission.patient_key if admission else "",
                charset=codec,
                raw=frame,
                ack=ack,
                status=status,
            )
        )
        if outcome.duplicate_ack is not None:
            self.counters.duplicates += 1
            _log_duplicate(header, outcome.duplicate_ack)
            return outcome.duplicate_ack
        self.counters.accepted += 1
        if status is InboxStatus.PENDING:
            self._on_accepted()
        return ack

    def _check_header(self, message: Message) -> MessageError | None:
        return header_fault(
            message,
            lookup_triggers=self._options.lookup_triggers,
            other_events=self._options.other_events,
            synchronous_queries=self._options.synchronous_queries,
        )

    async def _answer_query(self, message: Message, codec: str) -> bytes:
        self.counters.queries += 1
        control_id = self._new_control_id()
        now = self._now()
        report: LookupReport | None = None
        error: MessageError | None = None
        try:
            too_long = oversized_field(message, header=False)
            if too_long is not None:
                raise too_long
            admission = admission_from_message(
                message, catalogue=self._catalogue, requester=self._requester, today=now.date()
            )
            if self._query is None:
                raise MessageError("synchronous queries are not enabled", code=207)
            caller = Caller(Entry.RQI, f"{message.sending_application}^{message.sending_facility}")
            report = await self._query(admission.query, caller)
        except MessageError as exc:
            error = exc
        text = rpi_message(
            message,
            report,
            control_id=control_id,
            now=now,
            sending_application=self._options.application,
            sending_facility=self._options.facility,
            error=error,
            catalogue=self._catalogue,
        )
        # A name the query's charset lacks goes as an HL7 hex escape, never as "?" (issue 20.5).
        return encode_escaped(text, codec, message.delimiters)

    def _reply(
        self,
        header: AckHeader,
        code: str,
        error: MessageError | None,
        d: Delimiters,
        codec: str,
    ) -> bytes:
        if code == "AE":
            self.counters.errors += 1
        elif code == "AR":
            self.counters.rejected += 1
        if error is not None:
            log.info(
                "hl7 %s %s %s at %s: %s",
                code,
                header.control_id or "-",
                error.code,
                error.location or "-",
                error.message,
            )
        return encode(self._ack_text(header, code, error, d), codec)

    def _ack_text(
        self,
        header: AckHeader,
        code: str,
        error: MessageError | None,
        d: Delimiters,
        now: datetime | None = None,
    ) -> str:
        return ack_for(
            header,
            code=code,
            control_id=self._new_control_id(),
            now=self._now() if now is None else now,
            application=self._options.application,
            facility=self._options.facility,
            error=error,
            d=d,
        )

    def _reject_early(self, raw: bytes, codec: str, error: MessageError) -> bytes:
        """An error found before the message could be decoded: answer from its MSH bytes.

        A frame without a readable MSH is answered as docs/hl7-interface.md §5 says whatever
        else is wrong with it (AR, ERR 100 at ``MSH^1``, empty MSA-2): there is no MSH-10 to
        echo, and the MSH is the first thing a responder checks (HL7 v2 ch.2 processing rules).
        Only an internal error (207) keeps its own code, so that the sender knows to resend."""
        text = raw.decode(codec, errors="replace")
        try:
            message = Message.parse(text.split("\r", 1)[0].split("\n", 1)[0])
            header, d = _header(message), message.delimiters
        except ParseError as unreadable:
            if error.code != _INTERNAL_ERROR:
                log.warning("hl7 input without a readable MSH rejected: %s", unreadable.message)
                return self._reply(AckHeader(), "AR", unreadable, Delimiters(), codec)
            header, d = AckHeader(), Delimiters()
        return self._reply(header, error.acknowledgment, error, d, codec)

    def _internal_error(self, raw: bytes, codec: str, detail: str) -> bytes:
        error = MessageError(detail, code=_INTERNAL_ERROR, acknowledgment="AR")
        try:
            return self._reject_early(raw, codec, error)
        except Exception:  # the reply of last resort must not fail
            log.exception("cannot build the AR for an internal error")
            return b"MSH|^~\\&|||||||ACK|0|P|2.5\rMSA|AR|\r"


def _log_duplicate(header: AckHeader, stored_ack: bytes) -> None:
    """One line per duplicate: an engineer who sends a message again (after configuring a
    destination, say) sees why nothing else happens."""
    sender = f"{header.sending_application}|{header.sending_facility}"
    ack_control_id = _ack_control_id(stored_ack)
    log.info(
        "hl7 duplicate: %s MSH-10 %s was accepted before (its ACK %s); the stored ACK is sent "
        "again and nothing is looked up or delivered again",
        sender,
        header.control_id,
        ack_control_id,
        extra={
            "event": "hl7-duplicate",
            "sender": sender,
            "control_id": header.control_id,
            "ack_control_id": ack_control_id,
        },
    )


def _ack_control_id(ack: bytes) -> str:
    """MSH-10 of a stored ACK (its bytes start with ``MSH`` and the field separator)."""
    msh = ack.split(b"\r", 1)[0]
    fields = msh.split(msh[3:4]) if len(msh) > 3 else []
    return fields[9].decode("latin-1") if len(fields) > 9 else ""


def _header(message: Message) -> AckHeader:
    """The MSH fields an ACK echoes; one over its length bound (``mapping.hl7v2.lengths``) is
    left empty, so that the AR refusing it is not as large as it (MSA-2 then empty, as for a
    missing MSH-10)."""
    msh = message.segments[0]
    return AckHeader(
        sending_application=_bounded(msh, 3),
        sending_facility=_bounded(msh, 4),
        receiving_application=_bounded(msh, 5),
        receiving_facility=_bounded(msh, 6),
        control_id=_bounded(msh, 10),
        trigger=message.trigger,
        processing_id=message.processing_id,
        # MSH-12 echoed whole (``2.5^FRA^2.11``), as written in the sender's delimiters.
        version=msh.field(12),
        charset_field=msh.field(18),
    )


def _bounded(msh: Segment, number: int) -> str:
    value = msh.field(number)
    return value if len(value) <= MSH_LIMITS[("MSH", number)] else ""
