"""``CardReader`` over pyscard and the real ``pcscd``: the only module that imports pyscard.

PC/SC result codes become our ``CardError`` family in ``_checked`` and nowhere else. pyscard's
low-level ``smartcard.scard`` is used rather than its object layer because its result codes
say exactly what happened (no service, no reader, card removed, timeout).
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any

try:
    from smartcard import scard
except ImportError:  # pyscard is the `card` extra: it builds only where libpcsclite-dev is
    scard = None

from card.cps import CardFamily, CpxSession, card_family
from card.errors import (
    CardError,
    CardRemoved,
    CardServiceUnavailable,
    NoCard,
    NoReader,
)

__all__ = ["PcscCard", "PcscReader"]

_NO_SERVICE = "no smart-card service: pcscd is not running (start it, e.g. `pcscd`)"
_NO_READER = "no card reader is connected"
_NO_CARD = "no card in the reader: insert a CPS, CPE or CPF"
_REMOVED = "the card was removed during the operation: insert it again and retry"


def _checked(result: int, doing: str) -> None:
    if result == scard.SCARD_S_SUCCESS:
        return
    if result in (scard.SCARD_E_NO_SERVICE, scard.SCARD_E_SERVICE_STOPPED):
        raise CardServiceUnavailable(_NO_SERVICE)
    if result in (
        scard.SCARD_E_NO_READERS_AVAILABLE,
        scard.SCARD_E_UNKNOWN_READER,
        scard.SCARD_E_READER_UNAVAILABLE,
    ):
        raise NoReader(_NO_READER)
    if result == scard.SCARD_E_NO_SMARTCARD:
        raise NoCard(_NO_CARD)
    if result in (scard.SCARD_W_REMOVED_CARD, scard.SCARD_W_RESET_CARD):
        raise CardRemoved(_REMOVED)
    if result == scard.SCARD_E_TIMEOUT:
        raise NoCard(f"{_NO_CARD} (none came while waiting)")
    message = scard.SCardGetErrorMessage(result)
    raise CardError(f"the card reader failed {doing}: {message} ({result & 0xFFFFFFFF:#010x})")


class _Context:
    def __init__(self) -> None:
        if scard is None:
            raise CardServiceUnavailable(
                "pyscard is not installed: pip install 'cdr-gateway[card]' "
                "(it builds against libpcsclite-dev)"
            )
        result, self.handle = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        _checked(result, "to open the smart-card service")

    def release(self) -> None:
        scard.SCardReleaseContext(self.handle)


class PcscCard:
    """A card connected through pcscd (see ``card.reader.OpenCard``)."""

    def __init__(self, context: _Context, reader: str) -> None:
        self._context = context
        self._reader = reader
        result, self._card, protocol = scard.SCardConnect(
            context.handle,
            reader,
            scard.SCARD_SHARE_SHARED,
            scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1,
        )
        _checked(result, f"to connect to the card in {reader}")
        self._protocol = protocol
        result, _name, _state, _protocol, atr = scard.SCardStatus(self._card)
        _checked(result, "to read the card's ATR")
        self._atr = bytes(atr)
        self._session = CpxSession(self._transmit)
        self._selected = False

    @property
    def reader(self) -> str:
        return self._reader

    @property
    def atr(self) -> bytes:
        return self._atr

    @property
    def family(self) -> CardFamily:
        return card_family(self._atr)

    def _transmit(self, command: bytes) -> bytes:
        result, response = scard.SCardTransmit(self._card, self._protocol, list(command))
        _checked(result, "to exchange with the card")
        return bytes(response)

    def _application(self) -> CpxSession:
        if not self._selected:
            self._session.select_application()
            self._session.check_issuer()
            self._selected = True
        return self._session

    def read_certificates(self) -> tuple[bytes, bytes]:
        return self._application().read_certificates()

    def pin_tries_left(self) -> int | None:
        return self._application().pin_tries_left()

    def verify_pin(self, pin: str) -> None:
        self._application().verify_pin(pin)

    def sign_challenge(self, challenge: bytes) -> bytes:
        return self._application().sign_authentication(challenge)

    def sign_data(self, data: bytes) -> bytes:
        return self._application().sign_with_signature_key(data)

    def close(self) -> None:
        # A reset on leaving: the verified PIN dies with this connection.
        scard.SCardDisconnect(self._card, scard.SCARD_RESET_CARD)
        self._context.release()

    def __enter__(self) -> PcscCard:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


class PcscReader:
    """``CardReader`` over the system's pcscd."""

    def list_readers(self) -> list[str]:
        context = _Context()
        try:
            result, readers = scard.SCardListReaders(context.handle, [])
            if result == scard.SCARD_E_NO_READERS_AVAILABLE:
                return []
            _checked(result, "to list the readers")
            return [str(r) for r in readers]
        finally:
            context.release()

    def _states(self, context: _Context, readers: list[str], timeout_s: float) -> list[Any]:
        known = [(reader, scard.SCARD_STATE_UNAWARE) for reader in readers]
        result, states = scard.SCardGetStatusChange(context.handle, int(timeout_s * 1000), known)
        _checked(result, "to watch the readers")
        return list(states)

    def wait_for_insertion(self, timeout_s: float) -> str:
        readers = self.list_readers()
        if not readers:
            raise NoReader(_NO_READER)
        deadline = time.monotonic() + timeout_s
        context = _Context()
        try:
            states = self._states(context, readers, 0)
            while True:
                for reader, state, _atr in states:
                    if state & scard.SCARD_STATE_PRESENT:
                        return str(reader)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise NoCard(_NO_CARD)
                watched = [(reader, state) for reader, state, _atr in states]
                result, states = scard.SCardGetStatusChange(
                    context.handle, int(remaining * 1000), watched
                )
                if result == scard.SCARD_E_TIMEOUT:
                    raise NoCard(_NO_CARD)
                _checked(result, "to watch the readers")
        finally:
            context.release()

    def wait_for_removal(self, reader: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        context = _Context()
        try:
            states = self._states(context, [reader], 0)
            while states[0][1] & scard.SCARD_STATE_PRESENT:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CardError(f"the card stayed in {reader}")
                watched = [(r, state) for r, state, _atr in states]
                result, states = scard.SCardGetStatusChange(
                    context.handle, int(remaining * 1000), watched
                )
                if result == scard.SCARD_E_TIMEOUT:
                    raise CardError(f"the card stayed in {reader}")
                _checked(result, "to watch the reader")
        finally:
            context.release()

    def open(self, reader: str | None = None) -> PcscCard:
        name = reader if reader is not None else self.wait_for_insertion(0)
        context = _Context()
        try:
            return PcscCard(context, name)
        except BaseException:
            context.release()
            raise
