"""The emulated CPx card: a CPS3 (IAS-ECC) as far as this gateway uses one.

It answers command APDUs the way the traces of reference/card.md §1.3 show a CPS3 answering:
SELECT by AID with P2=0C, SELECT by path P1=09/P2=04 returning its FCP through ``61 xx`` and
GET RESPONSE, READ BINARY capped at 0xE7 bytes, VERIFY with a 3-try counter (``63 Cx``, then
``69 83`` once blocked), MSE SET AT and INTERNAL AUTHENTICATE signing the DigestInfo it is sent
(RSA PKCS#1 v1.5) with the profile's authentication key, and MSE SET DST, PSO HASH (the host's
SHA-256) and PSO COMPUTE DIGITAL SIGNATURE with its signature key, both keys from the test PKI.
``card.vpcd`` puts it behind the virtual reader.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

from card.apdu import CPX_AID, MAX_READ, SHA256_DIGEST_INFO_PREFIX, pin_block
from card.cps import AUTH_CERT_PATH, EF_SN_ICC_PATH, SIGN_CERT_PATH

__all__ = ["CPS3_CONTACT_ATR", "EmulatedCpx", "emulated_card_from_pki"]

CPS3_CONTACT_ATR = bytes.fromhex("3BAC00402A001225006480000310009000")
PIN_TRIES = 3
_EXPECTED_MSE = bytes([0x84, 0x01, 0x81, 0x80, 0x01, 0x02])
_EXPECTED_DST = bytes([0x84, 0x01, 0x82, 0x80, 0x01, 0x42])
_AUTHENTICATION, _SIGNATURE = "authentication", "signature"


def _sw(value: int, data: bytes = b"") -> bytes:
    return data + value.to_bytes(2, "big")


def _fcp(size: int, fid: bytes) -> bytes:
    body = bytes([0x80, 0x02]) + size.to_bytes(2, "big") + bytes([0x82, 0x01, 0x01, 0x83, 0x02])
    body += fid
    return bytes([0x62, len(body)]) + body


@dataclass
class EmulatedCpx:
    """One card: its files (full path → content), its PIN, the key behind INTERNAL
    AUTHENTICATE and the one behind PSO COMPUTE DIGITAL SIGNATURE. State that a real card
    loses at power-off (PIN verified, security environment, hash, selected file) is reset by
    ``power_on``; the try counter survives it."""

    files: dict[bytes, bytes]
    pin: str
    auth_key: rsa.RSAPrivateKey
    sign_key: rsa.RSAPrivateKey
    atr: bytes = CPS3_CONTACT_ATR
    tries_left: int = PIN_TRIES
    _verified: bool = field(default=False, init=False)
    _selected: bytes | None = field(default=None, init=False)
    _environment: str | None = field(default=None, init=False)
    _hash: bytes | None = field(default=None, init=False)
    _pending: bytes = field(default=b"", init=False)

    def power_on(self) -> None:
        self._verified = False
        self._selected = None
        self._environment = None
        self._hash = None
        self._pending = b""

    def handle(self, command: bytes) -> bytes:
        """The response APDU (data + SW1 SW2) to one command APDU."""
        if len(command) < 4:
            return _sw(0x6700)
        cla, ins, p1, p2 = command[:4]
        body = command[4:]
        data = body[1 : 1 + body[0]] if len(body) > 1 else b""
        if len(body) > 1 and len(data) != body[0]:
            return _sw(0x6700)
        le = body[-1] if len(body) == 1 or len(body) == 2 + len(data) else None
        if cla != 0x00:
            return _sw(0x6E00)
        if ins != 0xC0:
            self._pending = b""  # a response not fetched at once is lost, as on T=0
        handlers = {
            0xA4: self._select,
            0xB0: self._read_binary,
            0xC0: self._get_response,
            0x20: self._verify,
            0x22: self._manage_security_environment,
            0x88: self._internal_authenticate,
            0x2A: self._perform_security_operation,
        }
        handler = handlers.get(ins)
        if handler is None:
            return _sw(0x6D00)
        return handler(p1, p2, data, le)

    def _announce(self, data: bytes) -> bytes:
        # T=0: the data waits for GET RESPONSE; 61 00 announces 256 bytes or more.
        self._pending = data
        return _sw(0x6100 | (min(len(data), 256) & 0xFF))

    def _select(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if p1 == 0x04:
            if p2 != 0x0C:
                return _sw(0x6A86)
            return _sw(0x9000) if data == CPX_AID else _sw(0x6A82)
        if p1 == 0x09:
            if p2 != 0x04:
                return _sw(0x6A86)
            content = self.files.get(data)
            if content is None:
                return _sw(0x6A82)
            self._selected = data
            return self._announce(_fcp(len(content), data[-2:]))
        return _sw(0x6A86)

    def _read_binary(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if self._selected is None:
            return _sw(0x6986)
        content = self.files[self._selected]
        offset = (p1 << 8) | p2
        if offset >= len(content):
            return _sw(0x6B00)
        wanted = min(le or 256, MAX_READ)
        return _sw(0x9000, content[offset : offset + wanted])

    def _get_response(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if not self._pending:
            return _sw(0x6985)
        wanted = le or 256
        chunk, self._pending = self._pending[:wanted], self._pending[wanted:]
        if self._pending:
            rest = self._pending
            self._pending = b""
            return chunk + self._announce(rest)
        return _sw(0x9000, chunk)

    def _verify(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if p1 != 0x00 or p2 != 0x01:
            return _sw(0x6A88)
        if self.tries_left == 0:
            return _sw(0x6983)
        if not data:  # the PIN's status, nothing tried
            return _sw(0x9000) if self._verified else _sw(0x63C0 | self.tries_left)
        if len(data) != 8:
            return _sw(0x6700)
        if data == pin_block(self.pin):
            self.tries_left = PIN_TRIES
            self._verified = True
            return _sw(0x9000)
        self.tries_left -= 1
        self._verified = False
        return _sw(0x63C0 | self.tries_left)

    def _manage_security_environment(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        self._hash = None
        if (p1, p2) == (0x41, 0xA4) and data == _EXPECTED_MSE:
            self._environment = _AUTHENTICATION
            return _sw(0x9000)
        if (p1, p2) == (0x41, 0xB6) and data == _EXPECTED_DST:
            self._environment = _SIGNATURE
            return _sw(0x9000)
        self._environment = None
        return _sw(0x6A80)

    def _internal_authenticate(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if not self._verified:
            return _sw(0x6982)
        if self._environment != _AUTHENTICATION:
            return _sw(0x6985)
        prefix, digest = (
            data[: len(SHA256_DIGEST_INFO_PREFIX)],
            data[len(SHA256_DIGEST_INFO_PREFIX) :],
        )
        if prefix != SHA256_DIGEST_INFO_PREFIX or len(digest) != 32:
            return _sw(0x6A80)
        signature = self.auth_key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        return self._announce(signature)

    def _perform_security_operation(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if (p1, p2) == (0x90, 0xA0):  # PSO HASH: the whole hash, data object 90
            if self._environment != _SIGNATURE:
                return _sw(0x6985)
            if len(data) != 34 or data[:2] != bytes([0x90, 0x20]):
                return _sw(0x6A80)
            self._hash = data[2:]
            return _sw(0x9000)
        if (p1, p2) == (0x9E, 0x9A):  # PSO COMPUTE DIGITAL SIGNATURE
            if not self._verified:
                return _sw(0x6982)
            if self._environment != _SIGNATURE or self._hash is None:
                return _sw(0x6985)
            digest, self._hash = self._hash, None  # one signature per hash given
            signature = self.sign_key.sign(
                digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256())
            )
            return self._announce(signature)
        return _sw(0x6A86)


def _private_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} is not an RSA key")
    return key


def _serial(national_id: str) -> bytes:
    # EF.SN.ICC: 5A 0A, ANS's issuer number 80 25 00 00 01, then 5 bytes of card serial.
    tail = hashlib.sha256(national_id.encode("utf-8")).digest()[:5]
    return bytes([0x5A, 0x0A]) + bytes.fromhex("8025000001") + tail


def _der(path: Path) -> bytes:
    return x509.load_pem_x509_certificate(path.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )


def emulated_card_from_pki(pki_directory: Path, profile: str, *, pin: str) -> EmulatedCpx:
    """The card of ``profile`` (``card.pki.PROFILES``) with its certificates and its two keys
    from a test PKI written by ``cdr pki init``."""
    card_dir = pki_directory / "cards" / profile
    auth = _der(card_dir / "auth.pem")
    holder_cn = x509.load_der_x509_certificate(auth).subject.rfc4514_string()
    pin_block(pin)  # refuses a PIN the card could never be sent
    return EmulatedCpx(
        files={
            EF_SN_ICC_PATH: _serial(holder_cn),
            AUTH_CERT_PATH: auth,
            SIGN_CERT_PATH: _der(card_dir / "sign.pem"),
        },
        pin=pin,
        auth_key=_private_key(card_dir / "auth.key"),
        sign_key=_private_key(card_dir / "sign.key"),
    )
