"""The audit trail's events, made for the stores that append them (docs/security.md "Audit").

Every lookup's event is appended in the transaction of its lookup record, whatever the entry
(``SqlLookupStore`` for HL7, RQI and the command line; ``SqlAnswerStore`` for `$submit`); a
refused request, which stores nothing else, is appended on its own, refusals arriving together
in one transaction (``GroupCommit``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from cdr.storage.audit import SqlAuditTrail
from cdr.storage.audit_chain import AuditDraft, draft
from cdr.storage.writer import GroupCommit
from mapping.fhir.audit_event import lookup_audit_event, refusal_audit_event
from rights.caller import Caller
from rights.errors import CdrError
from rights.result import LookupReport

__all__ = ["Auditor", "observer_name"]

log = logging.getLogger("cdr.audit")


def observer_name() -> str:
    """How the trail names this gateway (AuditEvent.source.observer)."""
    return f"cdr-gateway@{socket.gethostname()}"


class Auditor:
    def __init__(
        self,
        trail: SqlAuditTrail,
        *,
        observer: str,
        structure_finess: str,
        now: Callable[[], datetime],
        run: Callable[..., Awaitable[Any]] = asyncio.to_thread,
    ) -> None:
        self.trail = trail
        self._observer = observer
        self._structure = structure_finess
        self._now = now
        self._run = run
        # One per event loop (a GroupCommit is bound to one): the HTTP app's and the HL7
        # side's, which may run on a thread of its own.
        self._refusals: dict[asyncio.AbstractEventLoop, GroupCommit[AuditDraft, None]] = {}

    def lookup(self, report: LookupReport, caller: Caller, lookup_id: str) -> AuditDraft:
        return draft(
            lookup_audit_event(report, caller, lookup_id=lookup_id, observer=self._observer)
        )

    def refusal(
        self, caller: Caller, reason: str, *, interaction: str | None, target: str | None = None
    ) -> AuditDraft:
        return draft(
            refusal_audit_event(
                caller,
                recorded=self._now(),
                reason=reason,
                structure_finess=self._structure,
                observer=self._observer,
                interaction=interaction,
                target=target,
            )
        )

    async def refused(
        self, caller: Caller, reason: str, *, interaction: str | None, target: str | None = None
    ) -> None:
        """A refused request recorded; a failure to record it is logged, never raised into
        the refusal being answered."""
        loop = asyncio.get_running_loop()
        commits = self._refusals.get(loop)
        if commits is None:
            commits = self._refusals[loop] = GroupCommit(self._record, self._run)
        try:
            await commits.submit(
                self.refusal(caller, reason, interaction=interaction, target=target)
            )
        except CdrError as exc:
            log.error("could not audit a refusal (%s): %s", reason, exc.message)

    def _record(self, drafts: Sequence[AuditDraft]) -> list[None]:
        self.trail.record(drafts)
        return [None] * len(drafts)
