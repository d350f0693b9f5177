"""The key the gateway signs its access tokens with: ``CDR_AUTH_TOKEN_KEY_FILE``, or one made
on first start in the data directory (EC P-384, readable by its owner only) and kept there, so
that tokens outlive a restart and every worker process of `cdr serve` signs with the same key.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from fhir_server.auth import SigningKey
from rights.errors import ConfigError

__all__ = ["load_or_create_token_key"]

_CURVES = ("secp256r1", "secp384r1")


def load_or_create_token_key(path: Path, *, create: bool) -> SigningKey:
    """The key in ``path``; made there first when ``create`` and it does not exist yet."""
    if create and not path.exists():
        _create(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise ConfigError(f"CDR_AUTH_TOKEN_KEY_FILE: cannot read {path}: {exc.strerror}") from None
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"CDR_AUTH_TOKEN_KEY_FILE: {path} is no unencrypted PEM private key ({exc})"
        ) from None
    if isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048:
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _CURVES:
        return key
    raise ConfigError(
        f"CDR_AUTH_TOKEN_KEY_FILE: {path} must hold an RSA key of 2048 bits or more, "
        "or an EC key on P-256 or P-384"
    )


def _create(path: Path) -> None:
    """Written whole under a temporary name, then linked into place: another process starting
    at the same time either finds no file or a complete one, and the first link wins."""
    pem = ec.generate_private_key(ec.SECP384R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process made it first: theirs
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
