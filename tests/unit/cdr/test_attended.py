"""Attended mode's session over the in-memory card of ``test_card_commands`` (the emulated CPx
card's APDU handler, no PC/SC): the card checked before any regime is asked (dates, blocked
PIN, wrong PIN), its signature key signing assertions the sandbox accepts, and a card that
stops answering mid-lookup turned into a refusal of the requester, not a crash."""

from __future__ import annotations

import datetime
from pathlib import Path

import jwt
import pytest

from card.errors import CardError, PinBlocked, WrongPin
from card.pki import PkiFiles, init_pki
from cdr.attended import open_attended
from regimes.assertion import JwsAssertionSigner
from regimes.port import NoAssertion
from rights.eligibility import default_categories
from rights.errors import RequesterRefused
from sandbox.assertion_check import AssertionChecker, AssertionTrust
from sandbox.eligibility import default_structures
from tests.conftest import gateway_settings
from tests.unit.cdr.test_card_commands import FakeReader, _card

NOW = datetime.datetime.now(datetime.UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PkiFiles:
    return init_pki(
        tmp_path_factory.mktemp("pki"), structure_finess="750100018", structure_name="Test"
    )


def _settings(pki: PkiFiles, data: Path, *, tls: bool = True) -> object:
    files = (
        {
            "regimes_ca_file": pki.path("ca.chain"),
            "regimes_client_cert_file": pki.path("structure.auth.cert"),
            "regimes_client_key_file": pki.path("structure.auth.key"),
        }
        if tls
        else {}
    )
    return gateway_settings("https://localhost:1", data, requester_finess="750100018", **files)


def _open(settings: object, reader: FakeReader, pin: str = "1234"):
    return open_attended(
        settings,  # type: ignore[arg-type]
        reader,  # type: ignore[arg-type]
        reader_name=None,
        read_pin=lambda tries: pin,
        now=lambda: NOW,
    )


def _card_of(pki: PkiFiles, profile: str = "medecin"):
    from card.emulator import emulated_card_from_pki

    card = emulated_card_from_pki(pki.directory, profile, pin="1234")
    card.power_on()
    return card


def test_the_card_signs_assertions_the_sandbox_accepts(pki: PkiFiles, tmp_path: Path) -> None:
    session = _open(_settings(pki, tmp_path), FakeReader(_card_of(pki)))
    assert isinstance(session.signer, JwsAssertionSigner)
    assert session.person.rpps == "10100234567"
    assert session.person.name == "CLAIRE MEDECIN-TEST"
    token = session.signer.assertion()
    assert jwt.decode(token, options={"verify_signature": False})["act"]["id"] == "810100234567"
    trust = AssertionTrust.from_pem(pki.path("ca.chain").read_bytes())
    checker = AssertionChecker(
        trust, default_categories(), default_structures().category_of, lambda: NOW
    )
    tls = pki.path("structure.auth.cert").read_bytes()
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    der = x509.load_pem_x509_certificate(tls).public_bytes(Encoding.DER)
    assert checker.check(token, der) is None


def test_without_mutual_tls_the_lookup_is_still_the_holders(pki: PkiFiles, tmp_path: Path) -> None:
    session = _open(_settings(pki, tmp_path, tls=False), FakeReader(_card_of(pki, "infirmier")))
    assert isinstance(session.signer, NoAssertion)
    assert session.person.national_id == "00B6087510" and session.person.rpps is None


def test_the_card_is_checked_before_any_regime_is_asked(
    pki: PkiFiles, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    settings = _settings(pki, tmp_path)
    with pytest.raises(WrongPin) as wrong:
        _open(settings, FakeReader(_card_of(pki)), pin="0000")
    assert wrong.value.tries_left == 2
    blocked = _card_of(pki)
    blocked.tries_left = 0
    with pytest.raises(PinBlocked):
        _open(settings, FakeReader(blocked))
    expired = _card(tmp_path_factory, datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC))
    with pytest.raises(CardError, match="expired on"):
        _open(settings, FakeReader(expired))


def test_a_card_gone_mid_lookup_is_a_refusal_of_the_requester(
    pki: PkiFiles, tmp_path: Path
) -> None:
    card = _card_of(pki)
    session = _open(_settings(pki, tmp_path), FakeReader(card))
    assert isinstance(session.signer, JwsAssertionSigner)
    card.power_on()  # pulled out and put back: the verified PIN is gone
    session.signer._current = None  # the next call needs a new assertion
    with pytest.raises(RequesterRefused, match="the card could not sign the assertion"):
        session.signer.assertion()
