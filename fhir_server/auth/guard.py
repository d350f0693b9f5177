"""The bearer token check of every FHIR request but the public ones (`$submit` included: this
middleware is given to ``create_app``, outside its direct dispatch). Its refusals are raised
into the edge, which answers them as OperationOutcomes (``fhir_server.outcome``).

The other way in is mutual TLS: a request without an ``Authorization`` header, on a connection
made with a client certificate (the ASGI TLS extension), is its registered client's, with that
client's scopes (``certificates``; None when the API asks no certificate). A request with both
is judged by its token alone: the header says which way the client chose, and a bad token is
refused even on a registered connection.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from fhir_server.auth.access import interaction_of, needs_token
from fhir_server.auth.access_tokens import AccessGrant, TokenVerifier
from fhir_server.auth.certificates import CertificateClients, client_certificate
from fhir_server.auth.errors import InsufficientScope, InvalidToken
from fhir_server.auth.ports import RefusalAudit, peer_of
from fhir_server.auth.scopes import allows, scope_text
from fhir_server.edge import request_headers
from rights.caller import Caller, Entry

__all__ = ["BearerGuard"]


class BearerGuard:
    """``audit``: each refusal recorded in the audit trail before it is answered."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier,
        certificates: CertificateClients | None = None,
        audit: RefusalAudit | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.certificates = certificates
        self.audit = audit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not needs_token(scope["path"]):
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        headers = state.get("headers") or request_headers(scope["headers"])
        method, path = scope["method"], scope["path"]
        interaction = interaction_of(method, path)
        client = ""
        try:
            grant = await self._grant(scope, headers.get("authorization"))
            client = grant.client
            if interaction is None:
                raise InsufficientScope(f"no scope grants {method} {path[:120]}", scope="")
            if not allows(grant.grants, interaction.resource_type, interaction.permission):
                needed = scope_text(interaction.resource_type, interaction.permission)
                raise InsufficientScope(
                    f"{interaction.name} of {interaction.resource_type[:64]} needs the scope "
                    f"{needed} (or one that covers it)",
                    scope=needed,
                )
        except (InvalidToken, InsufficientScope) as exc:
            if self.audit is not None:
                await self.audit(
                    Caller(Entry.FHIR, client, peer_of(scope)),
                    exc.message,
                    interaction=_RESTFUL.get(interaction.name, interaction.name)
                    if interaction is not None
                    else "operation",
                    target=f"{method} {path[:200]}",
                )
            raise
        state["client"] = client  # who asked, for what comes after (logs, audit)
        await self.app(scope, receive, send)

    async def _grant(self, scope: Scope, authorization: str | None) -> AccessGrant:
        if authorization is None and self.certificates is not None:
            certificate = client_certificate(scope)
            if certificate is not None:
                return await self.certificates.grant(*certificate)
            raise InvalidToken(
                "this request needs a bearer token (Authorization: Bearer ...) or a registered "
                "client certificate",
                present=False,
            )
        return await self.verifier.verify(_bearer_token(authorization or ""))


# The interactions as AuditEvent.subtype names them (http://hl7.org/fhir/restful-interaction).
_RESTFUL = {"$submit": "operation"}


def _bearer_token(authorization: str) -> str:
    # RFC 6750 §2.1: "Bearer" (case-insensitive, RFC 9110 §11.1) and one token.
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise InvalidToken(
            "this request needs a bearer token (Authorization: Bearer ...)", present=False
        )
    if not token.strip() or " " in token.strip():
        raise InvalidToken("the Authorization header holds no single bearer token")
    return token.strip()
