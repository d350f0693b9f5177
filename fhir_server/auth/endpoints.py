"""The auth endpoints over HTTP, as a middleware of the application's seam (``create_app(
middleware=...)``): the token endpoint and the SMART configuration, answered before any FHIR
route. Installed only when authentication is on."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from fhir_server.auth.access import SMART_CONFIGURATION_PATHS, TOKEN_PATH
from fhir_server.auth.errors import TokenRequestRefused, wire_text
from fhir_server.auth.ports import RefusalAudit, peer_of
from fhir_server.auth.smart_configuration import smart_configuration
from fhir_server.auth.token_endpoint import TokenEndpoint
from rights.caller import Caller, Entry

__all__ = ["AuthEndpoints"]

# A token request is a few parameters and one assertion of a few kilobytes.
_MAX_FORM_BYTES = 65_536


class AuthEndpoints:
    def __init__(
        self,
        app: ASGIApp,
        *,
        endpoint: TokenEndpoint,
        token_url: str,
        audit: RefusalAudit | None = None,
    ) -> None:
        """``audit``: each refused token request recorded in the audit trail."""
        self.app = app
        self.endpoint = endpoint
        self.audit = audit
        self.configuration = orjson.dumps(smart_configuration(token_url))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path == TOKEN_PATH:
            await self._token(scope, receive, send)
        elif path in SMART_CONFIGURATION_PATHS and scope["method"] in ("GET", "HEAD"):
            await _send_json(send, 200, self.configuration, head=scope["method"] == "HEAD")
        else:
            await self.app(scope, receive, send)

    async def _token(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            if scope["method"] != "POST":
                raise TokenRequestRefused("invalid_request", "the token endpoint takes POST")
            form = await _read_form(scope, receive)
            if form is None:  # the client left before its whole body: no one to answer
                return
            answer: dict[str, Any] = await self.endpoint.grant(form)
        except TokenRequestRefused as exc:
            # RFC 6749 §5.2: the error as JSON, 400 (401 for invalid_client).
            status = 405 if scope["method"] != "POST" else exc.status
            body = {"error": exc.error, "error_description": wire_text(exc.message)}
            if self.audit is not None:
                await self.audit(
                    Caller(Entry.FHIR, "", peer_of(scope)),
                    f"{exc.error}: {exc.message}",
                    interaction="login",
                    target=f"{scope['method']} {TOKEN_PATH}",
                )
            allow = [(b"allow", b"POST")] if status == 405 else []
            await _send_json(send, status, orjson.dumps(body), extra=allow)
            return
        await _send_json(send, 200, orjson.dumps(answer))


async def _read_form(scope: Scope, receive: Receive) -> list[tuple[str, str]] | None:
    headers = scope.get("state", {}).get("headers", {})
    media = headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        # RFC 6749 §4.4.2: the parameters in the application/x-www-form-urlencoded format.
        raise TokenRequestRefused(
            "invalid_request", "the token request must be application/x-www-form-urlencoded"
        )
    raw = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        raw += message.get("body", b"")
        if len(raw) > _MAX_FORM_BYTES:
            raise TokenRequestRefused("invalid_request", "the token request is too large")
        if not message.get("more_body", False):
            break
    try:
        return parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise TokenRequestRefused("invalid_request", "the token request is not UTF-8") from None


async def _send_json(
    send: Send,
    status: int,
    body: bytes,
    *,
    head: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        # RFC 6749 §5.1: token responses are never cached.
        (b"cache-control", b"no-store"),
        (b"pragma", b"no-cache"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
