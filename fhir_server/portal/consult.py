"""The consultation: the form, the lookup through the gateway's lookup service (the same as
every other entry, audited with the professional as the requester), the result and its
printable attestation."""

from __future__ import annotations

import contextlib
import logging
from contextlib import AbstractContextManager

from starlette.requests import Request
from starlette.responses import Response

from fhir_server.portal.attended import AttendedAssertions, SignatureMissing
from fhir_server.portal.attestation import attestation_pdf
from fhir_server.portal.context import PortalContext, StoredResult
from fhir_server.portal.lookup_form import DISCOVERY, LookupForm, nir_preview
from fhir_server.portal.professional import Professional
from fhir_server.portal.session import check_csrf
from fhir_server.portal.views import result_view
from rights.caller import Caller, Entry, Person
from rights.catalogue import Regime
from rights.errors import CdrError, UnknownRegimeError
from rights.model import Requester

__all__ = ["Consultation"]

log = logging.getLogger("cdr.portal")

_CSRF_MESSAGE = (
    "Le formulaire a expiré ou ne vient pas de ce portail : vérifiez la saisie et relancez."
)
_FAILED_MESSAGE = (
    "La consultation n'a pas pu être enregistrée. Réessayez ; si le problème persiste, "
    "contactez l'assistance."
)


class Consultation:
    def __init__(self, portal: PortalContext, attended: AttendedAssertions | None = None) -> None:
        self.portal = portal
        self.attended = attended or AttendedAssertions(portal, None)

    def _regime(self, request: Request) -> Regime | Response | None:
        code = request.path_params["regime"]
        if code == DISCOVERY:
            return None
        try:
            return self.portal.catalogue.get(code)
        except UnknownRegimeError:
            return self.portal.render(request, "not_found.html", 404)

    def _form_page(
        self,
        request: Request,
        regime: Regime | None,
        form: LookupForm,
        *,
        status: int = 200,
        message: str | None = None,
        outcome: object = None,
    ) -> Response:
        return self.portal.render(
            request,
            "form.html",
            status,
            regime=regime,
            regime_path=DISCOVERY if regime is None else regime.code,
            form=form,
            preview=nir_preview(form.nir) if form.nir else None,
            message=message,
            outcome=outcome,
        )

    async def form(self, request: Request) -> Response:
        user = await self.portal.signed_in(request)
        if isinstance(user, Response):
            return user
        regime = self._regime(request)
        if isinstance(regime, Response):
            return regime
        return self._form_page(request, regime, LookupForm.from_fields({}, self.portal.today()))

    async def submit(self, request: Request) -> Response:
        user = await self.portal.signed_in(request)
        if isinstance(user, Response):
            return user
        regime = self._regime(request)
        if isinstance(regime, Response):
            return regime
        fields = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        today = self.portal.today()
        form = LookupForm.from_fields(fields, today)
        if not check_csrf(request, fields):
            return self._form_page(request, regime, form, status=400, message=_CSRF_MESSAGE)
        query = form.to_query(
            None if regime is None else regime.code,
            self.portal.catalogue,
            _requester(user, self.portal.config.structure_finess),
            today,
        )
        if query is None:
            return self._form_page(
                request,
                regime,
                form,
                status=422,
                message="La saisie contient des erreurs : corrigez les champs signalés.",
            )
        # The professional logged in asks (attended), named in the audit trail as such; with
        # PSC, their identity comes from the provider, not from a card signature.
        caller = Caller(
            entry=Entry.PORTAL,
            client=f"{user.login}:{user.national_id}",
            address=request.client.host if request.client else None,
            person=Person(user.national_id, user.display_name, user.profession),
        )
        signed: AbstractContextManager[None] = contextlib.nullcontext()
        if self.attended.required(user):
            try:
                signed = self.attended.acting(request, fields)
            except SignatureMissing as exc:
                message = f"Consultation non envoyée : {exc.message}. Recommencez."
                return self._form_page(request, regime, form, status=401, message=message)
        try:
            with signed:
                lookup_id, report = await self.portal.run_lookup(query, caller)
        except CdrError as exc:
            log.error("portal lookup failed: %s", exc.message)
            return self._form_page(request, regime, form, status=503, message=_FAILED_MESSAGE)
        asked_at = self.portal.now()
        self.portal.reports.put(lookup_id, StoredResult(user.national_id, report, asked_at))
        view = result_view(lookup_id, report, self.portal.catalogue, asked_at)
        if not view.any_found:
            # Unknown person or regime down: the form again, as typed, with what happened.
            return self._form_page(request, regime, form, message=view.headline, outcome=view)
        return self.portal.render(request, "result.html", view=view, regime=regime)

    async def result(self, request: Request) -> Response:
        user = await self.portal.signed_in(request)
        if isinstance(user, Response):
            return user
        stored = await self.portal.find_result(request.path_params["lookup_id"], user)
        if stored is None:
            return self.portal.render(request, "not_found.html", 404, lookup=True)
        view = result_view(
            request.path_params["lookup_id"],
            stored.report,
            self.portal.catalogue,
            stored.asked_at,
        )
        asked = stored.report.query.regime
        regime = None if asked is None else self.portal.catalogue.get(asked)
        return self.portal.render(request, "result.html", view=view, regime=regime)

    async def attestation(self, request: Request) -> Response:
        user = await self.portal.signed_in(request)
        if isinstance(user, Response):
            return user
        lookup_id = request.path_params["lookup_id"]
        stored = await self.portal.find_result(lookup_id, user)
        if stored is None:
            return self.portal.render(request, "not_found.html", 404, lookup=True)
        view = result_view(lookup_id, stored.report, self.portal.catalogue, stored.asked_at)
        pdf = attestation_pdf(view, user, self.portal.config.structure_finess)
        return Response(
            pdf,
            media_type="application/pdf",
            headers={
                "Content-Disposition": f'attachment; filename="attestation-{lookup_id}.pdf"',
                "Cache-Control": "no-store",
            },
        )


def _requester(user: Professional, default_finess: str) -> Requester:
    # The structure the gateway acts for (its certificate, its eligibility) asks; the
    # professional is named so that the audit trail shows who it was.
    return Requester(finess=default_finess, rpps=user.rpps or None, label=user.display_name)
