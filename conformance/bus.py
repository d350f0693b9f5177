"""`cdr conformance simulate bus`: the integration engine's inbound channel, played by the kit.

An MLLP receiver (release 1, IHE ITI TF-2 C.2.1) for the results a gateway sends back to the
bus after each lookup (docs/hl7-interface.md §6 and §8): each message is read in the character
set its MSH-18 names, checked (the message type, PAM FR 2.11.2's rules as a strict receiver
applies them, the segment order, the rights status OBX, our ZRD), recorded, and acknowledged:
``AA`` when it holds, ``AE`` with an ERR naming the first fault otherwise, as an engine's
channel would refuse it. What was seen is printed as it comes and written in the kit's reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from conformance.cases import Case, Hl7Expectation
from conformance.findings import Finding
from conformance.mllp import answer_frames
from conformance.runner import CaseResult
from mapping.hl7v2.er7 import Message
from mapping.hl7v2.inbound_charset import codec_for, decode, sniff_charset_field
from mapping.hl7v2.pam_fr_check import pam_fr_violations
from rights.errors import MessageError, ParseError

__all__ = ["BusSimulator", "Received", "as_case_results", "result_findings"]

_MAX_FRAME = 4 * 1024 * 1024
_RESULT_TYPES = {"Z99": "ADT_A01", "A31": "ADT_A05"}
# The segments a result holds, in order (§6: Z99 and A31), the insurance groups repeating.
_KNOWN = {"MSH", "EVN", "PID", "ROL", "PV1", "ZBE", "OBX", "IN1", "IN2", "IN3", "ZRD"}
_SHAPE = re.compile(r"MSH EVN PID( ROL)* PV1( ZBE)?( OBX)+( IN1( IN2)?( IN3)?)*( ZRD)?")
_SHOWN = "MSH EVN PID [ROL] PV1 [ZBE] OBX {IN1 [IN2] [IN3]} [ZRD]"


def result_findings(raw: bytes, *, zrd: bool = True) -> list[Finding]:
    """What a strict inbound channel refuses in ``raw`` (one result, no framing), in order."""
    try:
        text = decode(raw, codec_for(sniff_charset_field(raw)))
        message = Message.parse(text)
    except (MessageError, ParseError) as exc:
        return [Finding(exc.location or "MSH", "AR 100", exc.message)]
    findings = _type(message)
    findings += _order(message)
    findings += [Finding("", "AE 207", f"PAM FR 2.11.2 {v}") for v in pam_fr_violations(text)]
    findings += _status(message, zrd=zrd)
    return findings


def _type(message: Message) -> list[Finding]:
    structure = _RESULT_TYPES.get(message.trigger)
    msh9 = message.msh.field(9)
    if message.message_code != "ADT" or structure is None:
        return [Finding("MSH-9", "AR 200", f"{msh9!r} is not a result (ADT^Z99 or ADT^A31)")]
    if message.msh.value(9, 3) != structure:
        return [Finding("MSH-9", "AE 207", f"{msh9!r}: the structure is {structure}")]
    return []


def _order(message: Message) -> list[Finding]:
    missing = [s for s in ("EVN", "PID", "PV1", "OBX") if message.first(s) is None]
    if missing:
        return [Finding(s, "AE 100", f"{s} is required in a result") for s in missing]
    # Segments a receiver does not know (another Z segment) are skipped, as it skips them.
    ids = " ".join(seg.id for seg in message.segments if seg.id in _KNOWN)
    if _SHAPE.fullmatch(ids) is None:
        return [Finding("", "AE 100", f"segments {ids} are not in the order of §6: {_SHOWN}")]
    return []


def _status(message: Message, *, zrd: bool) -> list[Finding]:
    out = []
    obx = message.first("OBX")
    if obx is not None:
        if obx.value(3, 1) != "CDR-RIGHTS":
            out.append(Finding("OBX-3", "AE 207", "the rights status OBX is CDR-RIGHTS"))
        if obx.value(11) not in ("F", "P"):
            out.append(Finding("OBX-11", "AE 207", "final (F) or preliminary (P) expected"))
    segment = message.first("ZRD")
    if zrd and segment is None:
        out.append(Finding("ZRD", "AE 100", "ZRD (the lookup's outcome) is missing"))
    if segment is not None:
        if segment.value(1) not in ("complete", "partial", "error"):
            out.append(Finding("ZRD-1", "AE 207", f"outcome {segment.value(1)!r} is unknown"))
        if not segment.value(7):
            out.append(Finding("ZRD-7", "AE 101", "the admission's MSH-10 is missing"))
        if segment.value(8) not in ("F", "P"):
            out.append(Finding("ZRD-8", "AE 207", "final (F) or preliminary (P) expected"))
    return out


@dataclass(frozen=True, slots=True)
class Received:
    """One message the bus got, and what it made of it."""

    at: datetime
    peer: str
    message_type: str
    control_id: str
    sender: str
    answers: str  # ZRD-7: the admission's MSH-10
    status: str  # ZRD-8 / OBX-11: F or P
    groups: int  # IN1 segments
    findings: tuple[Finding, ...]
    raw: bytes

    @property
    def valid(self) -> bool:
        return not self.findings

    def line(self) -> str:
        status = {"F": "final", "P": "preliminary"}.get(self.status, "status ?")
        what = (
            f"{self.message_type or '?'} {self.control_id or '(no MSH-10)'} from "
            f"{self.sender or '?'}: answers {self.answers or '?'}, {self.groups} insurance "
            f"group(s), {status}"
        )
        if self.valid:
            return f"VALID   {what}"
        return f"INVALID {what}" + "".join(f"\n        {f.line()}" for f in self.findings)


def _received(raw: bytes, peer: str, *, zrd: bool) -> Received:
    findings = tuple(result_findings(raw, zrd=zrd))
    try:
        message = Message.parse(decode(raw, codec_for(sniff_charset_field(raw))))
    except (MessageError, ParseError):
        return Received(datetime.now(UTC), peer, "", "", "", "", "", 0, findings, raw)
    msh, rights = message.msh, message.first("ZRD")
    obx = message.first("OBX")
    status = rights.value(8) if rights is not None else obx.value(11) if obx is not None else ""
    return Received(
        at=datetime.now(UTC),
        peer=peer,
        message_type=f"{message.message_code}^{message.trigger}",
        control_id=msh.value(10),
        sender=f"{msh.value(3)}|{msh.value(4)}",
        answers=rights.value(7) if rights is not None else "",
        status=status,
        groups=len(message.all("IN1")),
        findings=findings,
        raw=raw,
    )


def _ack(received: Received, raw: bytes, number: int) -> bytes:
    """The ACK an engine's channel sends: AA, or AE/AR with the first fault in ERR."""
    try:
        message = Message.parse(raw.decode("latin-1"))
        msh = message.msh
        to_app, to_facility = msh.value(3), msh.value(4)
        trigger, version = message.trigger, msh.value(12, 1) or "2.5"
    except ParseError:
        to_app = to_facility = trigger = ""
        version = "2.5"
    first = received.findings[0] if received.findings else None
    code = first.code.split()[0] if first is not None else "AA"
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    lines = [
        f"MSH|^~\\&|CDR-KIT-BUS|KIT|{to_app}|{to_facility}|{stamp}||ACK^{trigger}^ACK|"
        f"BUS{number:08d}|P|{version}",
        f"MSA|{code}|{received.control_id}",
    ]
    if first is not None:
        # The ACK declares no MSH-18: plain ASCII, the finding's accents and signs dropped.
        plain = unicodedata.normalize("NFKD", first.message.replace("§", "section "))
        text = plain.encode("ascii", "ignore").decode().replace("|", "/")[:200]
        table = first.code.split()[-1]
        lines.append(f"ERR||{first.location.replace('-', '^')}|{table}|E||||{text}")
    return ("\r".join(lines) + "\r").encode("ascii", errors="replace")


@dataclass
class BusSimulator:
    """The receiver: ``start()`` listens, each result is checked, recorded and acknowledged."""

    zrd: bool = True
    on_message: Callable[[Received], None] = lambda _r: None
    received: list[Received] = field(default_factory=list)
    _server: asyncio.Server | None = field(default=None, init=False, repr=False)
    _open: dict[asyncio.StreamWriter, asyncio.Task[None]] = field(
        default_factory=dict, init=False, repr=False
    )
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1), init=False)

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._connection, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening, close the connections still open and let their handlers end."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            writer.close()
        await asyncio.gather(*self._open.values(), return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        address = writer.get_extra_info("peername")
        peer = f"{address[0]}:{address[1]}" if address else "?"
        task = asyncio.current_task()
        if task is not None:
            self._open[writer] = task
        try:
            await answer_frames(
                reader, writer, lambda raw: self._answer(raw, peer), limit=_MAX_FRAME
            )
        finally:
            self._open.pop(writer, None)

    def _answer(self, raw: bytes, peer: str) -> bytes:
        received = _received(raw, peer, zrd=self.zrd)
        self.received.append(received)
        self.on_message(received)
        return _ack(received, raw, next(self._numbers))


def as_case_results(received: list[Received]) -> list[CaseResult]:
    """The messages the bus got as the kit's case results, so that the same JUnit, HTML and
    JSON reports say what was seen: one case per message, failed by its findings."""
    results = []
    for number, got in enumerate(received, 1):
        case = Case(
            id=f"bus-{number:04d}-{got.control_id or 'no-msh-10'}",
            kind="hl7",
            title=f"{got.message_type or 'unreadable message'} from {got.sender or '?'}",
            clause="docs/hl7-interface.md §6 and §8; IHE PAM France 2.11.2 §5, §6",
            tags=("bus", "result"),
            input="",
            expect=Hl7Expectation("ACK", "AA", got.control_id, None, None),
        )
        text = got.raw.decode("latin-1").replace("\r", "\n")
        results.append(
            CaseResult(
                case,
                tuple(f.line() for f in got.findings),
                0.0,
                request=f"MLLP from {got.peer} at {got.at.isoformat(timespec='seconds')}",
                response=text[:4000],
            )
        )
    return results
