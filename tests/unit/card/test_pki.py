"""The test PKI (``cdr pki init``): IGC-Santé's shape, chains that verify for what each
certificate is for, and the bad certificates failing for their one reason."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from card.pki import OID_CARD_TYPE, OID_PROFESSION, PROFILES, PkiFiles, init_pki
from cdr.cli import main

NOW = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return init_pki(
        tmp_path_factory.mktemp("pki"),
        structure_finess="750100018",
        structure_name="Centre hospitalier de démonstration",
        now=NOW,
    )


def _cert(pki: PkiFiles, key: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki.path(key).read_bytes())


def _intermediates(pki: PkiFiles) -> list[x509.Certificate]:
    return [_cert(pki, "ca.persons"), _cert(pki, "ca.organisations")]


# Card and ORG certificates name their holder in the subject, not in a subjectAltName (which
# the web PKI's client profile requires): that one requirement is lifted, the rest (chain,
# dates, key usage, extended key usage clientAuth) is checked as the profile says.
_EE_POLICY = ExtensionPolicy.webpki_defaults_ee().may_be_present(
    x509.SubjectAlternativeName, Criticality.AGNOSTIC, None
)


def _client_verify(pki: PkiFiles, leaf: x509.Certificate, root: x509.Certificate | None = None):
    store = Store([root or _cert(pki, "ca.root")])
    verifier = (
        PolicyBuilder()
        .store(store)
        .time(NOW)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_EE_POLICY)
        .build_client_verifier()
    )
    return verifier.verify(leaf, _intermediates(pki)).chain


def _int_extension(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> int:
    der = cert.extensions.get_extension_for_oid(oid).value.value  # type: ignore[attr-defined]
    assert der[0] == 0x02 and der[1] == len(der) - 2  # a DER INTEGER
    return int.from_bytes(der[2:], "big", signed=True)


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_card_certificates_are_shaped_like_igc_sante_ones(pki: PkiFiles, name: str) -> None:
    profile = PROFILES[name]
    for use in ("auth", "sign"):
        cert = _cert(pki, f"card.{name}.{use}.cert")
        rdns = list(cert.subject.rdns)
        multi = [rdn for rdn in rdns if len(rdn) > 1]
        assert len(multi) == 1  # GN + CN + SN in one RDN
        assert {a.oid for a in multi[0]} == {
            NameOID.GIVEN_NAME,
            NameOID.COMMON_NAME,
            NameOID.SURNAME,
        }
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
            profile.national_id
        )
        assert cert.subject.get_attributes_for_oid(NameOID.TITLE)[0].value == profile.title
        card_type = {"CPS": 0, "CPF": 1, "CPE": 2}[profile.card]
        assert _int_extension(cert, OID_CARD_TYPE) == card_type
        if profile.profession_code is None:
            with pytest.raises(x509.ExtensionNotFound):
                cert.extensions.get_extension_for_oid(OID_PROFESSION)
        else:
            assert _int_extension(cert, OID_PROFESSION) == profile.profession_code
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature is (use == "auth")
        assert usage.content_commitment is (use == "sign")
    chain = _client_verify(pki, _cert(pki, f"card.{name}.auth.cert"))
    assert chain[-1].subject == _cert(pki, "ca.root").subject
    assert "PERSONNES" in chain[1].subject.rfc4514_string()


def test_the_structure_and_the_sandbox_have_their_certificates(pki: PkiFiles) -> None:
    structure = _cert(pki, "structure.auth.cert")
    ou = structure.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)[0].value
    assert ou == "1750100018"  # the structure identifier: 1 + FINESS
    _client_verify(pki, structure)
    server = _cert(pki, "server.sandbox.cert")
    store = Store([_cert(pki, "ca.root")])
    for subject in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
        verifier = PolicyBuilder().store(store).time(NOW).build_server_verifier(subject)
        verifier.verify(server, _intermediates(pki))


@pytest.mark.parametrize("bad", ["bad.expired", "bad.wrong_usage", "bad.foreign"])
def test_each_bad_certificate_fails_verification(pki: PkiFiles, bad: str) -> None:
    with pytest.raises(VerificationError):
        _client_verify(pki, _cert(pki, f"{bad}.cert"))


def test_the_foreign_card_verifies_only_under_its_own_root(pki: PkiFiles) -> None:
    foreign_root = x509.load_pem_x509_certificate(pki.path("bad.foreign_ca").read_bytes())
    _client_verify(pki, _cert(pki, "bad.foreign.cert"), root=foreign_root)


def test_the_crls_list_the_revoked_ones_and_are_signed_by_their_ca(pki: PkiFiles) -> None:
    for crl_key, ca_key, revoked_key in (
        ("crl.persons", "ca.persons", "bad.revoked.cert"),
        ("crl.organisations", "ca.organisations", "bad.revoked_structure.cert"),
    ):
        crl = x509.load_pem_x509_crl(pki.path(crl_key).read_bytes())
        ca = _cert(pki, ca_key)
        assert crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
        revoked = _cert(pki, revoked_key)
        assert crl.get_revoked_certificate_by_serial_number(revoked.serial_number) is not None
        _client_verify(pki, revoked)  # valid but for its revocation: the CRL says it
    good = _cert(pki, "card.medecin.auth.cert")
    crl = x509.load_pem_x509_crl(pki.path("crl.persons").read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(good.serial_number) is None


def test_private_keys_are_readable_by_their_owner_only(pki: PkiFiles) -> None:
    keys = [pki.directory / f for k, f in pki.manifest["files"].items() if k.endswith(".key")]
    assert len(keys) >= 15
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_cdr_pki_init_writes_into_an_empty_directory_only(tmp_path: Path, capsys) -> None:
    target = tmp_path / "pki"
    assert main(["pki", "init", str(target)]) == 0
    assert (target / "manifest.json").is_file() and (target / "ca" / "root.pem").is_file()
    assert main(["pki", "init", str(target)]) == 2
    assert "not an empty directory" in capsys.readouterr().err
