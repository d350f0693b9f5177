"""`$submit`: a CoverageEligibilityRequest in, a CoverageEligibilityResponse (and the resources
it points to) out, everything persisted (IHE ITI-124: the server persists the CER and the
response references it)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from fhir_server.store import AnswerStore, ResourceWrite
from mapping.fhir.cer_stored import request_to_store
from mapping.fhir.cer_to_query import EligibilityAsk, submit_body_to_ask
from mapping.fhir.patient import patient_to_fhir
from mapping.fhir.rights_to_fhir import (
    gateway_organization,
    patient_id,
    pending_response,
    report_to_fhir,
)
from rights.caller import Caller
from rights.catalogue import RegimeCatalogue
from rights.model import Requester, RightsQuery
from rights.result import LookupReport

__all__ = ["SubmitResult", "SubmitService"]

log = logging.getLogger("cdr.fhir")

# Runs the lookup without storing it: its record is stored with the answer, in one transaction.
RunLookup = Callable[[RightsQuery], Awaitable[LookupReport]]


@dataclass(frozen=True, slots=True)
class SubmitResult:
    body: dict[str, Any]  # the CERsp, or a Bundle of type collection for a Bundle input
    response_id: str


class SubmitService:
    def __init__(
        self,
        *,
        catalogue: RegimeCatalogue,
        answers: AnswerStore,
        run_lookup: RunLookup,
        now: Callable[[], datetime],
        today: Callable[[], date],
        default_requester: Requester,
        base_url: str,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self._catalogue = catalogue
        self._answers = answers
        self._run_lookup = run_lookup
        self._now = now
        self._today = today
        self._requester = default_requester
        self._base_url = base_url.rstrip("/")
        self._new_id = new_id
        self._background: set[asyncio.Task[None]] = set()

    async def submit(self, body: Mapping[str, Any], caller: Caller) -> SubmitResult:
        """``caller``: who asked, for the audit trail."""
        ask, cer = self._check(body)
        response_id = self._new_id()
        stored = await self._answer(ask, cer, response_id, caller, fresh=True)
        if not ask.is_bundle:
            return SubmitResult(stored[0], response_id)
        return SubmitResult(self._collection(stored), response_id)

    async def submit_async(self, body: Mapping[str, Any], caller: Caller) -> SubmitResult:
        """`Prefer: respond-async`: check the request now, answer ``queued`` at once, and let
        the lookup complete the same CoverageEligibilityResponse in the background."""
        ask, cer = self._check(body)
        response_id = self._new_id()
        # Until the regimes answer, the Patient is the person as asked; the answer re-points
        # the request and the response at the person as the regimes know them.
        queued = pending_response(
            response_id=response_id,
            request_reference=f"CoverageEligibilityRequest/{cer['id']}",
            patient_reference=cer["patient"]["reference"],
            created=self._now(),
            purposes=ask.purposes,
        )
        # The Patient the queued answer points to exists from now on: the person as asked,
        # unless a lookup already stored that person (then that version stays).
        asked, _ = patient_to_fhir(ask.query, (), ask.patient)
        stored = await self._save(
            [queued, asked, gateway_organization(), cer], new=(queued, cer), if_absent=(asked,)
        )
        task = asyncio.create_task(self._complete(ask, cer, response_id, queued, caller))
        # Keep a reference: the event loop holds only weak ones to running tasks.
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        if not ask.is_bundle:
            return SubmitResult(stored[0], response_id)
        return SubmitResult(self._collection(stored), response_id)

    async def _complete(
        self,
        ask: EligibilityAsk,
        cer: dict[str, Any],
        response_id: str,
        queued: dict[str, Any],
        caller: Caller,
    ) -> None:
        try:
            await self._answer(ask, cer, response_id, caller, fresh=False)
        except Exception:
            log.exception("asynchronous lookup %s failed", response_id)
            failed = {
                **queued,
                "outcome": "error",
                "disposition": "The lookup failed; submit the request again.",
            }
            try:
                await self._save([failed])
            except Exception:  # storage gone too (shutting down): the log is all that is left
                log.exception("could not record the failure of %s", response_id)

    async def drain(self, timeout: float = 10.0) -> None:
        """Let queued lookups finish before the process stops (a bounded wait)."""
        if self._background:
            await asyncio.wait(set(self._background), timeout=timeout)

    def _check(self, body: Mapping[str, Any]) -> tuple[EligibilityAsk, dict[str, Any]]:
        ask = submit_body_to_ask(
            body,
            catalogue=self._catalogue,
            today=self._today(),
            default_requester=self._requester,
        )
        query = ask.query
        return ask, self._request_to_store(
            ask, patient_id(query.nir.value, query.birth_date, query.rang)
        )

    async def _answer(
        self,
        ask: EligibilityAsk,
        cer: dict[str, Any],
        response_id: str,
        caller: Caller,
        *,
        fresh: bool,
    ) -> list[dict[str, Any]]:
        """``fresh``: the CER and the CERsp are not stored yet; an asynchronous `$submit`
        stored them when it answered ``queued``."""
        report = await self._run_lookup(ask.query)
        answer = report_to_fhir(
            report,
            catalogue=self._catalogue,
            response_id=response_id,
            request_reference=f"CoverageEligibilityRequest/{cer['id']}",
            created=self._now(),
            purposes=ask.purposes,
            submitted_patient=ask.patient,
        )
        cer["patient"] = answer.response["patient"]
        return await self._save(
            [
                answer.response,
                answer.patient,
                *answer.coverages,
                *answer.organizations,
                *answer.practitioners,
                cer,
            ],
            report=report,
            caller=caller,
            new=(answer.response, cer) if fresh else (),
        )

    def _request_to_store(self, ask: EligibilityAsk, our_patient_id: str) -> dict[str, Any]:
        # Point at the Patient we keep (one per person), so that searches by patient work;
        # this is the person as asked, replaced by the person as answered with the answer.
        # Every other reference resolves too: what a Bundle sent beside the request is
        # contained in it (mapping.fhir.cer_stored).
        return request_to_store(
            ask.cer,
            request_id=self._new_id(),
            patient_reference=f"Patient/{our_patient_id}",
            referenced=ask.referenced,
        )

    async def _save(
        self,
        resources: list[dict[str, Any]],
        *,
        report: LookupReport | None = None,
        caller: Caller | None = None,
        new: tuple[dict[str, Any], ...] = (),
        if_absent: tuple[dict[str, Any], ...] = (),
    ) -> list[dict[str, Any]]:
        """Stored, with the lookup record if any, in one transaction; ``new`` are resources
        whose ids were just made here (nothing stored to compare them with), ``if_absent``
        placeholders that must not replace a stored version."""
        # No index here: the store derives it for the resources it writes, not the unchanged.
        writes = [
            ResourceWrite(r, new=any(r is n for n in new), if_absent=any(r is a for a in if_absent))
            for r in resources
        ]
        return [s.resource for s in await self._answers.save(writes, report, caller)]

    def _collection(self, resources: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "resourceType": "Bundle",
            "id": self._new_id(),
            "type": "collection",
            "timestamp": self._now().isoformat(),
            "entry": [
                {
                    "fullUrl": f"{self._base_url}/{r['resourceType']}/{r['id']}",
                    "resource": r,
                }
                for r in resources
            ],
        }
