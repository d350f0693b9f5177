"""The card port over the real pcscd, vsmartcard's reader and the emulated card running as its
own process: what the desk sees, the PIN's counter and blocking, signing, and the faults (no
service, no reader, no card, the card removed during an operation)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from card.cps import CardFamily
from card.errors import (
    CardRemoved,
    CardServiceUnavailable,
    NoCard,
    NoReader,
    PinBlocked,
    WrongPin,
)
from card.pcsc import PcscReader
from tests.integration.card.conftest import (
    DEMO_PIN,
    EmulatedCardProcess,
    Pcscd,
    start_pcscd,
    stop_pcscd,
)

Start = Callable[[str], EmulatedCardProcess]


def _cdr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cdr.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_desk_sees_who_holds_the_card(emulated_card: Start) -> None:
    emulated_card("medecin")
    shown = _cdr("card", "status")
    assert shown.returncode == 0, shown.stderr
    lines = dict(line.split(None, 1) for line in shown.stdout.splitlines())
    assert lines["reader"] == "Virtual PCD 00 00"
    assert lines["card"] == "CPS — CPS3 (IAS-ECC, contact)"
    assert lines["holder"] == "CLAIRE MEDECIN-TEST"
    assert lines["profession"] == "Médecin (TRE_G15 10)"
    assert lines["identifier"] == "RPPS 10100234567"
    assert lines["certificate"].startswith("valid until ")
    assert lines["PIN"] == "3 tries left"


def test_status_json_for_a_cpe_names_its_structure(emulated_card: Start) -> None:
    emulated_card("cpe-secretaire")
    shown = _cdr("card", "status", "--json")
    assert shown.returncode == 0, shown.stderr
    report = json.loads(shown.stdout)
    assert report["holder"]["card_type"] == "CPE"
    assert report["holder"]["structure_finess"] == "750100018"
    assert report["holder"]["identifier_kind"] == "structure"
    assert report["atr"] == "3B AC 00 40 2A 00 12 25 00 64 80 00 03 10 00 90 00"
    assert report["certificate_valid"] is True and report["pin_blocked"] is False


def test_readers_insertion_and_removal_are_seen(emulated_card: Start) -> None:
    reader = PcscReader()
    assert reader.list_readers()[0] == "Virtual PCD 00 00"
    card = emulated_card("infirmier")
    assert reader.wait_for_insertion(5) == "Virtual PCD 00 00"
    card.remove()
    reader.wait_for_removal("Virtual PCD 00 00", 5)
    with pytest.raises(NoCard):
        reader.wait_for_insertion(0.3)
    card.insert()
    assert reader.wait_for_insertion(5) == "Virtual PCD 00 00"


def test_the_card_signs_a_challenge_after_its_pin(emulated_card: Start) -> None:
    emulated_card("pharmacien")
    with PcscReader().open() as card:
        assert card.family is CardFamily.CPS3_CONTACT
        auth, _sign = card.read_certificates()
        card.verify_pin(DEMO_PIN)
        assert card.pin_tries_left() is None
        signature = card.sign_challenge(b"nonce-1234")
    public = x509.load_der_x509_certificate(auth).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, b"nonce-1234", padding.PKCS1v15(), hashes.SHA256())
    with PcscReader().open() as card:  # closing reset the card: the PIN is asked again
        assert card.pin_tries_left() == 3


def test_wrong_pins_then_a_blocked_card(emulated_card: Start) -> None:
    emulated_card("medecin")
    with PcscReader().open() as card:
        with pytest.raises(WrongPin) as first:
            card.verify_pin("0000")
        assert first.value.tries_left == 2
        assert first.value.message == "wrong PIN: 2 tries left before the card is blocked"
        assert "0000" not in str(first.value)
        with pytest.raises(WrongPin, match="1 try left"):
            card.verify_pin("0000")
        with pytest.raises(PinBlocked):
            card.verify_pin("0000")
        with pytest.raises(PinBlocked, match="blocked"):
            card.verify_pin(DEMO_PIN)
    shown = _cdr("card", "status")
    assert shown.returncode == 0
    assert "PIN          BLOCKED (3 wrong PINs)" in shown.stdout


def test_the_card_removed_during_an_operation(emulated_card: Start) -> None:
    process = emulated_card("medecin")
    reader = PcscReader()
    card = reader.open()
    try:
        card.verify_pin(DEMO_PIN)
        process.remove()
        reader.wait_for_removal(card.reader, 5)
        with pytest.raises(CardRemoved) as caught:
            card.sign_challenge(b"challenge")
        assert caught.value.message == (
            "the card was removed during the operation: insert it again and retry"
        )
    finally:
        card.close()
    process.insert()
    reader.wait_for_insertion(5)
    with reader.open() as again:
        assert again.pin_tries_left() == 3  # the power went: the PIN must be given again


def test_no_card_in_the_reader(pcscd: Pcscd) -> None:
    shown = _cdr("card", "status")
    assert shown.returncode == 1
    assert shown.stderr.strip() == "cdr: no card in the reader: insert a CPS, CPE or CPF"
    shown = _cdr("card", "status", "--json")
    assert json.loads(shown.stdout)["error"]["type"] == "NoCard"


def test_no_reader_then_no_service(pcscd: Pcscd, tmp_path: Path) -> None:
    stop_pcscd(pcscd.process)
    try:
        readerless = start_pcscd(tmp_path / "empty.conf.d", None)
        try:
            assert PcscReader().list_readers() == []
            with pytest.raises(NoReader):
                PcscReader().open()
            shown = _cdr("card", "status")
            assert (shown.returncode, shown.stderr.strip()) == (
                1,
                "cdr: no card reader is connected",
            )
        finally:
            stop_pcscd(readerless)
        with pytest.raises(CardServiceUnavailable):
            PcscReader().list_readers()
        shown = _cdr("card", "status")
        assert shown.returncode == 1
        assert shown.stderr.strip() == (
            "cdr: no smart-card service: pcscd is not running (start it, e.g. `pcscd`)"
        )
    finally:
        pcscd.process = start_pcscd(pcscd.config, pcscd.port)
