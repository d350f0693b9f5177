"""Logging in and out: Pro Santé Connect (OpenID Connect code flow with PKCE, state and nonce,
through authlib; the ID token checked against the provider's JWKS) and, later, the CPx card.

The card hook: the desk's card agent (``cdr card agent``, ``card/agent.py``: loopback, the
portal's origin only) signs a challenge the login page gets from the portal, after the PIN is
typed into the agent (never sent to the gateway). A ``CardLogin`` given to ``create_portal``
names the agent for the page (and for the Content-Security-Policy's ``connect-src``) and turns
the agent's ``POST /login`` answer, posted back by the page, into a ``Professional``; then
``session.log_in`` opens the session exactly as the PSC callback does below. Until then the
page says that no card agent was detected.
"""

from __future__ import annotations

import json
import logging
import secrets
import warnings
from collections.abc import Mapping
from typing import Any, Protocol

import authlib.deprecate
import httpx
from joserfc.errors import JoseError

with warnings.catch_warnings():
    # Authlib prefers the httpx2 fork and says so when it falls back to httpx, the HTTP client
    # of the whole gateway, which we use on purpose: nothing to act on. (Its own module adds
    # an "always" filter when imported, hence the import above and this filter after it.)
    warnings.filterwarnings(
        "ignore",
        message="The httpx module is deprecated",
        category=authlib.deprecate.AuthlibDeprecationWarning,
    )
    from authlib.integrations.starlette_client import OAuth, OAuthError
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from fhir_server.portal.config import PscConfig
from fhir_server.portal.context import PortalContext
from fhir_server.portal.professional import Professional, professional_from_userinfo
from fhir_server.portal.session import check_csrf, log_in, log_out, session_state
from rights.errors import AuthError

__all__ = ["PSC_CALLBACK_PATH", "CardLogin", "LoginPages", "psc_client"]

PSC_CALLBACK_PATH = "/connexion/psc/retour"
log = logging.getLogger("cdr.portal")

_MESSAGES = {
    "expiree": "Votre session a expiré après une période d'inactivité : reconnectez-vous.",
    "csrf": "Le formulaire a expiré ou ne vient pas de ce portail : recommencez.",
    "psc": "La connexion par Pro Santé Connect n'a pas abouti. Réessayez ; si le problème "
    "persiste, contactez l'assistance.",
    "refus": "La connexion a été refusée dans l'application e-CPS.",
    "deconnecte": "Vous êtes déconnecté.",
    "carte-retiree": "La carte a été retirée du lecteur : la session est fermée.",
}


class CardLogin(Protocol):
    """Where the card login plugs in (docs/decisions/0012-staff-portal.md)."""

    def agent_url(self) -> str | None:
        """The desk's card agent as the page reaches it (``http://127.0.0.1:8765``)."""
        ...

    async def professional(self, challenge: str, answer: Mapping[str, Any]) -> Professional:
        """The holder of the card that signed ``challenge`` (the one this session was given),
        from the agent's ``POST /login`` answer (holder, certificates, signature): the
        signature checked with the authentication certificate, the chain against the trusted
        IGC-Santé CAs and their CRLs; ``AuthError`` when any of it fails."""
        ...


def psc_client(config: PscConfig) -> Any:
    oauth = OAuth()
    oauth.register(
        name="psc",
        server_metadata_url=config.metadata_url,
        client_id=config.client_id,
        client_secret=config.client_secret,
        # PSC asks scope_all and eIDAS substantial assurance (reference card.md §3).
        client_kwargs={"scope": "openid scope_all", "code_challenge_method": "S256"},
    )
    return oauth.create_client("psc")


_CARD_CHALLENGE = "card_challenge"
# The card login's refusals as the page shows them (``card.login`` codes).
_CARD_MESSAGES = {
    "off": "La connexion par carte n'est pas proposée par ce portail.",
    "bad": "La réponse de l'agent de carte est illisible : recommencez.",
    "challenge": "La demande de connexion a expiré : recommencez.",
    "refused": "La carte n'a pas permis la connexion.",
    "untrusted": "Le certificat de la carte n'est pas émis par une autorité reconnue.",
    "revoked": "Le certificat de la carte est révoqué : contactez l'assistance.",
    "certificate-expired": "Le certificat de la carte n'est pas en cours de validité.",
    "wrong-usage": "Ce certificat n'est pas le certificat d'authentification de la carte.",
    "bad-signature": "La signature de la carte ne correspond pas : recommencez.",
    "bad-certificate": "Le certificat de la carte est illisible.",
    "bad-answer": "La réponse de l'agent de carte est incomplète : recommencez.",
}


class LoginPages:
    def __init__(self, portal: PortalContext, card: CardLogin | None = None) -> None:
        self.portal = portal
        self.card = card
        self.client = psc_client(portal.config.psc)

    def _page(self, request: Request, message: str | None, status: int = 200) -> Response:
        return self.portal.render(
            request,
            "login.html",
            status,
            message=message,
            card_agent=None if self.card is None else self.card.agent_url(),
        )

    async def login(self, request: Request) -> Response:
        state = session_state(request, self.portal.clock(), self.portal.config.idle_timeout_s)
        if state.user is not None:
            return RedirectResponse("/", status_code=303)
        key = next((k for k in _MESSAGES if k in request.query_params), None)
        return self._page(request, None if key is None else _MESSAGES[key])

    async def start_psc(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if not check_csrf(request, form):
            return self._page(request, _MESSAGES["csrf"], 400)
        public = self.portal.config.public_url
        redirect_uri = (
            str(request.url_for("psc_callback")) if public is None else public + PSC_CALLBACK_PATH
        )
        try:
            response: Response = await self.client.authorize_redirect(
                request, redirect_uri, acr_values="eidas1"
            )
        except (OAuthError, httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("Pro Santé Connect unreachable: %s", exc)
            return self._page(request, _MESSAGES["psc"], 502)
        return response

    async def psc_callback(self, request: Request) -> Response:
        if request.query_params.get("error") == "access_denied":
            return self._page(request, _MESSAGES["refus"], 401)
        try:
            token = await self.client.authorize_access_token(request)
            if "userinfo" not in token:
                raise OAuthError(description="no ID token in the token response")
            claims = await self.client.userinfo(token=token)
            if claims.get("sub") != token["userinfo"].get("sub"):
                # OIDC Core §5.3.2: UserInfo's sub must be the ID token's.
                raise OAuthError(description="UserInfo names another subject")
            user = professional_from_userinfo(dict(claims))
        except (OAuthError, JoseError, httpx.HTTPError, ValueError, KeyError) as exc:
            log.warning("Pro Santé Connect login failed: %s", exc)
            return self._page(request, _MESSAGES["psc"], 401)
        log_in(request, user, self.portal.clock())
        log.info("portal login: %s (%s)", user.national_id, user.login)
        return RedirectResponse("/", status_code=303)

    async def card_challenge(self, request: Request) -> Response:
        """A fresh challenge for the card to sign, kept in this session for one login."""
        if self.card is None:
            return JSONResponse({"message": _CARD_MESSAGES["off"]}, status_code=404)
        challenge = secrets.token_urlsafe(32)
        request.session[_CARD_CHALLENGE] = challenge
        return JSONResponse({"challenge": challenge}, headers={"Cache-Control": "no-store"})

    async def card_login(self, request: Request) -> Response:
        """The agent's ``/login`` answer, posted back by the page with the form's CSRF token:
        the signature of this session's challenge checked, the session opened."""
        if self.card is None:
            return JSONResponse({"message": _CARD_MESSAGES["off"]}, status_code=404)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("answer"), dict):
            return JSONResponse({"message": _CARD_MESSAGES["bad"]}, status_code=400)
        if not check_csrf(request, {"csrf": str(body.get("csrf", ""))}):
            return JSONResponse({"message": _MESSAGES["csrf"]}, status_code=403)
        challenge = request.session.pop(_CARD_CHALLENGE, None)  # one login per challenge
        if not isinstance(challenge, str):
            return JSONResponse({"message": _CARD_MESSAGES["challenge"]}, status_code=400)
        try:
            user = await self.card.professional(challenge, body["answer"])
        except AuthError as exc:
            log.warning("card login refused: %s", exc.message)
            code = getattr(exc, "code", "")
            message = _CARD_MESSAGES.get(code, _CARD_MESSAGES["refused"])
            return JSONResponse({"message": message}, status_code=401)
        log_in(request, user, self.portal.clock())
        log.info("portal login: %s (%s)", user.national_id, user.login)
        return JSONResponse({"redirect": "/"})

    async def logout(self, request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        if check_csrf(request, form):
            log_out(request)
            return RedirectResponse("/connexion?deconnecte=1", status_code=303)
        return RedirectResponse("/", status_code=303)
