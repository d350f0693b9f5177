"""The API's authentication wired from the settings (``CDR_AUTH=on``): the token endpoint and
the bearer guard as middleware of the application's seam, the CapabilityStatement's security,
and what to close with the app. Nothing at all when authentication is off."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine
from starlette.middleware import Middleware

from cdr.settings import Settings
from cdr.storage.auth_clients import SqlAssertionIds, SqlClientRegistry
from cdr.token_key import load_or_create_token_key
from fhir_server.auth import (
    AuthEndpoints,
    BearerGuard,
    CertificateClients,
    ClientAssertions,
    ExternalIssuer,
    KeySets,
    LoopbackOnly,
    TokenEndpoint,
    TokenSigner,
    TokenVerifier,
    capability_security,
)
from fhir_server.auth.ports import RefusalAudit

__all__ = ["ApiAuth", "build_api_auth", "token_issuer"]

# A JWK Set is a small document on a server that answers at once, or not at all.
_JWKS_TIMEOUT_S = 5.0


@dataclass(frozen=True, slots=True)
class ApiAuth:
    middleware: list[Middleware]  # outermost first
    security: dict[str, Any]  # the CapabilityStatement's rest.security
    key_sets: KeySets

    async def aclose(self) -> None:
        await self.key_sets.aclose()


def token_issuer(settings: Settings) -> str:
    """``iss`` of the tokens the gateway signs: its authorization server, beside the FHIR
    base (``…/fhir`` → ``…/auth``)."""
    return settings.effective_token_url.removesuffix("/token")


def build_api_auth(
    settings: Settings, engine: Engine, audit: RefusalAudit | None = None
) -> ApiAuth | None:
    """``audit``: where refusals are recorded (the audit trail; None when it is off)."""
    if settings.auth == "off":
        return None  # no middleware: an open API pays nothing per request
    key = load_or_create_token_key(
        settings.effective_token_key_file, create=settings.auth_token_key_file is None
    )
    base_url, token_url = settings.effective_fhir_base_url, settings.effective_token_url
    signer = TokenSigner(
        key,
        issuer=token_issuer(settings),
        audience=base_url,
        lifetime_s=settings.auth_token_lifetime_s,
    )
    # trust_env=False: JWK Sets are fetched from the URLs configured, never through a proxy
    # an environment variable names behind the operator's back.
    key_sets = KeySets(
        httpx.AsyncClient(timeout=_JWKS_TIMEOUT_S, trust_env=False),
        ttl_s=settings.auth_jwks_cache_s,
    )
    external = None
    if settings.auth_external_issuer and settings.auth_external_jwks_url:
        external = ExternalIssuer(
            issuer=settings.auth_external_issuer,
            audience=settings.auth_external_audience or base_url,
            jwks_url=settings.auth_external_jwks_url,
        )
    registry = SqlClientRegistry(engine)
    assertions = ClientAssertions(
        registry=registry,
        used=SqlAssertionIds(engine),
        key_sets=key_sets,
        token_url=token_url,
    )
    verifier = TokenVerifier(signer, external=external, key_sets=key_sets)
    middleware = [
        Middleware(
            AuthEndpoints,
            endpoint=TokenEndpoint(assertions, signer),
            token_url=token_url,
            audit=audit,
        ),
        Middleware(
            BearerGuard,
            verifier=verifier,
            # Mutual TLS, the other way in: only where the API asks a client certificate.
            certificates=None
            if settings.http_tls_client_ca_file is None
            else CertificateClients(registry),
            audit=audit,
        ),
    ]
    if not settings.allow_open:
        # /metrics takes no token: beyond loopback only when CDR_ALLOW_OPEN=1 says so.
        middleware.insert(0, Middleware(LoopbackOnly, paths=["/metrics"], audit=audit))
    return ApiAuth(
        middleware=middleware,
        security=capability_security(
            token_url, client_certificates=settings.http_tls_client_ca_file is not None
        ),
        key_sets=key_sets,
    )
