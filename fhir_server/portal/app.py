"""The staff portal's ASGI app (issue 15; docs/decisions/0012-staff-portal.md), mounted at ``/``
beside the FHIR API by the composition root."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_server.portal.attended import AttendedAssertions, CardSignatures
from fhir_server.portal.consult import Consultation
from fhir_server.portal.context import PortalContext
from fhir_server.portal.login import PSC_CALLBACK_PATH, CardLogin, LoginPages
from fhir_server.portal.pages import Pages

__all__ = ["API_PATHS", "SESSION_COOKIE", "PortalMount", "create_portal"]

SESSION_COOKIE = "cdr_portal"
STATIC = Path(__file__).parent / "static"
# The gateway's own endpoints beside the portal: their unknown paths and wrong methods are the
# API's to answer (an OperationOutcome), never a page.
API_PATHS = ("/fhir", "/auth", "/healthz", "/readyz", "/metrics")


class PortalMount(Mount):
    """The portal mounted at ``/`` after the API's routes, claiming no path of ``API_PATHS``."""

    def __init__(self, app: ASGIApp, *, api_paths: tuple[str, ...] = API_PATHS) -> None:
        super().__init__("/", app=app)
        self.api_paths = api_paths

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path: str = scope.get("path", "")
        if any(path == p or path.startswith(p + "/") for p in self.api_paths):
            return Match.NONE, {}
        return super().matches(scope)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class SecurityHeaders:
    """Headers every portal answer carries: no framing (clickjacking), scripts and styles
    from the portal only, forms posted to the portal or to the PSC provider it redirects to
    (browsers check form-action on the redirect too)."""

    def __init__(self, app: ASGIApp, *, psc_issuer: str, card_agent: str | None = None) -> None:
        self.app = app
        # The card agent is on the desk's loopback: the page's scripts call it (fetch, events).
        connect = "'self'" if card_agent is None else f"'self' {_origin(card_agent)}"
        self.headers = [
            (
                b"content-security-policy",
                (
                    "default-src 'self'; img-src 'self' data:; base-uri 'none'; "
                    f"connect-src {connect}; frame-ancestors 'none'; "
                    f"form-action 'self' {_origin(psc_issuer)}"
                ).encode("latin-1"),
            ),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_portal(
    portal: PortalContext,
    *,
    card: CardLogin | None = None,
    signatures: CardSignatures | None = None,
) -> Starlette:
    """``card``: the CPx card login (None: PSC only); ``signatures``: a card session's
    lookups signed by the card (attended mode; None: the structure's calls)."""
    pages = Pages(portal)
    login = LoginPages(portal, card)
    attended = AttendedAssertions(portal, signatures if card is not None else None)
    # Every page of a card session listens to the agent: a card taken out ends the session.
    portal.templates.env.globals["card_agent"] = None if card is None else card.agent_url()
    consult = Consultation(portal, attended)
    portal.templates.env.globals["card_signs"] = attended.signatures is not None

    async def not_found(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException) and exc.status_code == 405:
            return Response("Méthode non permise", 405, media_type="text/plain; charset=utf-8")
        return await pages.not_found(request)

    return Starlette(
        routes=[
            Route("/", pages.home, methods=["GET"]),
            Route("/connexion", login.login, methods=["GET"]),
            Route("/connexion/psc", login.start_psc, methods=["POST"]),
            Route("/connexion/carte/defi", login.card_challenge, methods=["GET"]),
            Route("/connexion/carte", login.card_login, methods=["POST"]),
            Route(PSC_CALLBACK_PATH, login.psc_callback, methods=["GET"], name="psc_callback"),
            Route("/deconnexion", login.logout, methods=["POST"]),
            Route("/cgu", pages.terms, methods=["GET"]),
            Route("/cgu", pages.accept_terms, methods=["POST"]),
            Route("/assistance", pages.assistance, methods=["GET"]),
            Route("/guides/{regime}", pages.guide, methods=["GET"]),
            Route("/consultation/assertion", attended.issue, methods=["POST"]),
            Route("/consultation/{regime}", consult.form, methods=["GET"]),
            Route("/consultation/{regime}", consult.submit, methods=["POST"]),
            Route("/consultations/{lookup_id}", consult.result, methods=["GET"]),
            Route(
                "/consultations/{lookup_id}/attestation.pdf", consult.attestation, methods=["GET"]
            ),
            Mount("/static", app=StaticFiles(directory=str(STATIC)), name="static"),
        ],
        middleware=[
            Middleware(
                SecurityHeaders,
                psc_issuer=portal.config.psc.issuer,
                card_agent=None if card is None else card.agent_url(),
            ),
            Middleware(
                SessionMiddleware,
                secret_key=portal.config.session_secret,
                session_cookie=SESSION_COOKIE,
                # The idle timeout is ours (checked on each request); the cookie outlives it
                # only so that an expired session can be told apart from no session at all.
                max_age=portal.config.idle_timeout_s * 4,
                same_site="lax",
                https_only=portal.config.https_only,
            ),
        ],
        exception_handlers={404: not_found, 405: not_found},
    )
