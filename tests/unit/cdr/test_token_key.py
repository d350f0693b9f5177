"""The gateway's token signing key: made once, owner-only, reused; a bad file refused in one
line."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cdr.token_key import load_or_create_token_key
from rights.errors import ConfigError


def test_a_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "data" / "auth-token-key.pem"
    made = load_or_create_token_key(path, create=True)
    assert path.stat().st_mode & 0o777 == 0o600
    again = load_or_create_token_key(path, create=True)
    assert again.private_numbers() == made.private_numbers()  # type: ignore[union-attr]
    assert [p.name for p in path.parent.iterdir()] == ["auth-token-key.pem"]  # no leftover


@pytest.mark.parametrize(
    ("content", "expects"),
    [
        (b"not a key", "no unencrypted PEM private key"),
        (
            ec.generate_private_key(ec.SECP521R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "P-256 or P-384",
        ),
    ],
    ids=["not-pem", "p521"],
)
def test_a_given_key_that_cannot_sign_is_refused(
    tmp_path: Path, content: bytes, expects: str
) -> None:
    path = tmp_path / "key.pem"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as refused:
        load_or_create_token_key(path, create=False)
    assert refused.value.message.startswith("CDR_AUTH_TOKEN_KEY_FILE: ")
    assert expects in refused.value.message
