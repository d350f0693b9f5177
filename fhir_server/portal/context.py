"""Everything the portal's handlers share, built once by ``create_portal``."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from fhir_server.portal.config import PortalConfig
from fhir_server.portal.ports import RecentLookups, RunLookup, StoredReports, TermsAcceptances
from fhir_server.portal.professional import Professional
from fhir_server.portal.session import csrf_token, remember_terms, session_state
from fhir_server.portal.terms import Terms
from rights.catalogue import RegimeCatalogue
from rights.result import LookupReport

__all__ = ["PortalContext", "ReportCache", "StoredResult"]

TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class StoredResult:
    owner: str  # national id of the professional who asked: nobody else sees it
    report: LookupReport
    asked_at: datetime


class ReportCache:
    """The latest reports of this process, for the result page and its attestation (bounded:
    the oldest go first). The lookup itself is stored and audited by the gateway."""

    def __init__(self, size: int = 500) -> None:
        self._items: OrderedDict[str, StoredResult] = OrderedDict()
        self._size = size

    def put(self, lookup_id: str, item: StoredResult) -> None:
        self._items[lookup_id] = item
        self._items.move_to_end(lookup_id)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def get(self, lookup_id: str, owner: str) -> StoredResult | None:
        item = self._items.get(lookup_id)
        return item if item is not None and item.owner == owner else None


@dataclass
class PortalContext:
    config: PortalConfig
    catalogue: RegimeCatalogue
    run_lookup: RunLookup
    acceptances: TermsAcceptances
    recent: RecentLookups
    terms: Terms
    now: Callable[[], datetime]  # aware, in the establishment's zone
    today: Callable[[], date]
    blocking: Callable[..., Any]  # runs a blocking store call off the event loop
    clock: Callable[[], float] = time.time  # the session's idle timeout
    stored: StoredReports | None = None  # results of other processes, or before a restart
    reports: ReportCache = field(default_factory=ReportCache)
    templates: Jinja2Templates = field(
        default_factory=lambda: Jinja2Templates(directory=str(TEMPLATES))
    )

    def render(self, request: Request, name: str, status: int = 200, **values: Any) -> Response:
        state = session_state(request, self.clock(), self.config.idle_timeout_s)
        response = self.templates.TemplateResponse(
            request,
            name,
            {
                "user": state.user,
                "csrf": csrf_token(request),
                "support": self.config.support,
                **values,
            },
            status_code=status,
        )
        # Pages with patients' data are not kept by the browser or a proxy.
        response.headers["Cache-Control"] = "no-store"
        return response

    async def find_result(self, lookup_id: str, user: Professional) -> StoredResult | None:
        """A result of ``user``'s: this process's latest, else read back from the store."""
        kept = self.reports.get(lookup_id, user.national_id)
        if kept is not None or self.stored is None or not user.rpps:
            return kept
        found = await self.blocking(self.stored.report, lookup_id, user.rpps)
        if found is None:
            return None
        report, created = found
        kept = StoredResult(user.national_id, report, created.astimezone(self.now().tzinfo))
        self.reports.put(lookup_id, kept)
        return kept

    async def signed_in(self, request: Request) -> Professional | Response:
        """The logged-in professional who accepted the current CGU, or where to send them."""
        state = session_state(request, self.clock(), self.config.idle_timeout_s)
        if state.user is None:
            target = "/connexion?expiree=1" if state.expired else "/connexion"
            return RedirectResponse(target, status_code=303)
        if state.terms_version != self.terms.version:
            accepted = await self.blocking(
                self.acceptances.has_accepted, state.user.national_id, self.terms.version
            )
            if not accepted:
                return RedirectResponse("/cgu", status_code=303)
            remember_terms(request, self.terms.version)
        return state.user
