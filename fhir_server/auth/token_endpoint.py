"""The token endpoint's rules (RFC 6749 §4.4 client credentials, client authentication by
RFC 7523 assertion, as SMART Backend Services profiles them), apart from HTTP."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from fhir_server.auth.access_tokens import TokenSigner
from fhir_server.auth.client_assertion import ASSERTION_TYPE, ClientAssertions
from fhir_server.auth.errors import TokenRequestRefused
from fhir_server.auth.scopes import granted_scopes
from rights.errors import InputError

__all__ = ["TokenEndpoint"]

_REQUIRED = ("grant_type", "client_assertion_type", "client_assertion", "scope")


class TokenEndpoint:
    def __init__(self, assertions: ClientAssertions, signer: TokenSigner) -> None:
        self._assertions = assertions
        self._signer = signer

    async def grant(self, form: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """The token response (RFC 6749 §5.1) to the form ``form``, or ``TokenRequestRefused``."""
        # RFC 6749 §3.2: parameters "MUST NOT be included more than once".
        repeated = [name for name, count in Counter(n for n, _ in form).items() if count > 1]
        if repeated:
            raise TokenRequestRefused("invalid_request", f"{repeated[0]} is given more than once")
        values = {name: value for name, value in form if value}
        if "grant_type" not in values:
            raise TokenRequestRefused("invalid_request", "missing parameter grant_type")
        if values["grant_type"] != "client_credentials":
            raise TokenRequestRefused(
                "unsupported_grant_type",
                f"grant_type {values['grant_type'][:60]!r} is not supported; "
                "this server issues tokens for client_credentials only",
            )
        missing = [name for name in _REQUIRED if name not in values]
        if missing:
            raise TokenRequestRefused("invalid_request", f"missing parameter {missing[0]}")
        if values["client_assertion_type"] != ASSERTION_TYPE:
            raise TokenRequestRefused(
                "invalid_client",
                f"client_assertion_type must be {ASSERTION_TYPE} (private_key_jwt)",
            )
        client = await self._assertions.authenticate(values["client_assertion"])
        try:
            granted = granted_scopes(values["scope"].split(), client.scopes)
        except InputError as exc:
            raise TokenRequestRefused("invalid_scope", exc.message) from None
        if not granted:
            raise TokenRequestRefused(
                "invalid_scope",
                f"no scope asked is registered for client {client.name!r} "
                f"(registered: {' '.join(client.scopes)})",
            )
        return {
            "access_token": self._signer.issue(client.name, granted),
            "token_type": "bearer",
            "expires_in": self._signer.lifetime_s,
            "scope": " ".join(granted),
        }
