"""The emulated CPx card driven by the same session code as a real reader, without sockets:
the CPS3's ATR and files, certificates from the test PKI, the PIN's counter and blocking, and
an INTERNAL AUTHENTICATE signature that the authentication certificate verifies."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card.cps import CardFamily, CpxSession, card_family
from card.emulator import CPS3_CONTACT_ATR, EmulatedCpx, emulated_card_from_pki
from card.errors import CardStatusError, PinBlocked, UnknownCard, WrongPin
from card.holder import holder_from_certificate
from card.pki import init_pki

NOW = datetime.datetime(2026, 12, 7, 9, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def pki_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    init_pki(directory, structure_finess="750100018", structure_name="Test", now=NOW)
    return directory


def _session(pki_dir: Path, profile: str = "medecin") -> tuple[EmulatedCpx, CpxSession]:
    card = emulated_card_from_pki(pki_dir, profile, pin="1234")
    card.power_on()
    return card, CpxSession(card.handle)


def test_the_atr_is_the_cps3_contact_one() -> None:
    assert card_family(CPS3_CONTACT_ATR) is CardFamily.CPS3_CONTACT


@pytest.mark.parametrize(
    ("atr", "family"),
    [
        ("3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00", CardFamily.CPS3_CONTACT),
        # OpenSC's mask ignores bytes 1..4 and 11..13
        ("3B AC 11 22 33 00 12 25 00 64 80 55 66 77 00 90 00", CardFamily.CPS3_CONTACT),
        (
            "3B 8F 80 01 00 31 B8 64 04 B0 EC C1 73 94 01 80 82 90 00 0E",
            CardFamily.CPS3_CONTACTLESS,
        ),
        ("3B 9B 18 80 01 00 12 25 00 64 80 04 01 00 00 90 44", CardFamily.CPS4),
        ("3B DC 18 FF 00 00 12 25 00 64 80 00 04 01 00 90 00", CardFamily.CPS4),
        ("3B 8A 80 01 80 31 F8 73 F7 41 E0 82 90 00 75", CardFamily.UNKNOWN),
    ],
)
def test_card_families_from_their_atr(atr: str, family: CardFamily) -> None:
    assert card_family(bytes.fromhex(atr)) is family


def test_application_serial_and_certificates(pki_dir: Path) -> None:
    _, session = _session(pki_dir)
    session.select_application()
    serial = session.check_issuer()
    assert serial[2:7] == bytes.fromhex("8025000001") and len(serial) == 12
    auth, sign = session.read_certificates()
    assert auth == x509.load_pem_x509_certificate(
        (pki_dir / "cards/medecin/auth.pem").read_bytes()
    ).public_bytes(serialization.Encoding.DER)
    assert len(auth) > 0xE7 * 2  # read in several READ BINARY chunks
    assert (
        x509.load_der_x509_certificate(sign).subject == x509.load_der_x509_certificate(auth).subject
    )


@pytest.mark.parametrize(
    ("profile", "kind", "identifier", "card_type", "finess"),
    [
        ("medecin", "RPPS", "10100234567", "CPS", None),
        ("infirmier", "ADELI", "0B6087510", "CPS", None),
        ("cpe-secretaire", "structure", "750100018/000000018", "CPE", "750100018"),
        ("cpf-interne", "RPPS", "10100998877", "CPF", None),
    ],
)
def test_holder_read_from_the_card(
    pki_dir: Path, profile: str, kind: str, identifier: str, card_type: str, finess: str | None
) -> None:
    _, session = _session(pki_dir, profile)
    holder = holder_from_certificate(session.read_certificates()[0])
    assert (holder.identifier_kind, holder.identifier) == (kind, identifier)
    assert holder.card_type == card_type and holder.structure_finess == finess
    assert holder.valid_at(NOW) and not holder.valid_at(NOW + datetime.timedelta(days=4000))
    assert holder.issuer == "TEST AC IGC-SANTE ELEMENTAIRE PERSONNES"


def test_signing_needs_the_pin_then_verifies_with_the_certificate(pki_dir: Path) -> None:
    _, session = _session(pki_dir)
    session.select_application()
    with pytest.raises(CardStatusError) as caught:
        session.sign_authentication(b"challenge")
    assert caught.value.sw == 0x6982
    assert session.pin_tries_left() == 3
    session.verify_pin("1234")
    assert session.pin_tries_left() is None
    signature = session.sign_authentication(b"challenge")
    assert len(signature) == 256  # through 61 00 + GET RESPONSE
    public = x509.load_der_x509_certificate(session.read_certificates()[0]).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, b"challenge", padding.PKCS1v15(), hashes.SHA256())


def test_the_signature_key_signs_data_that_the_signature_certificate_verifies(
    pki_dir: Path,
) -> None:
    _, session = _session(pki_dir)
    session.select_application()
    with pytest.raises(CardStatusError) as caught:
        session.sign_with_signature_key(b"header.claims")
    assert caught.value.sw == 0x6982  # no PIN, no signature
    session.verify_pin("1234")
    signature = session.sign_with_signature_key(b"header.claims")
    auth, sign = session.read_certificates()
    signing = x509.load_der_x509_certificate(sign).public_key()
    assert isinstance(signing, rsa.RSAPublicKey)
    signing.verify(signature, b"header.claims", padding.PKCS1v15(), hashes.SHA256())
    # Made with the signature key, not the authentication one (card.md §0).
    authenticating = x509.load_der_x509_certificate(auth).public_key()
    assert isinstance(authenticating, rsa.RSAPublicKey)
    with pytest.raises(InvalidSignature):
        authenticating.verify(signature, b"header.claims", padding.PKCS1v15(), hashes.SHA256())


def test_a_hash_signs_once_and_only_in_the_signature_environment(pki_dir: Path) -> None:
    card, session = _session(pki_dir)
    session.select_application()
    session.verify_pin("1234")
    hash_command = bytes.fromhex("002A90A022 9020") + bytes(32)
    sign_command = bytes.fromhex("002A9E9A00")
    assert card.handle(hash_command)[-2:] == b"\x69\x85"  # no MSE SET DST yet
    assert card.handle(bytes.fromhex("002241B6 06 840182 800142"))[-2:] == b"\x90\x00"
    assert card.handle(sign_command)[-2:] == b"\x69\x85"  # no hash given yet
    assert card.handle(hash_command)[-2:] == b"\x90\x00"
    assert card.handle(sign_command)[:1] == b"\x61"  # the signature, announced
    assert card.handle(sign_command)[-2:] == b"\x69\x85"  # the hash was used up
    # INTERNAL AUTHENTICATE is refused in the signature environment.
    digest_info = bytes.fromhex("3031300d060960864801650304020105000420") + bytes(32)
    assert (
        card.handle(bytes([0, 0x88, 0, 0, len(digest_info)]) + digest_info + b"\x00")[-2:]
        == b"\x69\x85"
    )


def test_wrong_pins_count_down_then_block(pki_dir: Path) -> None:
    card, session = _session(pki_dir)
    with pytest.raises(WrongPin) as first:
        session.verify_pin("0000")
    assert first.value.tries_left == 2 and "2 tries left" in first.value.message
    with pytest.raises(WrongPin) as second:
        session.verify_pin("0000")
    assert second.value.tries_left == 1 and "1 try left" in second.value.message
    with pytest.raises(PinBlocked):
        session.verify_pin("0000")
    with pytest.raises(PinBlocked):
        session.verify_pin("1234")  # the right PIN no longer opens it
    assert session.pin_tries_left() == 0
    card.power_on()  # the counter survives removal
    with pytest.raises(PinBlocked):
        session.verify_pin("1234")


def test_a_right_pin_resets_the_counter(pki_dir: Path) -> None:
    _, session = _session(pki_dir)
    with pytest.raises(WrongPin):
        session.verify_pin("9999")
    session.verify_pin("1234")
    assert session.pin_tries_left() is None


def test_power_off_forgets_the_verified_pin(pki_dir: Path) -> None:
    card, session = _session(pki_dir)
    session.verify_pin("1234")
    card.power_on()
    assert session.pin_tries_left() == 3


@pytest.mark.parametrize(
    ("command", "sw"),
    [
        ("00 A4 04 00 0D E8 28 BD 08 0F 80 25 00 00 01 FF 00 10", 0x6A86),  # P2=00
        ("00 A4 09 00 04 3F 00 D0 03", 0x6A86),
        ("00 A4 09 04 04 3F 00 D0 04", 0x6A82),
        ("00 B0 00 00 10", 0x6986),  # nothing selected
        ("80 A4 04 0C 01 00", 0x6E00),
        ("00 FF 00 00", 0x6D00),
        ("00 20 00 01 04 31 32 33 34", 0x6700),  # an unpadded PIN
        ("00 22 41 A4 06 84 01 82 80 01 02", 0x6A80),  # an unknown key
        ("00 C0 00 00 10", 0x6985),  # nothing to get
        ("00 A4", 0x6700),
    ],
)
def test_the_card_refuses_what_a_cps3_refuses(pki_dir: Path, command: str, sw: int) -> None:
    card, _ = _session(pki_dir)
    response = card.handle(bytes.fromhex(command))
    assert int.from_bytes(response[-2:], "big") == sw


def test_a_card_without_the_application_is_unknown(pki_dir: Path) -> None:
    card, session = _session(pki_dir)
    card.files.clear()
    original = card.handle

    def no_application(command: bytes) -> bytes:
        return b"\x6a\x82" if command[:2] == b"\x00\xa4" else original(command)

    with pytest.raises(UnknownCard):
        CpxSession(no_application).select_application()
