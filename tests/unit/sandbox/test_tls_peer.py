"""sandbox.tls_peer extends uvicorn's private protocol like cdr/http_protocol.py: this fails,
loudly, when the two methods it relies on move (uvicorn is pinned to 0.55.x for both)."""

from __future__ import annotations

import inspect

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sandbox.tls_peer import client_certificate_der


def test_the_private_methods_we_extend_are_still_there() -> None:
    begin = inspect.getsource(HttpToolsProtocol.on_message_begin)
    assert "self.scope = {" in begin  # the scope we add the TLS extension to, made per request
    assert list(inspect.signature(HttpToolsProtocol.connection_made).parameters)[:2] == [
        "self",
        "transport",
    ]


def test_no_tls_extension_means_no_client_certificate() -> None:
    assert client_certificate_der({"type": "http"}) is None
    assert client_certificate_der({"extensions": {"tls": {"client_cert_chain": []}}}) is None
