"""What happens to an accepted admission after its ACK: the lookup and the messages it yields."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal

from hl7_listener.charset import encode
from hl7_listener.ports import OutboundMessage, PendingMessage
from mapping.adt_to_query import admission_from_message
from mapping.er7 import Message
from mapping.rights_to_bundle import rights_to_transaction
from mapping.rights_to_in1 import rights_update_message
from rights.catalogue import RegimeCatalogue
from rights.model import Requester, RightsQuery
from rights.result import LookupReport

__all__ = ["AdmissionProcessor", "Processed", "RunLookup", "is_fhir_destination"]

# The lookup service: runs the lookup, persists it, returns (lookup id, report).
RunLookup = Callable[[RightsQuery], Awaitable[tuple[str, LookupReport]]]


@dataclass(frozen=True, slots=True)
class Processed:
    lookup_id: str | None
    outbound: tuple[OutboundMessage, ...]


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

    async def __call__(self, pending: PendingMessage) -> Processed:
        """Raises ``CdrError`` when the stored message cannot be processed (the worker marks it
        failed); the lookup itself reports regime failures in its report, it does not raise."""
        message = Message.parse(pending.raw.decode(pending.charset))
        # The date of care defaults to the day the message arrived, not the day it is processed:
        # a message replayed after a restart asks for the same day.
        admission = admission_from_message(
            message,
            catalogue=self._catalogue,
            requester=self._requester,
            today=pending.received_at.astimezone(self._zone).date(),
        )
        lookup_id, report = await self._run_lookup(admission.query)
        outbound = []
        for destination in self._destinations:
            if is_fhir_destination(destination):
                outbound.append(self._fhir(destination, message, report))
                continue
            control_id = self._new_control_id()
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
            )
            outbound.append(OutboundMessage(destination, control_id, encode(text, pending.charset)))
        return Processed(lookup_id, tuple(outbound))

    def _fhir(self, destination: str, message: Message, report: LookupReport) -> OutboundMessage:
        key = f"{message.sending_application}|{message.sending_facility}|{message.control_id}"
        bundle = rights_to_transaction(
            report, catalogue=self._catalogue, message_key=key, created=self._now()
        )
        payload = json.dumps(bundle, ensure_ascii=False, separators=(",", ":")).encode()
        return OutboundMessage(destination, str(bundle["id"]), payload)


def is_fhir_destination(destination: str) -> bool:
    """``http(s)://…`` is a FHIR base URL; anything else is ``host:port`` of an MLLP receiver."""
    return destination.startswith(("http://", "https://"))
