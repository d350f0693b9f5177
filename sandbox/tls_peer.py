"""uvicorn's httptools protocol, telling the app which client certificate the TLS connection
was made with: the ASGI TLS extension (``scope["extensions"]["tls"]["client_cert_chain"]``,
PEM), which uvicorn does not fill itself. The sandbox needs it to bind each signed assertion to
the connection it came on (decision 0008).

It extends uvicorn's private protocol class, as ``cdr/http_protocol.py`` does; pyproject pins
uvicorn to the minor release both were written against, and a test fails when that API moves.
"""

from __future__ import annotations

import asyncio
import ssl

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["TlsPeerHttpProtocol", "client_certificate_der"]


class TlsPeerHttpProtocol(HttpToolsProtocol):
    _peer_chain: list[str]

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._peer_chain = []
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            der = ssl_object.getpeercert(binary_form=True)
            if der:
                self._peer_chain = [ssl.DER_cert_to_PEM_cert(der)]
        super().connection_made(transport)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {"tls": {"client_cert_chain": self._peer_chain}}


def client_certificate_der(scope: object) -> bytes | None:
    """The DER of the client certificate of the connection ``scope`` came on, if any."""
    extensions = scope.get("extensions") if isinstance(scope, dict) else None
    chain = (extensions or {}).get("tls", {}).get("client_cert_chain") or []
    return ssl.PEM_cert_to_DER_cert(chain[0]) if chain else None
