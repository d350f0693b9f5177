"""JSON Web Key Sets (RFC 7517) as PyJWT reads them: a client's inline document, or a URL
(a client's, an external authorization server's) fetched and cached.

Only signature keys of the asymmetric kinds are ever used: a symmetric (``oct``) key in a
public key set would let anyone who read the set sign.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from fhir_server.auth.errors import KeySetUnavailable

__all__ = ["KeySet", "KeySets", "parse_key_set"]

# The curve each EC algorithm signs on (RFC 7518 §3.4).
_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}


@dataclass(frozen=True, slots=True)
class KeySet:
    """The usable keys of a JWK Set, each with its JSON members (``alg``, ``use``, ``crv``)."""

    keys: tuple[tuple[Mapping[str, Any], PyJWK], ...]

    def verification_keys(self, kid: str | None, alg: str) -> list[Any]:
        """The public keys that may verify a signature made with ``alg`` (and named ``kid``
        when the signer named one)."""
        found = []
        for members, jwk in self.keys:
            if kid is not None and jwk.key_id != kid:
                continue
            if members.get("use", "sig") != "sig" or not _fits(members, alg):
                continue
            key = jwk.key
            if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
                key = key.public_key()  # a set published with its private parts: the public
            found.append(key)
        return found

    @property
    def has_private_key(self) -> bool:
        return any("d" in members for members, _ in self.keys)


def parse_key_set(text: str | bytes) -> KeySet:
    """The key set in ``text``; ``KeySetUnavailable`` when it is no JWKS with a usable key."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise KeySetUnavailable(f"not JSON: {exc}") from None
    members = document.get("keys") if isinstance(document, dict) else None
    if not isinstance(members, list):
        raise KeySetUnavailable('not a JWK Set: no "keys" list (RFC 7517 §5)')
    usable = []
    for data in members:
        if not isinstance(data, dict):
            continue
        try:
            usable.append((data, PyJWK(data)))
        except PyJWTError:
            continue  # RFC 7517 §5: members that cannot be used are ignored
    if not usable:
        raise KeySetUnavailable("the JWK Set holds no usable RSA or EC key")
    return KeySet(tuple(usable))


def _fits(members: Mapping[str, Any], alg: str) -> bool:
    declared = members.get("alg")  # RFC 7517 §4.4: the algorithm the key is meant for
    if declared is not None and declared != alg:
        return False
    if alg.startswith(("RS", "PS")):
        return members.get("kty") == "RSA"
    if alg in _CURVES:
        return members.get("kty") == "EC" and members.get("crv") == _CURVES[alg]
    return False


class KeySets:
    """Key sets by URL, each fetched with ``client`` and kept ``ttl_s``. A key id the cached set
    does not hold fetches the set again (the owner rotated its keys), at most once every
    ``refresh_s``, so that tokens naming unknown keys cannot make us hammer the owner."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        ttl_s: float,
        refresh_s: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_s = ttl_s
        self._refresh_s = refresh_s
        self._clock = clock
        self._sets: dict[str, tuple[float, KeySet]] = {}  # url → (fetched at, set)
        self._inline: dict[str, KeySet] = {}

    def inline(self, text: str) -> KeySet:
        """A registered document, parsed once."""
        key_set = self._inline.get(text)
        if key_set is None:
            if len(self._inline) >= 1024:
                self._inline.clear()
            key_set = self._inline[text] = parse_key_set(text)
        return key_set

    async def keys(self, url: str, kid: str | None, alg: str) -> list[Any]:
        """``KeySet.verification_keys`` of the set at ``url``."""
        now = self._clock()
        cached = self._sets.get(url)
        if cached is None or now - cached[0] >= self._ttl_s:
            cached = await self._fetch(url, now)
        keys = cached[1].verification_keys(kid, alg)
        if not keys and kid is not None and now - cached[0] >= self._refresh_s:
            keys = (await self._fetch(url, now))[1].verification_keys(kid, alg)
        return keys

    async def _fetch(self, url: str, now: float) -> tuple[float, KeySet]:
        try:
            response = await self._client.get(url, headers={"Accept": "application/json"})
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise KeySetUnavailable(f"the JWK Set at {url} could not be fetched: {exc}") from None
        fetched = (now, parse_key_set(response.content))
        self._sets[url] = fetched
        return fetched

    async def aclose(self) -> None:
        await self._client.aclose()
