"""What happens to an accepted admission after its ACK: the lookup and the messages it yields."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal

from hl7_listener.ports import OutboundMessage, PendingMessage, RelookupRequest
from hl7_listener.relookup_policy import RelookupPolicy, not_asked
from mapping.fhir.rights_to_bundle import rights_to_transaction
from mapping.hl7v2.adt_to_query import Admission, admission_from_message
from mapping.hl7v2.charset import encode_result
from mapping.hl7v2.er7 import Message
from mapping.hl7v2.rights_to_in1 import DEFAULT_RESULT_CHARSET, rights_update_message
from rights.caller import Caller, Entry
from rights.catalogue import RegimeCatalogue
from rights.model import Requester, RightsQuery
from rights.result import LookupReport

__all__ = [
    "AdmissionProcessor",
    "Processed",
    "ResultOptions",
    "RunLookup",
    "is_fhir_destination",
]

# The lookup service: runs the lookup, persists it, returns (lookup id, report).
RunLookup = Callable[[RightsQuery, Caller], Awaitable[tuple[str, LookupReport]]]


@dataclass(frozen=True, slots=True)
class ResultOptions:
    """How the HL7 result for one MLLP destination is written: MSH-18 (a key of
    ``mapping.hl7v2.charset.RESULT_CHARSETS``) and whether ZRD goes with it."""

    charset: str = DEFAULT_RESULT_CHARSET
    zrd: bool = True


@dataclass(frozen=True, slots=True)
class Processed:
    """``final``: the results say so (no later result will follow for this message);
    ``not_asked``: the regimes the lookup could not ask; ``relookup``: the re-lookup to record
    with the first result, when it is not final."""

    lookup_id: str | None
    outbound: tuple[OutboundMessage, ...]
    relookup: RelookupRequest | None = None
    final: bool = True
    not_asked: tuple[str, ...] = ()


class AdmissionProcessor:
    def __init__(
        self,
        *,
        catalogue: RegimeCatalogue,
        requester: Requester,
        run_lookup: RunLookup,
        destinations: Sequence[str],
        kind: Literal["Z99", "A31"],
        application: str,
        facility: str,
        now: Callable[[], datetime],
        new_control_id: Callable[[], str],
        options: Mapping[str, ResultOptions] | None = None,
        relookup: RelookupPolicy | None = None,
        zone: tzinfo = UTC,
    ) -> None:
        self._zone = zone
        self._catalogue = catalogue
        self._requester = requester
        self._run_lookup = run_lookup
        self._destinations = tuple(destinations)
        self._kind = kind
        self._application = application
        self._facility = facility
        self._now = now
        self._new_control_id = new_control_id
        self._options = dict(options or {})
        self._relookup = relookup  # None: a regime that could not be asked is not asked again

    async def __call__(self, pending: PendingMessage) -> Processed:
        """Raises ``CdrError`` when the stored message cannot be processed (the worker marks it
        failed); the lookup itself reports regime failures in its report, it does not raise.

        When a regime could not be asked (and re-lookups are on, and results have somewhere to
        go), the results are marked not final and a re-lookup is requested."""
        message, admission, lookup_id, report = await self._lookup(pending)
        missing = not_asked(report)
        policy = self._relookup
        if not missing or policy is None or not self._destinations:
            outbound = self._results(pending, message, admission, report, final=True)
            return Processed(lookup_id, outbound, not_asked=missing)
        now = self._now()
        deadline = policy.deadline(now)
        relookup = RelookupRequest(
            patient_key=pending.patient_key,
            waiting_for=missing,
            next_attempt_at=policy.next_attempt(attempts=0, now=now, deadline=deadline),
            deadline_at=deadline,
        )
        outbound = self._results(pending, message, admission, report, final=False)
        return Processed(lookup_id, outbound, relookup, final=False, not_asked=missing)

    async def again(self, pending: PendingMessage, *, last: bool) -> Processed:
        """The re-lookup of an admission whose first result was not final. Results only when
        this one is final: every regime answered, or ``last`` (the window ended)."""
        message, admission, lookup_id, report = await self._lookup(pending)
        missing = not_asked(report)
        if missing and not last:
            return Processed(lookup_id, (), final=False, not_asked=missing)
        outbound = self._results(pending, message, admission, report, final=True)
        return Processed(lookup_id, outbound, not_asked=missing)

    async def _lookup(
        self, pending: PendingMessage
    ) -> tuple[Message, Admission, str, LookupReport]:
        message = Message.parse(pending.raw.decode(pending.charset))
        # The date of care defaults to the day the message arrived, not the day it is processed:
        # a message replayed after a restart asks for the same day.
        admission = admission_from_message(
            message,
            catalogue=self._catalogue,
            requester=self._requester,
            today=pending.received_at.astimezone(self._zone).date(),
        )
        # Who asked, for the audit trail: the sending application and facility (MSH-3, MSH-4).
        caller = Caller(Entry.HL7, f"{message.sending_application}^{message.sending_facility}")
        lookup_id, report = await self._run_lookup(admission.query, caller)
        return message, admission, lookup_id, report

    def _results(
        self,
        pending: PendingMessage,
        message: Message,
        admission: Admission,
        report: LookupReport,
        *,
        final: bool,
    ) -> tuple[OutboundMessage, ...]:
        outbound = []
        for destination in self._destinations:
            if is_fhir_destination(destination):
                outbound.append(self._fhir(destination, message, report, final=final))
                continue
            control_id = self._new_control_id()
            options = self._options.get(destination, _DEFAULT_OPTIONS)
            text = rights_update_message(
                message,
                admission,
                report,
                kind=self._kind,
                control_id=control_id,
                now=self._now(),
                sending_application=self._application,
                sending_facility=self._facility,
                catalogue=self._catalogue,
                charset_field=options.charset,
                zrd=options.zrd,
                final=final,
            )
            payload = encode_result(text, options.charset, message.delimiters)
            outbound.append(OutboundMessage(destination, control_id, payload))
        return tuple(outbound)

    def _fhir(
        self, destination: str, message: Message, report: LookupReport, *, final: bool
    ) -> OutboundMessage:
        key = f"{message.sending_application}|{message.sending_facility}|{message.control_id}"
        bundle = rights_to_transaction(
            report, catalogue=self._catalogue, message_key=key, created=self._now(), final=final
        )
        payload = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
        return OutboundMessage(destination, str(bundle["id"]), payload)


_DEFAULT_OPTIONS = ResultOptions()


def is_fhir_destination(destination: str) -> bool:
    """``http(s)://…`` is a FHIR base URL; anything else is ``host:port`` of an MLLP receiver."""
    return destination.startswith(("http://", "https://"))
