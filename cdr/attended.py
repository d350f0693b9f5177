"""Attended mode on the command line (issue 13; `cdr lookup --card`): the professional's CPx card
in the reader signs the assertion of every regime call, and the lookup is recorded as theirs.

The card is opened once, its certificates read and checked for dates, the PIN asked (tries
left shown) and verified, and the card kept connected for the lookup: a PC/SC connection that
closes resets the card, and a verified PIN with it. The first assertion is signed before any
regime is asked, so that a card that cannot sign is said at once, not as 17 regime failures.
"""

from __future__ import annotations

import datetime
import getpass
import sys
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509

from card import CardError, CardHolder, CardReader, OpenCard, PinBlocked
from card import holder_from_certificate as read_holder
from card.reader import cpx_certificates
from cdr.regime_trust import card_holder_actor, structure_category, structure_tls_certificate
from cdr.settings import Settings
from regimes.assertion import JwsAssertionSigner
from regimes.port import AssertionSigner, NoAssertion
from rights.caller import Person
from rights.errors import InputError, RequesterRefused

__all__ = ["AttendedSession", "open_attended", "pin_from_terminal_or_stdin"]

ReadPin = Callable[[int], str]


@dataclass
class AttendedSession:
    """The card holder's session: the open card, who holds it, and the signer of their calls."""

    card: OpenCard
    holder: CardHolder
    signer: AssertionSigner

    @property
    def person(self) -> Person:
        holder = self.holder
        return Person(holder.national_id, f"{holder.given} {holder.surname}", holder.profession)

    def describe(self) -> str:
        holder = self.holder
        kind = holder.identifier_kind
        return (
            f"acting as {holder.given} {holder.surname} ({holder.profession}, {kind} "
            f"{holder.identifier}) with the {holder.card_type} card in {self.card.reader}"
        )

    def close(self) -> None:
        self.card.close()


def pin_from_terminal_or_stdin(from_stdin: bool) -> ReadPin:
    """The PIN from the first line of standard input (scripts, tests), or asked at the terminal
    without echo; never from an argument, which any user could read in the process list."""

    def read(tries_left: int) -> str:
        if from_stdin:
            line = sys.stdin.readline()
            if not line:
                raise InputError("--pin-stdin: standard input gave no PIN", location="PIN")
            return line.strip()
        if not sys.stdin.isatty():
            raise InputError(
                "the card's PIN is asked at a terminal: run at one, or give it with --pin-stdin",
                location="PIN",
            )
        plural = "tries" if tries_left > 1 else "try"
        return getpass.getpass(f"PIN of the card ({tries_left} {plural} left): ")

    return read


def _certificates(card: OpenCard) -> tuple[CardHolder, x509.Certificate]:
    _auth, sign = cpx_certificates(card)
    return read_holder(sign), x509.load_der_x509_certificate(sign)


def _check_dates(holder: CardHolder, now: datetime.datetime) -> None:
    if holder.valid_at(now):
        return
    if now > holder.not_after:
        said = f"expired on {holder.not_after.date().isoformat()}"
    else:
        said = f"is valid only from {holder.not_before.date().isoformat()}"
    raise CardError(f"the card's signature certificate {said}: the regimes would refuse it")


def _signing_function(card: OpenCard) -> Callable[[bytes], bytes]:
    def sign(data: bytes) -> bytes:
        try:
            return card.sign_data(data)
        except CardError as exc:
            # Inside a lookup: the regime call is refused for its requester, with the reason.
            raise RequesterRefused(
                f"the card could not sign the assertion: {exc.message}"
            ) from None

    return sign


def _signer(
    settings: Settings,
    card: OpenCard,
    holder: CardHolder,
    certificate: x509.Certificate,
    now: Callable[[], datetime.datetime],
) -> AssertionSigner:
    tls_cert = structure_tls_certificate(settings)
    if tls_cert is None:
        # Regime calls without mutual TLS carry no assertion (the embedded demo on plain
        # HTTP): the lookup is still the card holder's in the audit trail.
        return NoAssertion()
    return JwsAssertionSigner(
        sign=_signing_function(card),
        chain=[certificate],
        tls_client_cert=tls_cert,
        finess=settings.requester_finess,
        category=structure_category(settings),
        actor=card_holder_actor(holder),
        now=now,
    )


def open_attended(
    settings: Settings,
    reader: CardReader,
    *,
    reader_name: str | None,
    read_pin: ReadPin,
    now: Callable[[], datetime.datetime],
) -> AttendedSession:
    """The card opened, checked and unlocked, its first assertion signed; the caller closes it.
    Raises ``CardError`` (no service, reader or card; wrong PIN with tries left; blocked;
    removed), ``InputError`` (no PIN to read) or ``ConfigError``."""
    card = reader.open(reader_name)
    try:
        holder, certificate = _certificates(card)
        _check_dates(holder, now())
        tries = card.pin_tries_left()
        if tries == 0:
            raise PinBlocked()
        if tries is not None:
            card.verify_pin(read_pin(tries))
        session = AttendedSession(card, holder, _signer(settings, card, holder, certificate, now))
        if isinstance(session.signer, JwsAssertionSigner):
            try:
                session.signer.assertion()
            except RequesterRefused as exc:
                raise CardError(exc.message) from None
        return session
    except BaseException:
        card.close()
        raise
