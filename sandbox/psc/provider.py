"""The sandbox's OpenID provider, shaped like Pro Santé Connect (reference card.md §3).

Authorization code flow only, PKCE (S256) required, confidential clients authenticated by
client_secret (basic or post): what the portal needs, nothing more. The e-CPS approval on the
professional's phone is simulated by a page listing the synthetic professionals.

Redirect URIs: a client's registered URIs, and, when ``loopback_redirects`` is set, any
``http`` URI on a loopback address with the registered path (RFC 8252 §7.3: the port of a
loopback redirect may vary, here because tests bind port 0).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.psc.authorize_page import approval_page
from sandbox.psc.people import PROFESSIONALS, Professional, find_professional

__all__ = ["PscClient", "create_psc_app"]

CODE_TTL_S = 60
TOKEN_TTL_S = 300
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "[::1]", "::1"})


@dataclass(frozen=True, slots=True)
class PscClient:
    client_id: str
    secret: str
    redirect_uris: tuple[str, ...]
    loopback_redirects: bool = False

    def accepts(self, uri: str) -> bool:
        if uri in self.redirect_uris:
            return True
        if not self.loopback_redirects:
            return False
        parts = urlsplit(uri)
        registered = {urlsplit(r).path for r in self.redirect_uris}
        return parts.scheme == "http" and parts.hostname in _LOOPBACK and parts.path in registered


@dataclass(frozen=True, slots=True)
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    professional: Professional
    expires: float
    auth_time: int


@dataclass
class _State:
    clients: Mapping[str, PscClient]
    key: rsa.RSAPrivateKey
    kid: str
    now: Callable[[], float]
    codes: dict[str, _Grant] = field(default_factory=dict)
    tokens: dict[str, tuple[Professional, float]] = field(default_factory=dict)

    def purge(self) -> None:
        moment = self.now()
        for code in [c for c, g in self.codes.items() if g.expires < moment]:
            del self.codes[code]
        for token in [t for t, (_, exp) in self.tokens.items() if exp < moment]:
            del self.tokens[token]


def _oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _issuer(request: Request) -> str:
    # The issuer is where the provider is reached: the sandbox's address, which the gateway
    # and the browser both use (a loopback address in the embedded default).
    root: str = request.scope.get("root_path", "")
    return f"{request.base_url.scheme}://{request.base_url.netloc}{root}"


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def create_psc_app(
    clients: Mapping[str, PscClient],
    *,
    key: rsa.RSAPrivateKey | None = None,
    now: Callable[[], float] = time.time,
) -> Starlette:
    """The provider app; mount it (the sandbox serves it under ``/psc``)."""
    signing_key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_jwk: dict[str, Any] = RSAAlgorithm.to_jwk(signing_key.public_key(), as_dict=True)
    kid = _s256(f"{public_jwk['e']}.{public_jwk['n']}")[:16]
    state = _State(clients=clients, key=signing_key, kid=kid, now=now)

    async def discovery(request: Request) -> JSONResponse:
        issuer = _issuer(request)
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/auth",
                "token_endpoint": f"{issuer}/token",
                "userinfo_endpoint": f"{issuer}/userinfo",
                "jwks_uri": f"{issuer}/jwks",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["openid", "scope_all"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                ],
                "code_challenge_methods_supported": ["S256"],
                "acr_values_supported": ["eidas1"],
                "claims_supported": sorted(PROFESSIONALS[0].userinfo()),
            }
        )

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse({"keys": [{**public_jwk, "kid": kid, "use": "sig", "alg": "RS256"}]})

    def _check_authorize(params: Mapping[str, str]) -> tuple[PscClient, str] | Response:
        client = state.clients.get(params.get("client_id", ""))
        redirect_uri = params.get("redirect_uri", "")
        if client is None or not client.accepts(redirect_uri):
            # Never redirect to an unverified URI (RFC 6749 §4.1.2.1): say it on the page.
            return HTMLResponse(
                "<!doctype html><html lang='fr'><title>Erreur</title>"
                "<p>Client ou adresse de retour inconnus.</p></html>",
                status_code=400,
            )
        return client, redirect_uri

    def _back(redirect_uri: str, **params: str) -> RedirectResponse:
        glue = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{glue}{urlencode(params)}", status_code=303)

    async def authorize(request: Request) -> Response:
        params = dict(request.query_params)
        checked = _check_authorize(params)
        if isinstance(checked, Response):
            return checked
        _, redirect_uri = checked
        extra = {"state": params["state"]} if "state" in params else {}
        if params.get("response_type") != "code":
            return _back(redirect_uri, error="unsupported_response_type", **extra)
        if "openid" not in params.get("scope", "").split():
            return _back(redirect_uri, error="invalid_scope", **extra)
        if not params.get("code_challenge") or params.get("code_challenge_method") != "S256":
            return _back(
                redirect_uri, error="invalid_request", error_description="PKCE S256", **extra
            )
        return HTMLResponse(approval_page(params, PROFESSIONALS))

    async def approve(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        checked = _check_authorize(form)
        if isinstance(checked, Response):
            return checked
        client, redirect_uri = checked
        extra = {"state": form["state"]} if form.get("state") else {}
        professional = find_professional(form.get("professional", ""))
        if form.get("decision") != "approve" or professional is None:
            return _back(redirect_uri, error="access_denied", **extra)
        state.purge()
        code = secrets.token_urlsafe(32)
        state.codes[code] = _Grant(
            client_id=client.client_id,
            redirect_uri=redirect_uri,
            challenge=form.get("code_challenge", ""),
            nonce=form.get("nonce") or None,
            professional=professional,
            expires=state.now() + CODE_TTL_S,
            auth_time=int(state.now()),
        )
        return _back(redirect_uri, code=code, **extra)

    def _client_of(request: Request, form: Mapping[str, str]) -> PscClient | None:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(header[6:]).decode("utf-8")
            except (ValueError, UnicodeDecodeError):
                return None
            client_id, _, secret = decoded.partition(":")
        client = state.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret):
            return None
        return client

    async def token(request: Request) -> Response:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        client = _client_of(request, form)
        if client is None:
            return _oauth_error("invalid_client", "unknown client or wrong secret", 401)
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type", "authorization_code only")
        state.purge()
        grant = state.codes.pop(form.get("code", ""), None)  # single use (RFC 6749 §4.1.2)
        if grant is None or grant.client_id != client.client_id:
            return _oauth_error("invalid_grant", "unknown, used or expired code")
        if grant.redirect_uri != form.get("redirect_uri"):
            return _oauth_error("invalid_grant", "redirect_uri differs from the authorization")
        if _s256(form.get("code_verifier", "")) != grant.challenge:
            return _oauth_error("invalid_grant", "code_verifier does not match (PKCE)")
        moment = int(state.now())
        access = secrets.token_urlsafe(32)
        state.tokens[access] = (grant.professional, moment + TOKEN_TTL_S)
        claims: dict[str, Any] = {
            "iss": _issuer(request),
            "sub": grant.professional.national_id,
            "aud": client.client_id,
            "iat": moment,
            "exp": moment + TOKEN_TTL_S,
            "auth_time": grant.auth_time,
            "acr": "eidas1",
            "SubjectNameID": grant.professional.national_id,
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        id_token = jwt.encode(claims, state.key, algorithm="RS256", headers={"kid": state.kid})
        return JSONResponse(
            {
                "access_token": access,
                "token_type": "Bearer",
                "expires_in": TOKEN_TTL_S,
                "id_token": id_token,
                "scope": "openid scope_all",
            },
            headers={"Cache-Control": "no-store"},
        )

    async def userinfo(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        held = state.tokens.get(header[7:]) if header.lower().startswith("bearer ") else None
        if held is None or held[1] < state.now():
            return Response(
                status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        return JSONResponse(held[0].userinfo())

    return Starlette(
        routes=[
            Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
            Route("/jwks", jwks, methods=["GET"]),
            Route("/auth", authorize, methods=["GET"]),
            Route("/auth/approve", approve, methods=["POST"]),
            Route("/token", token, methods=["POST"]),
            Route("/userinfo", userinfo, methods=["GET"]),
        ]
    )
