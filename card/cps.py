"""A CPx card's job, spoken in APDUs over any transmit function (pure: no PC/SC here).

``CpxSession`` is what ``card.pcsc`` (the real reader) and the tests (the emulated card's
handler, called directly) both drive: select the application, read the certificates, verify
the PIN, sign with the authentication key or with the signature key. ``card_family`` names a
card from its ATR.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable

from card.apdu import (
    CPX_AID,
    MAX_READ,
    Response,
    apdu_get_response,
    apdu_internal_authenticate,
    apdu_mse_set_authentication,
    apdu_mse_set_signature,
    apdu_pin_status,
    apdu_pso_compute_signature,
    apdu_pso_hash,
    apdu_read_binary,
    apdu_select_aid,
    apdu_select_path,
    apdu_verify_pin,
    check,
    digest_info_sha256,
    file_size_from_fcp,
)
from card.errors import CardStatusError, PinBlocked, UnknownCard

__all__ = [
    "AUTH_CERT_PATH",
    "EF_SN_ICC_PATH",
    "SIGN_CERT_PATH",
    "CardFamily",
    "CpxSession",
    "Transmit",
    "card_family",
]

Transmit = Callable[[bytes], bytes]

# reference/card.md §1.1: EF.SN.ICC under the MF; the driver refuses a card whose bytes 2..6
# are not ANS's issuer number.
EF_SN_ICC_PATH = bytes.fromhex("3F00D003")
ANS_ISSUER = bytes.fromhex("8025000001")
# Where our emulated card keeps its certificates, under the application DF 3F00/0001 that holds
# the private keys. A real CPS3 is read through its PKCS#15 directory (CDF) instead, which
# this code does not parse yet.
AUTH_CERT_PATH = bytes.fromhex("3F000001C000")
SIGN_CERT_PATH = bytes.fromhex("3F000001C001")


class CardFamily(enum.Enum):
    CPS3_CONTACT = "CPS3 (IAS-ECC, contact)"
    CPS3_CONTACTLESS = "CPS3 (IAS-ECC, contactless)"
    CPS4 = "CPS4 (ChipDoc)"
    UNKNOWN = "unknown card"


_CPS3_CONTACT = bytes.fromhex("3BAC00402A001225006480000310009000")
_CPS3_CONTACT_MASK = bytes.fromhex("FF 00 00 00 00 FF FF FF FF FF FF 00 00 00 FF FF FF")
_CPS3_CONTACTLESS = bytes.fromhex("3B8F800100 31B86404B0ECC17394018082 90000E")
_CPS4 = (
    bytes.fromhex("3B9B1880010012250064800401000090 44"),
    bytes.fromhex("3B9B1880010012250064800004010090 44"),
    bytes.fromhex("3BDC18FF0000122500648000040100 9000"),
)


def card_family(atr: bytes) -> CardFamily:
    """The CPx family an ATR announces (card.md §1.1: the CPS3 contact ATR under OpenSC's mask;
    the contactless and CPS4 ATRs as listed)."""
    if atr in _CPS4:  # checked first: one CPS4 ATR passes the CPS3 mask
        return CardFamily.CPS4
    if len(atr) == len(_CPS3_CONTACT) and all(
        (a & m) == (r & m) for a, m, r in zip(atr, _CPS3_CONTACT_MASK, _CPS3_CONTACT, strict=True)
    ):
        return CardFamily.CPS3_CONTACT
    if atr == _CPS3_CONTACTLESS:
        return CardFamily.CPS3_CONTACTLESS
    return CardFamily.UNKNOWN


class CpxSession:
    """The CPS3 conversation over ``transmit`` (raw command bytes in, raw response bytes out).

    The PIN passes through ``verify_pin`` to the card and is kept nowhere: not in this object,
    not in any message or log line.
    """

    def __init__(self, transmit: Transmit) -> None:
        self._transmit = transmit

    def exchange(self, command: bytes) -> Response:
        """One command; a ``61 xx`` answer is followed by GET RESPONSE until the data is whole."""
        response = Response.parse(self._transmit(command))
        data = b""
        while response.sw1 == 0x61:
            data += response.data
            response = Response.parse(self._transmit(apdu_get_response(response.sw2)))
        return Response(data + response.data, response.sw)

    def select_application(self) -> None:
        try:
            check(self.exchange(apdu_select_aid(CPX_AID)), "selecting the CPx application")
        except CardStatusError as exc:
            if exc.sw == 0x6A82:
                raise UnknownCard("this card has no CPx application (not a CPS/CPE/CPF)") from exc
            raise

    def check_issuer(self) -> bytes:
        """EF.SN.ICC, refused unless its bytes 2..6 are ANS's issuer number."""
        serial = self.read_file(EF_SN_ICC_PATH, "the card serial number (EF.SN.ICC)")
        if serial[2:7] != ANS_ISSUER:
            raise UnknownCard("this card was not issued by ANS (EF.SN.ICC issuer differs)")
        return serial

    def read_file(self, path: bytes, what: str) -> bytes:
        fcp = check(self.exchange(apdu_select_path(path)), f"selecting {what}").data
        size = file_size_from_fcp(fcp)
        content = b""
        while len(content) < size:
            chunk = min(MAX_READ, size - len(content))
            data = check(self.exchange(apdu_read_binary(len(content), chunk)), f"reading {what}")
            if not data.data:
                raise CardStatusError(f"the card returned no data reading {what}", sw=data.sw)
            content += data.data
        return content[:size]

    def read_certificates(self) -> tuple[bytes, bytes]:
        """The DER authentication and signature certificates."""
        return (
            self.read_file(AUTH_CERT_PATH, "the authentication certificate"),
            self.read_file(SIGN_CERT_PATH, "the signature certificate"),
        )

    def pin_tries_left(self) -> int | None:
        """Tries left before the PIN blocks; ``None`` when it is already verified; 0 if blocked."""
        response = self.exchange(apdu_pin_status())
        if response.ok:
            return None
        try:
            check(response, "reading the PIN status")
        except PinBlocked:
            return 0
        except CardStatusError as exc:
            if exc.sw & 0xFFF0 == 0x63C0:
                return exc.sw & 0x0F
            raise
        return None  # pragma: no cover - check raises on every non-9000

    def verify_pin(self, pin: str) -> None:
        check(self.exchange(apdu_verify_pin(pin)), "the PIN")

    def sign_authentication(self, challenge: bytes) -> bytes:
        """RSA PKCS#1 v1.5 over SHA-256(challenge) with the authentication key (PIN verified
        first): MSE SET AT then INTERNAL AUTHENTICATE, card.md §1.3."""
        check(self.exchange(apdu_mse_set_authentication()), "choosing the authentication key")
        digest = hashlib.sha256(challenge).digest()
        response = self.exchange(apdu_internal_authenticate(digest_info_sha256(digest)))
        return check(response, "signing with the authentication key").data

    def sign_with_signature_key(self, data: bytes) -> bytes:
        """RSA PKCS#1 v1.5 over SHA-256(data) with the non-repudiation key (PIN verified
        first): MSE SET DST, PSO HASH with the host's hash, PSO COMPUTE DIGITAL SIGNATURE
        (card.md §1.3). This key, not the authentication one, signs assertions (card.md §0)."""
        check(self.exchange(apdu_mse_set_signature()), "choosing the signature key")
        check(self.exchange(apdu_pso_hash(hashlib.sha256(data).digest())), "giving the hash")
        response = self.exchange(apdu_pso_compute_signature())
        return check(response, "signing with the signature key").data
