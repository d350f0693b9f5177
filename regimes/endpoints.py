"""Where one regime's service is and who the gateway is to it: its endpoint.

The composition root builds one ``RegimeEndpoint`` per regime from the settings (a default for
all, overrides per regime): the base URL, the TLS context (the CAs trusted, the client
certificate presented) and the identity that certificate stands for. The identity is part of the
transport's pool key, so a connection opened for one identity is never used for another.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from rights.errors import ConfigError

__all__ = [
    "ANONYMOUS",
    "RegimeEndpoint",
    "client_tls_context",
    "identity_of",
    "tls_client_context",
]

ANONYMOUS = ""  # no client certificate


@dataclass(frozen=True, slots=True)
class RegimeEndpoint:
    """A regime service: ``url`` is the base URL the ``/regimes/<code>/`` paths are below;
    ``ssl_context`` is used for https (None: the system's CAs, no client certificate);
    ``identity`` names the client certificate it presents (``ANONYMOUS``: none)."""

    url: str
    identity: str = ANONYMOUS
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)


def client_tls_context(
    ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """``tls_client_context`` for the regime services, which speak HTTP/1.1 only."""
    context = tls_client_context(ca_file, cert_file, key_file)
    # The regime transport speaks HTTP/1.1 only: say so, so that a server never picks h2.
    context.set_alpn_protocols(["http/1.1"])
    return context


def tls_client_context(
    ca_file: Path | None = None, cert_file: Path | None = None, key_file: Path | None = None
) -> ssl.SSLContext:
    """A TLS client context (TLS 1.2 at least, the standard library's default) trusting
    ``ca_file`` (the system's CAs when None) and presenting ``cert_file`` with ``key_file`` (the
    key may be in the certificate file) when given; ``ConfigError`` naming the files."""
    try:
        context = ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))
        if cert_file is not None:
            context.load_cert_chain(str(cert_file), None if key_file is None else str(key_file))
    except (ssl.SSLError, OSError) as exc:
        files = ", ".join(str(f) for f in (ca_file, cert_file, key_file) if f is not None)
        raise ConfigError(f"cannot use the TLS files {files}: {exc}") from exc
    return context


def identity_of(cert_file: Path | None) -> str:
    """The identity a client certificate stands for: the SHA-256 of its file, so that two
    certificates are never taken for one, whatever their file names."""
    if cert_file is None:
        return ANONYMOUS
    return "sha256:" + hashlib.sha256(cert_file.read_bytes()).hexdigest()
