"""The signed assertion (regimes.assertion) as the sandbox checks it (sandbox.assertion_check),
with the test PKI: the structure's and the card holder's, each refusal for its reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card.holder import holder_from_certificate
from card.pki import PkiFiles, init_pki
from regimes.assertion import (
    ASSERTION_HEADER,
    Actor,
    JwsAssertionSigner,
    StructureAssertionSigner,
)
from regimes.port import WireRequest
from rights.eligibility import default_categories
from sandbox.assertion_check import AssertionChecker, AssertionTrust

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        return self.at


def _make(tmp: Path, finess: str, name: str) -> PkiFiles:
    return init_pki(tmp, structure_finess=finess, structure_name=name, now=T0)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return _make(tmp_path_factory.mktemp("pki"), "750100018", "CH de démonstration")


def _cert(pki: PkiFiles, key: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki.path(key).read_bytes())


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def signer(
    pki: PkiFiles, clock: Clock, *, sign: str = "structure.sign", tls: str = "structure.auth"
) -> StructureAssertionSigner:
    key = serialization.load_pem_private_key(pki.path(f"{sign}.key").read_bytes(), None)
    finess = pki.manifest["structure"]["finess"]
    return StructureAssertionSigner(
        key=key,  # type: ignore[arg-type]
        chain=[_cert(pki, f"{sign}.cert"), _cert(pki, "ca.organisations")],
        tls_client_cert=_cert(pki, f"{tls}.cert"),
        finess=finess,
        category="355",
        now=clock,
    )


def checker(pki: PkiFiles, clock: Clock, *, directory: dict[str, str] | None = None):
    trust = AssertionTrust.from_pem(
        pki.path("ca.chain").read_bytes(),
        [pki.path("crl.persons").read_bytes(), pki.path("crl.organisations").read_bytes()],
    )
    table = directory or {"750100018": "355", "130100050": "500"}
    return AssertionChecker(trust, default_categories(), table.get, clock)


def test_a_good_assertion_is_accepted_and_reused_for_its_short_life(pki: PkiFiles) -> None:
    clock = Clock()
    sign, check = signer(pki, clock), checker(pki, clock)
    tls = _der(_cert(pki, "structure.auth.cert"))
    request = sign.sign(WireRequest("POST", "/x", {"a": "b"}))
    token = request.headers[ASSERTION_HEADER]
    assert request.headers["a"] == "b"
    assert check.check(token, tls) is None
    clock.at += timedelta(seconds=19)
    assert sign.assertion() == token and sign.signed == 1  # reused, not signed again
    assert check.check(token, tls) is None
    clock.at += timedelta(seconds=2)
    assert sign.assertion() != token and sign.signed == 2  # renewed after 20 s
    claims = jwt.decode(sign.assertion(), options={"verify_signature": False})
    assert claims["iss"] == "1750100018" and claims["purpose"] == "rights-lookup"
    assert claims["exp"] - claims["iat"] == 60 and claims["act"]["type"] == "structure"


def test_each_fault_is_refused_for_its_reason(pki: PkiFiles, tmp_path: Path) -> None:
    clock = Clock()
    check = checker(pki, clock)
    tls = _der(_cert(pki, "structure.auth.cert"))
    token = signer(pki, clock).assertion()
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=="))
    claims["finess"] = "690100029"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    cases = {
        "no signed assertion": (None, tls),
        "not a JWS": ("not.a.token", tls),
        "signature does not hold": (f"{head}.{forged}.{signature}", tls),
        "must travel over mutual TLS": (token, None),
        "bound to another TLS client certificate": (
            token,
            _der(_cert(pki, "bad.revoked_structure.cert")),
        ),
    }
    for says, (sent, client) in cases.items():
        reason = check.check(sent, client)
        assert reason is not None and says in reason, (says, reason)
    clock.at += timedelta(seconds=61 + 30)
    reason = check.check(token, tls)
    assert reason is not None and "stale" in reason


def test_certificates_wrong_in_one_way_are_refused(pki: PkiFiles) -> None:
    clock = Clock()
    check = checker(pki, clock)
    # A signature made with the TLS key and certificate: not a signature certificate.
    wrong_usage = signer(pki, clock, sign="structure.auth").assertion()
    tls = _der(_cert(pki, "structure.auth.cert"))
    assert "not a signature certificate" in (check.check(wrong_usage, tls) or "")
    # Bound to, and sent over, a revoked TLS client certificate.
    revoked = signer(pki, clock, tls="bad.revoked_structure").assertion()
    reason = check.check(revoked, _der(_cert(pki, "bad.revoked_structure.cert")))
    assert reason is not None and "revoked" in reason


def test_a_certificate_from_another_pki_does_not_chain(pki: PkiFiles, tmp_path: Path) -> None:
    clock = Clock()
    foreign = _make(tmp_path / "foreign", "750100018", "CH de démonstration")
    token = signer(foreign, clock).assertion()
    reason = checker(pki, clock).check(token, _der(_cert(foreign, "structure.auth.cert")))
    assert reason is not None and "does not chain to a trusted root" in reason


def test_a_structure_cdr_does_not_serve_is_refused(tmp_path: Path) -> None:
    clock = Clock()
    ehpad = _make(tmp_path / "ehpad", "130100050", "EHPAD de démonstration")
    token = signer(ehpad, clock).assertion()
    reason = checker(ehpad, clock).check(token, _der(_cert(ehpad, "structure.auth.cert")))
    assert reason is not None and "category 500" in reason and "not eligible" in reason


def person_signer(
    pki: PkiFiles, clock: Clock, profile: str, *, finess: str | None = None, **actor: object
) -> JwsAssertionSigner:
    """Attended mode as the card does it: the card holder's signature key signs (here read
    from the test PKI, as the emulated card holds it), the structure's TLS certificate binds."""
    key = serialization.load_pem_private_key(
        pki.path(f"card.{profile}.sign.key").read_bytes(), None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    sign_cert = _cert(pki, f"card.{profile}.sign.cert")
    holder = holder_from_certificate(_der(sign_cert))
    fields: dict[str, object] = {
        "id": holder.national_id,
        "profession": holder.profession,
        "card_type": holder.card_type,
    }
    fields.update(actor)
    return JwsAssertionSigner(
        sign=lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
        chain=[sign_cert],
        tls_client_cert=_cert(pki, "structure.auth.cert"),
        finess=finess or pki.manifest["structure"]["finess"],
        category="355",
        actor=Actor("person", **fields),  # type: ignore[arg-type]
        now=clock,
    )


@pytest.mark.parametrize("profile", ["medecin", "infirmier", "cpe-secretaire", "cpf-interne"])
def test_a_card_holder_signs_for_the_structure(pki: PkiFiles, profile: str) -> None:
    clock = Clock()
    token = person_signer(pki, clock, profile).assertion()
    assert checker(pki, clock).check(token, _der(_cert(pki, "structure.auth.cert"))) is None
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["act"]["type"] == "person"
    assert claims["act"]["id"] == pki.manifest["cards"][profile]["national_id"]


def test_an_actor_who_is_not_the_card_holder_is_refused(pki: PkiFiles) -> None:
    clock = Clock()
    check = checker(pki, clock)
    tls = _der(_cert(pki, "structure.auth.cert"))
    cases = {
        "not the holder": person_signer(pki, clock, "medecin", id="810100765432"),
        "profession is not": person_signer(pki, clock, "infirmier", profession="Médecin"),
        # A CPE names its structure (750100018): it cannot act for another one.
        "its own structure": person_signer(pki, clock, "cpe-secretaire", finess="690100029"),
    }
    for says, sign in cases.items():
        reason = check.check(sign.assertion(), tls)
        assert reason is not None and says in reason, (says, reason)


def test_the_card_authentication_key_cannot_sign_an_assertion(pki: PkiFiles) -> None:
    clock = Clock()
    key = serialization.load_pem_private_key(pki.path("card.medecin.auth.key").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    auth = _cert(pki, "card.medecin.auth.cert")
    token = JwsAssertionSigner(
        sign=lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256()),
        chain=[auth],
        tls_client_cert=_cert(pki, "structure.auth.cert"),
        finess="750100018",
        category="355",
        actor=Actor("person", "810100234567", profession="Médecin"),
        now=clock,
    ).assertion()
    reason = checker(pki, clock).check(token, _der(_cert(pki, "structure.auth.cert")))
    assert reason is not None and "not a signature certificate" in reason


def test_an_accepted_assertion_is_remembered_for_its_life_on_its_certificate_only(
    pki: PkiFiles,
) -> None:
    clock = Clock()
    check = checker(pki, clock)
    check.remembered = 2
    tls = _der(_cert(pki, "structure.auth.cert"))
    other = _der(_cert(pki, "bad.revoked_structure.cert"))
    sign = signer(pki, clock)
    token = sign.assertion()
    assert check.check(token, tls) is None and len(check._accepted) == 1
    assert check.check(token, tls) is None  # remembered: not checked in full again
    # Remembered for this certificate only: on another connection it is still a replay.
    assert "bound to another" in (check.check(token, other) or "")
    for _ in range(3):
        clock.at += timedelta(seconds=21)
        assert check.check(sign.assertion(), tls) is None
    assert len(check._accepted) == 2  # bounded
    clock.at = T0 + timedelta(seconds=91)
    assert "stale" in (check.check(token, tls) or "")  # forgotten once stale
