"""Access tokens signed and checked with real keys: a token checked once is not checked again
until it expires; an expired one is refused."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fhir_server.auth import TokenSigner, TokenVerifier
from fhir_server.auth.errors import InvalidToken


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def signer_and_verifier(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, clock: Clock):
    signer = TokenSigner(
        key, issuer="https://gw/auth", audience="https://gw/fhir", lifetime_s=300, clock=clock
    )
    return signer, TokenVerifier(signer, clock=clock, cache_size=2)


@pytest.mark.parametrize(
    "key",
    [ec.generate_private_key(ec.SECP384R1()), rsa.generate_private_key(65537, 2048)],
    ids=["ES384", "RS384"],
)
async def test_a_token_is_verified_once_until_it_expires(key) -> None:
    clock = Clock()
    signer, verifier = signer_and_verifier(key, clock)
    token = signer.issue("lab", ["system/Coverage.rs"])
    first = await verifier.verify(token)
    assert first.client == "lab" and ("Coverage", "s") in first.grants
    assert await verifier.verify(token) == first
    assert verifier.verified == 1
    clock.now += 301  # past its exp, the cache holds it no more: checked again
    await verifier.verify(token)
    assert verifier.verified == 2


async def test_an_expired_token_is_refused() -> None:
    clock = Clock()
    signer, verifier = signer_and_verifier(ec.generate_private_key(ec.SECP384R1()), clock)
    clock.now -= 301
    token = signer.issue("lab", ["system/Coverage.rs"])
    clock.now += 301
    with pytest.raises(InvalidToken, match="expired"):
        await verifier.verify(token)


async def test_the_cache_is_bounded() -> None:
    clock = Clock()
    signer, verifier = signer_and_verifier(ec.generate_private_key(ec.SECP256R1()), clock)
    tokens = [signer.issue(f"c{i}", ["system/*.rs"]) for i in range(3)]
    for token in tokens:
        await verifier.verify(token)
    await verifier.verify(tokens[0])  # pushed out by the third: checked again
    assert verifier.verified == 4
