"""Who asks for a token: the client's signed assertion (RFC 7523 §2.2 and §3, as SMART App
Launch v2 "Backend Services" profiles it) checked against the keys it registered."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jwt
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidIssuerError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)

from fhir_server.auth.errors import KeySetUnavailable, TokenRequestRefused
from fhir_server.auth.key_sets import KeySets
from fhir_server.auth.ports import AssertionIds, ClientRegistry, RegisteredClient

__all__ = ["ASSERTION_ALGORITHMS", "ASSERTION_TYPE", "MAX_ASSERTION_LIFETIME_S", "ClientAssertions"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# SMART Backend Services: the server SHALL support RS384 and ES384 (and nothing weaker here).
ASSERTION_ALGORITHMS = ("RS384", "ES384")
# SMART Backend Services: exp "no more than five minutes in the future".
MAX_ASSERTION_LIFETIME_S = 300
# Clock difference tolerated between the client and us.
LEEWAY_S = 30


def _refused(message: str) -> TokenRequestRefused:
    return TokenRequestRefused("invalid_client", message)


class ClientAssertions:
    """Authenticates a client by its assertion: signed by a key of its registered JWKS, for our
    token endpoint (``aud``), short-lived, and never seen before (``jti``, remembered in the
    database so that every worker process refuses a replay)."""

    def __init__(
        self,
        *,
        registry: ClientRegistry,
        used: AssertionIds,
        key_sets: KeySets,
        token_url: str,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._registry = registry
        self._used = used
        self._key_sets = key_sets
        self._token_url = token_url
        self._now = now

    async def authenticate(self, assertion: str) -> RegisteredClient:
        """The client the assertion proves, or ``TokenRequestRefused`` (``invalid_client``)."""
        try:
            header = jwt.get_unverified_header(assertion)
            unverified = jwt.decode(assertion, options={"verify_signature": False})
        except PyJWTError:
            raise _refused("client_assertion is not a signed JWT") from None
        alg, kid, name = header.get("alg"), header.get("kid"), unverified.get("iss")
        if alg not in ASSERTION_ALGORITHMS:
            raise _refused(
                f"client_assertion is signed with {alg!r}; accepted: "
                + ", ".join(ASSERTION_ALGORITHMS)
            )
        if not isinstance(name, str) or not name:
            raise _refused("client_assertion has no iss (the client id)")
        client = await asyncio.to_thread(self._registry.get, name)
        if client is None:
            raise _refused(f"no client {name[:128]!r} is registered")
        claims = await self._verified_claims(assertion, client, alg, kid)
        if claims["sub"] != client.name:
            raise _refused("client_assertion's sub is not its iss (the client id)")
        now = self._now()
        if claims["exp"] > now.timestamp() + MAX_ASSERTION_LIFETIME_S + LEEWAY_S:
            raise _refused(
                f"client_assertion's exp is more than {MAX_ASSERTION_LIFETIME_S} s ahead"
            )
        jti = claims["jti"]
        if not isinstance(jti, str) or not 0 < len(jti) <= 255:
            raise _refused("client_assertion's jti must be a string of 1 to 255 characters")
        expires_at = datetime.fromtimestamp(claims["exp"] + LEEWAY_S, UTC)
        first = await asyncio.to_thread(
            self._used.first_use, client.name, jti, expires_at=expires_at, now=now
        )
        if not first:
            raise _refused("client_assertion's jti was used before: an assertion is used once")
        return client

    async def _verified_claims(
        self, assertion: str, client: RegisteredClient, alg: str, kid: Any
    ) -> dict[str, Any]:
        kid = kid if isinstance(kid, str) else None
        try:
            if client.jwks is not None:
                keys = self._key_sets.inline(client.jwks).verification_keys(kid, alg)
            elif client.jwks_url is not None:
                keys = await self._key_sets.keys(client.jwks_url, kid, alg)
            else:
                raise _refused(
                    f"client {client.name!r} registered no keys: it is known by its TLS client "
                    "certificate, and calls the API over mutual TLS without a token"
                )
        except KeySetUnavailable as exc:
            raise _refused(f"the keys of client {client.name!r}: {exc.message}") from None
        if not keys:
            named = f" named {kid!r}" if kid else ""
            raise _refused(f"client {client.name!r} registered no {alg} key{named}")
        for key in keys:
            try:
                return jwt.decode(
                    assertion,
                    key,
                    algorithms=[alg],
                    audience=self._token_url,
                    issuer=client.name,
                    leeway=LEEWAY_S,
                    options={"require": ["iss", "sub", "aud", "exp", "jti"]},
                )
            except InvalidSignatureError:
                continue  # another key of the set may have signed it
            except ExpiredSignatureError:
                raise _refused("client_assertion has expired (exp)") from None
            except ImmatureSignatureError:
                raise _refused("client_assertion is not valid yet (nbf or iat)") from None
            except InvalidAudienceError:
                raise _refused(f"client_assertion's aud must be {self._token_url}") from None
            except InvalidIssuerError:
                raise _refused("client_assertion's iss is not the client id") from None
            except MissingRequiredClaimError as exc:
                raise _refused(f"client_assertion has no {exc.claim}") from None
            except PyJWTError as exc:
                raise _refused(f"client_assertion refused: {exc}") from None
        raise _refused(f"client_assertion's signature matches no key of client {client.name!r}")
