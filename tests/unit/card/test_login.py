"""A card login as the gateway checks it (card.login): the emulated card's signature of the
portal's challenge with its authentication certificate holds and names the holder; every
wrong certificate of the test PKI, a signature over another challenge, or one made with the
signature key, is refused for its reason."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card.login import CardLoginRefused, CardTrust, verify_card_login
from card.pki import PkiFiles, init_pki

NOW = datetime.datetime.now(datetime.UTC)
CHALLENGE = b"portal-challenge-7f3a"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return init_pki(
        tmp_path_factory.mktemp("pki"), structure_finess="750100018", structure_name="T"
    )


def _trust(pki: PkiFiles) -> CardTrust:
    return CardTrust.from_pem(
        pki.path("ca.chain").read_bytes(),
        [pki.path("crl.persons").read_bytes(), pki.path("crl.organisations").read_bytes()],
    )


def _signed(pki: PkiFiles, prefix: str, challenge: bytes = CHALLENGE) -> tuple[bytes, bytes]:
    key = serialization.load_pem_private_key(pki.path(f"{prefix}.key").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    cert = x509.load_pem_x509_certificate(pki.path(f"{prefix}.cert").read_bytes())
    signature = key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())
    return signature, cert.public_bytes(serialization.Encoding.DER)


def test_the_card_s_login_names_its_holder(pki: PkiFiles) -> None:
    signature, der = _signed(pki, "card.medecin.auth")
    holder = verify_card_login(CHALLENGE, signature, der, _trust(pki), NOW)
    assert (holder.identifier_kind, holder.identifier) == ("RPPS", "10100234567")
    assert holder.profession == "Médecin"


@pytest.mark.parametrize(
    ("prefix", "code"),
    [
        ("bad.expired", "certificate-expired"),
        ("bad.revoked", "revoked"),
        ("bad.foreign", "untrusted"),
        ("bad.wrong_usage", "wrong-usage"),  # a signature certificate offered to log in
        ("card.medecin.sign", "wrong-usage"),
    ],
)
def test_each_wrong_certificate_is_refused_for_its_reason(
    pki: PkiFiles, prefix: str, code: str
) -> None:
    signature, der = _signed(pki, prefix)
    with pytest.raises(CardLoginRefused) as refused:
        verify_card_login(CHALLENGE, signature, der, _trust(pki), NOW)
    assert refused.value.code == code


def test_a_signature_over_another_challenge_is_refused(pki: PkiFiles, tmp_path: Path) -> None:
    signature, der = _signed(pki, "card.medecin.auth", b"an older challenge")
    with pytest.raises(CardLoginRefused) as refused:
        verify_card_login(CHALLENGE, signature, der, _trust(pki), NOW)
    assert refused.value.code == "bad-signature"
    with pytest.raises(CardLoginRefused) as unreadable:
        verify_card_login(CHALLENGE, signature, b"not DER", _trust(pki), NOW)
    assert unreadable.value.code == "bad-certificate"
