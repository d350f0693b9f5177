"""The pages around the consultation: home, terms of use, regime guides, assistance."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from fhir_server.portal.context import PortalContext
from fhir_server.portal.guides import guide_for
from fhir_server.portal.labels import french_date
from fhir_server.portal.lookup_form import DISCOVERY
from fhir_server.portal.session import check_csrf, remember_terms, session_state
from rights.errors import UnknownRegimeError

__all__ = ["Pages"]

RECENT_SHOWN = 10


class Pages:
    def __init__(self, portal: PortalContext) -> None:
        self.portal = portal

    async def home(self, request: Request) -> Response:
        user = await self.portal.signed_in(request)
        if isinstance(user, Response):
            return user
        recent = await self.portal.blocking(self.portal.recent.recent, user.rpps, RECENT_SHOWN)
        labels = {r.code: r.label for r in self.portal.catalogue}
        return self.portal.render(
            request,
            "home.html",
            regimes=list(self.portal.catalogue),
            discovery=DISCOVERY,
            recent=[
                {
                    "id": r.lookup_id,
                    "when": r.created_at.astimezone(self.portal.now().tzinfo).strftime(
                        "%d/%m/%Y %H:%M"
                    ),
                    "nir": r.nir_masked,
                    "regime": "régime inconnu" if r.regime is None else labels.get(r.regime, ""),
                    "in_force": r.in_force,
                }
                for r in recent
            ],
            today=french_date(self.portal.today()),
        )

    async def terms(self, request: Request) -> Response:
        state = session_state(request, self.portal.clock(), self.portal.config.idle_timeout_s)
        accepted = False
        if state.user is not None:
            accepted = await self.portal.blocking(
                self.portal.acceptances.has_accepted,
                state.user.national_id,
                self.portal.terms.version,
            )
        return self.portal.render(
            request, "cgu.html", terms=self.portal.terms, accepted=accepted, message=None
        )

    async def accept_terms(self, request: Request) -> Response:
        state = session_state(request, self.portal.clock(), self.portal.config.idle_timeout_s)
        if state.user is None:
            return RedirectResponse(
                "/connexion?expiree=1" if state.expired else "/connexion", status_code=303
            )
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if not check_csrf(request, form):
            message = "Le formulaire a expiré ou ne vient pas de ce portail : recommencez."
        elif form.get("accept") != "oui" or form.get("version") != self.portal.terms.version:
            message = (
                "Pour utiliser le portail, cochez la case d'acceptation des conditions "
                "générales d'utilisation."
            )
        else:
            await self.portal.blocking(
                self.portal.acceptances.accept,
                state.user.national_id,
                self.portal.terms.version,
                self.portal.now(),
            )
            remember_terms(request, self.portal.terms.version)
            return RedirectResponse("/", status_code=303)
        return self.portal.render(
            request, "cgu.html", 400, terms=self.portal.terms, accepted=False, message=message
        )

    async def guide(self, request: Request) -> Response:
        code = request.path_params["regime"]
        try:
            regime = self.portal.catalogue.get(code)
        except UnknownRegimeError:
            return self.portal.render(request, "not_found.html", 404)
        return self.portal.render(request, "guide.html", guide=guide_for(regime))

    async def assistance(self, request: Request) -> Response:
        return self.portal.render(request, "assistance.html")

    async def not_found(self, request: Request) -> Response:
        return self.portal.render(request, "not_found.html", 404)
