"""APDUs of a CPS3 (IAS-ECC) card: building commands and reading responses, pure code.

The command shapes follow the traces of reference/card.md §1.3 (OpenSC's and Cryptolib's
CPS3 drivers): SELECT by AID needs P2=0C and SELECT by path P1=09/P2=04 (P2=00 gives 6A86),
READ BINARY is capped at 0xE7 bytes a response, a response too long for the T=0 exchange is
announced by ``61 xx`` and fetched with GET RESPONSE.
"""

from __future__ import annotations

from dataclasses import dataclass

from card.errors import CardStatusError, PinBlocked, WrongPin

__all__ = [
    "CPX_AID",
    "CPX_AID_CONTACTLESS",
    "MAX_READ",
    "Response",
    "apdu_get_response",
    "apdu_internal_authenticate",
    "apdu_mse_set_authentication",
    "apdu_mse_set_signature",
    "apdu_pin_status",
    "apdu_pso_compute_signature",
    "apdu_pso_hash",
    "apdu_read_binary",
    "apdu_select_aid",
    "apdu_select_path",
    "apdu_verify_pin",
    "check",
    "digest_info_sha256",
    "file_size_from_fcp",
    "pin_block",
]

# PKCS#15 applications "CPx IAS" (contact) and "CPx IAS CL"; 80 25 00 00 01 is ANS's issuer number.
CPX_AID = bytes.fromhex("E828BD080F8025000001FF0010")
CPX_AID_CONTACTLESS = bytes.fromhex("E828BD080F8025000001FF0020")
MAX_READ = 0xE7  # Cryptolib's max_recv_size for CPS3
PIN_REFERENCE = 0x01  # the user CHV seen in the traces
AUTH_KEY_REFERENCE = 0x01  # sent as 0x80|ref in the MSE control reference template
SIGN_KEY_REFERENCE = 0x02  # the non-repudiation key (CPS_PRIV_SIG) of the emulated card
ALGO_RSA_PKCS1 = 0x02
ALGO_RSA_SHA256 = 0x42  # card.md §1.3: SHA-256 + RSA PKCS#1 for a digital signature
_PIN_LENGTH = 8
# DER prefix of a DigestInfo for SHA-256 (RFC 8017 §9.2 note 1).
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


@dataclass(frozen=True, slots=True)
class Response:
    """A response APDU: the data and the two status bytes as one integer (``0x9000``)."""

    data: bytes
    sw: int

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise CardStatusError(f"the card answered {len(raw)} byte(s), not a response", sw=0)
        return cls(bytes(raw[:-2]), (raw[-2] << 8) | raw[-1])

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    @property
    def ok(self) -> bool:
        return self.sw == 0x9000


def _apdu(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None) -> bytes:
    if len(data) > 255:
        raise ValueError("short APDUs only: at most 255 data bytes")
    command = bytes([cla, ins, p1, p2])
    if data:
        command += bytes([len(data)]) + data
    if le is not None:
        command += bytes([le & 0xFF])  # Le 00 asks for up to 256 bytes
    return command


def apdu_select_aid(aid: bytes) -> bytes:
    return _apdu(0x00, 0xA4, 0x04, 0x0C, aid)


def apdu_select_path(path: bytes) -> bytes:
    """SELECT by path from the current DF, 3F00 kept at its head (card.md §1.3), FCP asked."""
    return _apdu(0x00, 0xA4, 0x09, 0x04, path)


def apdu_read_binary(offset: int, length: int) -> bytes:
    if not 0 <= offset <= 0x7FFF:
        raise ValueError(f"READ BINARY offset {offset} out of 0..0x7FFF")
    if not 1 <= length <= MAX_READ:
        raise ValueError(f"READ BINARY length {length} out of 1..{MAX_READ:#x}")
    return _apdu(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length)


def apdu_get_response(length: int) -> bytes:
    return _apdu(0x00, 0xC0, 0x00, 0x00, le=length)


def pin_block(pin: str) -> bytes:
    """The PIN as the card takes it: ASCII digits padded with FF to 8 bytes.
    (The padding of a real CPS3 is not verified, card.md §7; the emulated card uses this one.)"""
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= _PIN_LENGTH):
        raise ValueError("a PIN is 4 to 8 digits")
    return pin.encode("ascii").ljust(_PIN_LENGTH, b"\xff")


def apdu_verify_pin(pin: str) -> bytes:
    return _apdu(0x00, 0x20, 0x00, PIN_REFERENCE, pin_block(pin))


def apdu_pin_status() -> bytes:
    """VERIFY without data (ISO 7816-4 §11.5.6): 9000 if verified, else 63Cx tries left."""
    return _apdu(0x00, 0x20, 0x00, PIN_REFERENCE)


def apdu_mse_set_authentication(
    key_reference: int = AUTH_KEY_REFERENCE, algorithm: int = ALGO_RSA_PKCS1
) -> bytes:
    """MSE SET AT: the authentication key and RSA PKCS#1 for INTERNAL AUTHENTICATE."""
    crt = bytes([0x84, 0x01, 0x80 | key_reference, 0x80, 0x01, algorithm])
    return _apdu(0x00, 0x22, 0x41, 0xA4, crt)


def apdu_mse_set_signature(
    key_reference: int = SIGN_KEY_REFERENCE, algorithm: int = ALGO_RSA_SHA256
) -> bytes:
    """MSE SET DST: the signature key and its algorithm for PSO COMPUTE DIGITAL SIGNATURE."""
    crt = bytes([0x84, 0x01, 0x80 | key_reference, 0x80, 0x01, algorithm])
    return _apdu(0x00, 0x22, 0x41, 0xB6, crt)


def apdu_pso_hash(digest: bytes) -> bytes:
    """PSO HASH with the whole SHA-256 hash computed by the host (ISO 7816-8 data object 90).

    A CPS3 also takes the intermediate state of a hash it finishes itself (card.md §1.3);
    ``hashlib`` cannot export that state, so the host sends the finished hash, which IAS-ECC
    accepts for a signature whose data never reaches the card."""
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    return _apdu(0x00, 0x2A, 0x90, 0xA0, bytes([0x90, 0x20]) + digest)


def apdu_pso_compute_signature() -> bytes:
    """PSO COMPUTE DIGITAL SIGNATURE over the hash given by PSO HASH."""
    return _apdu(0x00, 0x2A, 0x9E, 0x9A, le=0)


def apdu_internal_authenticate(digest_info: bytes) -> bytes:
    return _apdu(0x00, 0x88, 0x00, 0x00, digest_info, le=0)


def digest_info_sha256(digest: bytes) -> bytes:
    if len(digest) != 32:
        raise ValueError("a SHA-256 digest is 32 bytes")
    return SHA256_DIGEST_INFO_PREFIX + digest


def file_size_from_fcp(fcp: bytes) -> int:
    """The size of a transparent EF from its FCP template (62 L … 80 02 size … or 81 …)."""
    if len(fcp) < 2 or fcp[0] != 0x62:
        raise CardStatusError("the card's file control parameters are unreadable", sw=0x9000)
    body = fcp[2 : 2 + fcp[1]]
    at = 0
    while at + 2 <= len(body):
        tag, length = body[at], body[at + 1]
        value = body[at + 2 : at + 2 + length]
        if tag in (0x80, 0x81) and value:
            return int.from_bytes(value, "big")
        at += 2 + length
    raise CardStatusError("the card's file control parameters give no file size", sw=0x9000)


_MEANINGS = {
    0x6282: "end of file reached before the length asked",
    0x6700: "wrong length",
    0x6982: "security status not satisfied (PIN not verified)",
    0x6985: "conditions of use not satisfied",
    0x6A80: "incorrect data",
    0x6A82: "file or application not found",
    0x6A86: "incorrect P1/P2",
    0x6A88: "referenced data not found",
    0x6B00: "offset outside the file",
    0x6D00: "instruction not supported",
    0x6E00: "class not supported",
}


def check(response: Response, doing: str) -> Response:
    """``response`` if the card said 9000; else the error its status word means, naming
    ``doing`` (what we asked, e.g. "selecting the CPx application")."""
    if response.ok:
        return response
    # 63 C0: the wrong PIN that used the last try; 69 83: a PIN tried on a blocked card.
    if response.sw in (0x6983, 0x63C0):
        raise PinBlocked()
    if response.sw1 == 0x63 and response.sw2 & 0xF0 == 0xC0:
        raise WrongPin(response.sw2 & 0x0F)
    meaning = _MEANINGS.get(response.sw, "refused")
    raise CardStatusError(
        f"the card refused {doing}: {meaning} (status {response.sw:04X})", sw=response.sw
    )
