"""`cdr conformance simulate gateway`: a stand-in for the gateway, from the kit's rules and
fixtures only, so that an integration engine's channels can be built before the gateway is
installed.

- MLLP: each admission is judged by the gateway's own rules (``conformance.hl7_validate``) and
  acknowledged as the gateway acknowledges it: AA, or AE/AR with the same ERR (location, HL7
  table 0357 code, text); an RQI^I01 is answered by the ``simulator/rpi-i01.hl7`` fixture in
  the query's charset. After an AA, when a bus is given, a result is sent to it: the
  ``simulator/result-a31.hl7`` fixture (one AMO group, rights in force) carrying the admission's
  PID and answering its MSH-10 in ZRD-7.
- FHIR: ``POST [base]/CoverageEligibilityRequest/$submit`` judged by the gateway's rules
  (``conformance.fhir_validate``): its OperationOutcome (400, or 422 when the resource is valid
  FHIR breaking a rule) or the ``simulator/cer-response.json`` fixture, marked simulated (in
  a collection Bundle for a Bundle or Parameters input).

No regime is asked and nothing is stored: duplicates are not detected, every answer is made
afresh. Each exchange is told to ``on_event`` as one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import string
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conformance.hl7_validate import first_fault
from conformance.mllp import ExchangeFailed, answer_frames, mllp_exchange
from mapping.fhir.cer_to_query import submit_body_to_ask
from mapping.hl7v2.er7 import Delimiters, Message, segment
from mapping.hl7v2.err import err_segment
from mapping.hl7v2.inbound_charset import codec_for, decode, sniff_charset_field
from mapping.hl7v2.msh import hl7_timestamp, reply_msh
from rights.catalogue import RegimeCatalogue
from rights.errors import MessageError, ParseError, ResourceError
from rights.model import Requester

__all__ = ["SimulatedGateway"]

FHIR_JSON = "application/fhir+json"
# Fault.check → OperationOutcome issue type, as the gateway's HTTP edge maps them.
_ISSUE_TYPE = {
    "required": "required",
    "reference": "not-found",
    "structure": "structure",
    "code": "code-invalid",
}


def _fixture(name: str) -> bytes:
    return resources.files("conformance").joinpath("fixtures", "simulator", name).read_bytes()


class SimulatedGateway:
    def __init__(
        self,
        *,
        catalogue: RegimeCatalogue,
        requester: Requester,
        today: Callable[[], date],
        bus: tuple[str, int] | None = None,
        on_event: Callable[[str], None] = lambda _line: None,
        timeout: float = 10.0,
    ) -> None:
        self._catalogue = catalogue
        self._requester = requester
        self._today = today
        self._bus = bus
        self._say = on_event
        self._timeout = timeout
        self._numbers = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self.acks: dict[str, int] = {"AA": 0, "AE": 0, "AR": 0}  # admissions
        self.queries = 0  # RQI^I01 answered

    # MLLP ---------------------------------------------------------------------------------

    async def start_mllp(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._connection, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        await asyncio.gather(*self._sending, return_exceptions=True)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await answer_frames(reader, writer, self.acknowledge)

    def acknowledge(self, raw: bytes) -> bytes:
        """The ACK the gateway would send for ``raw``; after an AA, the result to the bus."""
        error = first_fault(
            raw, catalogue=self._catalogue, requester=self._requester, today=self._today()
        )
        code = "AA" if error is None else error.acknowledgment
        message = _parsed(raw)
        if error is None and message is not None and message.message_code == "RQI":
            self.queries += 1
            self._say(f"AA RQI^I01 {message.msh.value(10)}: simulated RPI^I01")
            return self._rpi(message, raw)
        self.acks[code] = self.acks.get(code, 0) + 1
        d = message.delimiters if message is not None else Delimiters()
        msh = message.msh if message is not None else None
        control = msh.value(10) if msh is not None else ""
        ack = "\r".join(
            [
                reply_msh(
                    d,
                    sending_application=msh.field(5) if msh is not None else "CDR-GATEWAY",
                    sending_facility=msh.field(6) if msh is not None else "CDR",
                    receiving_application=msh.field(3) if msh is not None else "",
                    receiving_facility=msh.field(4) if msh is not None else "",
                    timestamp=hl7_timestamp(datetime.now(UTC)),
                    message_type=d.component.join(("ACK", message.trigger, "ACK"))
                    if message is not None and message.trigger
                    else "ACK",
                    control_id=f"SIMACK{next(self._numbers):08d}",
                    processing_id=msh.field(11) if msh is not None else "P",
                    version=msh.field(12) if msh is not None else "2.5",
                    charset_field="",
                ),
                segment("MSA", code, control, d=d),
                *([err_segment(error, d)] if error is not None else []),
            ]
        )
        if error is None:
            self._say(f"AA {_kind(message)} {control}")
            if self._bus is not None and message is not None:
                task = asyncio.get_running_loop().create_task(self._send_result(message))
                self._sending.add(task)
                task.add_done_callback(self._sending.discard)
        else:
            where = f" at {error.location}" if error.location else ""
            self._say(f"{code} {error.code}{where} {_kind(message)} {control}: {error.message}")
        return (ack + "\r").encode("ascii", errors="replace")

    def _rpi(self, query: Message, raw: bytes) -> bytes:
        """The ``simulator/rpi-i01.hl7`` fixture answering ``query``, in the query's charset
        (its PRD and PID copied, its MSH-10 in MSA-2 and ZRD-7)."""
        msh, pid, prd = query.msh, query.first("PID"), query.first("PRD")
        codec = codec_for(sniff_charset_field(raw))
        text = string.Template(_fixture("rpi-i01.hl7").decode("utf-8")).substitute(
            SENDING_APP=msh.field(5),
            SENDING_FACILITY=msh.field(6),
            RECEIVING_APP=msh.field(3),
            RECEIVING_FACILITY=msh.field(4),
            TIMESTAMP=hl7_timestamp(datetime.now(UTC)),
            CONTROL_ID=f"SIMRPI{next(self._numbers):08d}",
            PROCESSING=msh.field(11) or "P",
            VERSION=msh.field(12) or "2.5",
            CHARSET=msh.field(18),
            QUERY_ID=msh.value(10),
            PRD=prd.text if prd is not None else "PRD|",
            PID=pid.text if pid is not None else "PID|1",
            NAME=_name(query),
            DATE=self._today().strftime("%Y%m%d"),
        )
        return text.encode(codec, errors="replace")

    async def _send_result(self, admission: Message) -> None:
        assert self._bus is not None
        msh, pid = admission.msh, admission.first("PID")
        now = datetime.now(UTC)
        nir = pid.value(3, 1) if pid is not None else ""
        text = string.Template(_fixture("result-a31.hl7").decode("iso8859-15")).substitute(
            RECEIVING_APP=msh.field(3),
            RECEIVING_FACILITY=msh.field(4),
            TIMESTAMP=hl7_timestamp(now),
            CONTROL_ID=f"SIMRES{next(self._numbers):08d}",
            PROCESSING=msh.field(11) or "P",
            PID=pid.text if pid is not None else "PID|1",
            NAME=_name(admission),
            BILLING_NIR=f"{nir}^^^ASIP-SANTE-NIR&1.2.250.1.213.1.4.8&ISO^SS" if nir else "",
            DATE=self._today().strftime("%Y%m%d"),
            ADMISSION_ID=msh.value(10),
        )
        host, port = self._bus
        try:
            reply = await mllp_exchange(
                host, port, text.encode("iso8859-15", errors="replace"), timeout=self._timeout
            )
        except ExchangeFailed as exc:
            self._say(f"result for {msh.value(10)} not delivered: {exc.message}")
            return
        answer = _parsed(reply)
        msa = answer.first("MSA") if answer is not None else None
        said = msa.value(1) if msa is not None else "?"
        self._say(f"result for {msh.value(10)} sent to {host}:{port}: {said}")

    # FHIR ---------------------------------------------------------------------------------

    def fhir_app(self) -> Starlette:
        async def submit(request: Request) -> Response:
            raw = await request.body()
            status, body = self.answer_submit(raw)
            return Response(
                json.dumps(body, ensure_ascii=False), status_code=status, media_type=FHIR_JSON
            )

        async def metadata(_request: Request) -> Response:
            return JSONResponse(
                {
                    "resourceType": "CapabilityStatement",
                    "status": "active",
                    "date": self._today().isoformat(),
                    "kind": "instance",
                    "fhirVersion": "4.0.1",
                    "format": ["json"],
                    "software": {"name": "cdr conformance simulate gateway"},
                },
                media_type=FHIR_JSON,
            )

        return Starlette(
            routes=[
                Route("/fhir/CoverageEligibilityRequest/$submit", submit, methods=["POST"]),
                Route("/fhir/metadata", metadata, methods=["GET"]),
            ]
        )

    def answer_submit(self, raw: bytes) -> tuple[int, dict[str, Any]]:
        try:
            body = json.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            self._say(f"FHIR 400 $submit: body is not JSON ({exc})")
            return 400, _outcome([_issue("structure", f"body is not valid JSON: {exc}", "")])
        if not isinstance(body, dict):
            self._say("FHIR 400 $submit: body is not a JSON object")
            return 400, _outcome([_issue("structure", "body must be a JSON object", "")])
        try:
            submit_body_to_ask(
                body,
                catalogue=self._catalogue,
                today=self._today(),
                default_requester=self._requester,
            )
        except ResourceError as exc:
            status = 422 if all(f.rule for f in exc.faults) else 400
            issues = [
                _issue(_ISSUE_TYPE.get(f.check, "value"), f"{f.message} [{f.check}]", f.expression)
                for f in exc.faults
            ]
            self._say(f"FHIR {status} $submit: {exc.message}")
            return status, _outcome(issues)
        text = string.Template(_fixture("cer-response.json").decode("utf-8")).substitute(
            ID=f"simulated-{next(self._numbers)}",
            CREATED=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        self._say("FHIR 200 $submit: simulated answer, rights in force")
        answer: dict[str, Any] = json.loads(text)
        if _asked_in_a_bundle(body):
            # docs/fhir-profile.md: a Bundle input (bare or in Parameters) is answered by a
            # collection Bundle holding the response.
            entry = {"fullUrl": f"urn:uuid:{uuid.uuid4()}", "resource": answer}
            return 200, {"resourceType": "Bundle", "type": "collection", "entry": [entry]}
        return 200, answer


def _asked_in_a_bundle(body: dict[str, Any]) -> bool:
    if body.get("resourceType") == "Bundle":
        return True
    if body.get("resourceType") != "Parameters":
        return False
    parameters = body.get("parameter")
    return any(
        isinstance(p, dict)
        and isinstance(p.get("resource"), dict)
        and p["resource"].get("resourceType") == "Bundle"
        for p in (parameters if isinstance(parameters, list) else [])
    )


def _issue(code: str, diagnostics: str, expression: str) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": "error", "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = [expression]
    return issue


def _outcome(issues: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": issues}


def _parsed(raw: bytes) -> Message | None:
    """The message, or, when its bytes do not read in its charset, its MSH alone read as
    Latin-1 (as the gateway reads it to answer: MSA-2 still echoes MSH-10); None without one."""
    try:
        return Message.parse(decode(raw, codec_for(sniff_charset_field(raw))))
    except (MessageError, ParseError):
        first_line = raw.decode("latin-1").replace("\n", "\r").split("\r", 1)[0]
        try:
            return Message.parse(first_line)
        except ParseError:
            return None


def _name(message: Message) -> str:
    """PID-5's first name as family^given, for IN1-16 (the patient as the ouvrant droit)."""
    pid = message.first("PID")
    if pid is None:
        return ""
    d = message.delimiters
    first = pid.field(5).split(d.repetition)[0]
    return d.component.join(first.split(d.component)[:2])


def _kind(message: Message | None) -> str:
    if message is None:
        return "(unreadable)"
    return f"{message.message_code}^{message.trigger}"
