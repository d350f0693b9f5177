"""HTTPS for the API (``CDR_HTTP_TLS_*``): the server's TLS context, how uvicorn is given it
(one process or ``--workers N``), and the protocol that tells the app which client certificate
the connection was made with.

With a client CA file a client certificate is *asked*, not required (``CERT_OPTIONAL``): token
clients without one still connect, while a certificate those CAs did not sign fails the
handshake. The certificate a client presented reaches the app as the ASGI TLS extension
(``scope["extensions"]["tls"]``, asgiref specs/tls.rst), which uvicorn does not fill itself;
it is read once per connection, and a plain-HTTP server uses the protocol without it, so that
an API without TLS pays nothing per request.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from cryptography import x509

from cdr.http_guard import GuardedHttpProtocol, HttpLimits, guarded_protocol
from cdr.settings import Settings
from rights.errors import ConfigError

__all__ = [
    "HttpTls",
    "TlsGuardedHttpProtocol",
    "api_protocol",
    "http_tls",
    "tls_extension",
]

# The TLS versions as the protocol numbers them (RFC 5246 §6.2.1, RFC 8446 §4.1.2), which the
# ASGI extension's tls_version carries.
_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


@dataclass(frozen=True, slots=True)
class HttpTls:
    """The API's certificate (its key in ``key_file``, or in the same file) and the CAs whose
    client certificates are accepted. It pickles: uvicorn's worker processes get it."""

    cert_file: Path
    key_file: Path | None = None
    client_ca_file: Path | None = None

    def context(self) -> ssl.SSLContext:
        """TLS 1.2 or later; ``ConfigError`` naming the settings when a file cannot be used."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])  # the only protocol served
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
            if self.client_ca_file is not None:
                context.load_verify_locations(cafile=self.client_ca_file)
                context.verify_mode = ssl.CERT_OPTIONAL
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                "CDR_HTTP_TLS_CERT_FILE / CDR_HTTP_TLS_KEY_FILE / CDR_HTTP_TLS_CLIENT_CA_FILE: "
                f"cannot load the API's TLS files: {exc}"
            ) from exc
        return context

    @property
    def description(self) -> str:
        """What the start line says of the API's transport."""
        if self.client_ca_file is None:
            return "https"
        return "https, client certificates accepted"

    def uvicorn_options(self) -> dict[str, Any]:
        """The keyword arguments of ``uvicorn.Config`` / ``uvicorn.run`` that serve HTTPS so:
        our own context, made in each worker process, rather than uvicorn's ``ssl_*`` settings,
        which leave the minimum TLS version to the system's OpenSSL configuration."""
        factory: Callable[..., ssl.SSLContext] = functools.partial(_uvicorn_context, self)
        return {"ssl_context_factory": factory}


def _uvicorn_context(tls: HttpTls, _config: Any, _default: Any) -> ssl.SSLContext:
    return tls.context()


def http_tls(settings: Settings) -> HttpTls | None:
    """HTTPS when the settings give the API a certificate; None: plain HTTP."""
    if settings.http_tls_cert_file is None:
        return None
    return HttpTls(
        settings.http_tls_cert_file, settings.http_tls_key_file, settings.http_tls_client_ca_file
    )


def api_protocol(limits: HttpLimits, *, tls: bool) -> Any:
    """The ``http`` setting of uvicorn for the API: the guarded protocol, which tells the app
    the TLS extension when the API serves HTTPS."""
    if not tls:
        return guarded_protocol(limits)
    return functools.partial(TlsGuardedHttpProtocol, limits=limits)


def tls_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> dict[str, Any]:
    """The ASGI TLS extension of a connection. The client's certificate, when it sent one, was
    verified by the handshake (a certificate the CAs did not sign fails it): hence no
    ``client_cert_error``. Python's ``ssl`` tells neither the chain the client sent beyond its
    own certificate nor the cipher suite's IANA number: ``cipher_suite`` is None."""
    der = ssl_object.getpeercert(binary_form=True)
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)] if der else [],
        "client_cert_name": _subject(der) if der else None,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


def _subject(der: bytes) -> str | None:
    try:
        return x509.load_der_x509_certificate(der).subject.rfc4514_string()
    except ValueError:  # verified by OpenSSL, yet not parsed here: still the chain says who
        return None


class TlsGuardedHttpProtocol(GuardedHttpProtocol):
    """The guarded protocol over TLS: each request's scope carries the connection's TLS
    extension, read when the connection is made (after the handshake)."""

    _tls: dict[str, Any] | None = None

    def connection_made(self, transport: Any) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        self._tls = None if ssl_object is None else tls_extension(ssl_object)
        super().connection_made(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls is not None:
            # uvicorn types the extensions as dict[object, object]; ours are ASGI's, str-keyed.
            self.scope["extensions"] = {"tls": cast("dict[object, object]", self._tls)}
