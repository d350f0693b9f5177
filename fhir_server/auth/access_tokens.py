"""Access tokens: those this gateway issues (JWTs signed with its own key, short-lived), and
their check on each request, together with those of an external authorization server checked
against its JWKS. A token checked once is remembered until it expires: the signature is not
verified again on every request."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.exceptions import (
    ExpiredSignatureError,
    ImmatureSignatureError,
    InvalidAudienceError,
    InvalidSignatureError,
    MissingRequiredClaimError,
    PyJWTError,
)

from fhir_server.auth.errors import InvalidToken, KeySetUnavailable
from fhir_server.auth.key_sets import KeySets
from fhir_server.auth.scopes import Grant, grants_of

__all__ = [
    "AccessGrant",
    "ExternalIssuer",
    "SigningKey",
    "TokenSigner",
    "TokenVerifier",
    "signing_algorithm",
]

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
# An external server's tokens: asymmetric signatures only (never HS*, never "none": a shared
# secret would be a key anyone reading the JWKS could not hold, and "none" is no signature).
_EXTERNAL_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
_EXTERNAL_LEEWAY_S = 30
# However long a token lives, it is checked again at least this often (a key rotated out of
# the external server's JWKS stops its tokens within this time).
_CACHE_AT_MOST_S = 300


def signing_algorithm(key: SigningKey) -> str:
    """The JWS algorithm of ``key`` (RFC 7518 §3.1): RS384 for RSA, ES256/ES384 by curve."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS384"
    return {"secp256r1": "ES256", "secp384r1": "ES384"}[key.curve.name]


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What a valid token allows: who (``client``), what (``grants``), until when (unix time)."""

    client: str
    grants: frozenset[Grant]
    expires_at: float


@dataclass(frozen=True, slots=True)
class ExternalIssuer:
    """An authorization server whose tokens are accepted: ``iss`` and ``aud`` they must carry,
    and where its signing keys are published."""

    issuer: str
    audience: str
    jwks_url: str


class TokenSigner:
    """Issues access tokens for a client: ``iss`` this gateway, ``aud`` its FHIR base."""

    def __init__(
        self,
        key: SigningKey,
        *,
        issuer: str,
        audience: str,
        lifetime_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self.public_key = key.public_key()
        self.algorithm = signing_algorithm(key)
        self.issuer = issuer
        self.audience = audience
        self.lifetime_s = lifetime_s
        self._clock = clock

    def issue(self, client: str, scopes: Sequence[str]) -> str:
        issued = int(self._clock())
        claims = {
            "iss": self.issuer,
            "sub": client,
            "client_id": client,  # RFC 9068 §2.2
            "aud": self.audience,
            "scope": " ".join(scopes),
            "iat": issued,
            "exp": issued + self.lifetime_s,
            "jti": secrets.token_urlsafe(16),
        }
        # RFC 9068 §2.1: typ "at+jwt" tells an access token from any other JWT of ours.
        return jwt.encode(claims, self._key, algorithm=self.algorithm, headers={"typ": "at+jwt"})


class TokenVerifier:
    """Checks a bearer token and answers its ``AccessGrant``, or raises ``InvalidToken``."""

    def __init__(
        self,
        signer: TokenSigner,
        *,
        external: ExternalIssuer | None = None,
        key_sets: KeySets | None = None,
        clock: Callable[[], float] = time.time,
        cache_size: int = 4096,
    ) -> None:
        if external is not None and key_sets is None:
            raise ValueError("an external issuer needs key sets to fetch its keys")
        self._own_key = signer.public_key
        self._own_algorithm = signer.algorithm
        self._issuer = signer.issuer
        self._audience = signer.audience
        self._external = external
        self._key_sets = key_sets
        self._clock = clock
        self._cache: dict[str, AccessGrant] = {}
        self._cache_size = cache_size
        self.verified = 0  # signatures checked (tests: the cache spares them)

    async def verify(self, token: str) -> AccessGrant:
        now = self._clock()
        cached = self._cache.get(token)
        if cached is not None and cached.expires_at > now:
            return cached
        grant = await self._check(token)
        self._remember(token, grant, now)
        return grant

    async def _check(self, token: str) -> AccessGrant:
        try:
            header = jwt.get_unverified_header(token)
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except PyJWTError:
            raise InvalidToken("the bearer token is not a signed JWT") from None
        external = self._external
        if issuer == self._issuer:
            keys: list[Any] = [self._own_key]
            algorithms, audience, leeway = [self._own_algorithm], self._audience, 0
        elif external is not None and self._key_sets is not None and issuer == external.issuer:
            alg = header.get("alg")
            if alg not in _EXTERNAL_ALGORITHMS:
                raise InvalidToken(f"the bearer token is signed with {alg!r}")
            kid = header.get("kid") if isinstance(header.get("kid"), str) else None
            try:
                keys = await self._key_sets.keys(external.jwks_url, kid, alg)
            except KeySetUnavailable as exc:
                raise InvalidToken(f"the issuer's keys cannot be read: {exc.message}") from None
            algorithms, audience, leeway = [alg], external.audience, _EXTERNAL_LEEWAY_S
        else:
            raise InvalidToken("the bearer token is not from an issuer this server trusts")
        claims = self._decode(token, keys, algorithms, audience, str(issuer), leeway)
        scopes = claims.get("scope", claims.get("scp", ""))
        listed = scopes.split() if isinstance(scopes, str) else scopes
        if not isinstance(listed, list):
            raise InvalidToken("the bearer token's scope is neither a string nor a list")
        client = claims.get("client_id", claims.get("sub", ""))
        return AccessGrant(str(client), grants_of(str(s) for s in listed), float(claims["exp"]))

    def _decode(
        self,
        token: str,
        keys: list[Any],
        algorithms: list[str],
        audience: str,
        issuer: str,
        leeway: int,
    ) -> dict[str, Any]:
        self.verified += 1
        for key in keys:
            try:
                return jwt.decode(
                    token,
                    key,
                    algorithms=algorithms,
                    audience=audience,
                    issuer=issuer,
                    leeway=leeway,
                    options={"require": ["iss", "aud", "exp"]},
                )
            except InvalidSignatureError:
                continue
            except ExpiredSignatureError:
                raise InvalidToken("the bearer token has expired") from None
            except ImmatureSignatureError:
                raise InvalidToken("the bearer token is not valid yet") from None
            except InvalidAudienceError:
                raise InvalidToken(f"the bearer token is not meant for {audience}") from None
            except MissingRequiredClaimError as exc:
                raise InvalidToken(f"the bearer token has no {exc.claim}") from None
            except PyJWTError as exc:
                raise InvalidToken(f"the bearer token is refused: {exc}") from None
        raise InvalidToken("the bearer token's signature does not verify")

    def _remember(self, token: str, grant: AccessGrant, now: float) -> None:
        if len(self._cache) >= self._cache_size:
            for key in [k for k, g in self._cache.items() if g.expires_at <= now]:
                del self._cache[key]
            while len(self._cache) >= self._cache_size:  # still full: the oldest go first
                del self._cache[next(iter(self._cache))]
        kept = min(grant.expires_at, now + _CACHE_AT_MOST_S)
        self._cache[token] = AccessGrant(grant.client, grant.grants, kept)
