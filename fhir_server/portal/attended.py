"""Attended mode at the portal (issue 13 item 4, issue 15 item 2): a card session's lookups are
signed by the card holder's card, which is at the desk, not here.

Before the form is sent, the page asks the portal for the assertion to sign
(``POST /consultation/assertion`` with the card's signature certificate, which the desk's agent
gives), has the agent sign it with the card's signature key (``/sign``), and sends the form with
the signing input and the signature. The portal accepts only a signing input it gave this very
session, once, within its life; the lookup then runs with that assertion on every regime call
(``CardSignatures.acting``). A session opened with Pro Santé Connect has no card: its lookups
are the structure's calls, the professional named in the audit trail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from contextlib import AbstractContextManager
from typing import Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fhir_server.portal.context import PortalContext
from fhir_server.portal.professional import Professional
from fhir_server.portal.session import check_csrf
from rights.errors import AuthError

__all__ = ["AttendedAssertions", "CardSignatures", "SignatureMissing"]

_ISSUED = "card_assertion"  # the SHA-256 of the signing input given, and when
_LIFE_S = 50  # an assertion lives 60 s at the regimes: the form must come back within this


class CardSignatures(Protocol):
    """What the composition root gives the portal for attended mode."""

    def signing_input(self, user: Professional, certificate: bytes) -> str:
        """``header.payload`` of the assertion naming ``user`` as the actor, its ``x5c`` the
        card's signature ``certificate`` (DER); ``AuthError`` when that certificate is not
        ``user``'s."""
        ...

    def acting(self, signing_input: str, signature: bytes) -> AbstractContextManager[None]:
        """Within it, every regime call carries this assertion."""
        ...


class SignatureMissing(AuthError):
    """A card session's consultation without a signature this session asked for."""


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _digest(signing_input: str) -> str:
    return hashlib.sha256(signing_input.encode("ascii")).hexdigest()


class AttendedAssertions:
    def __init__(self, portal: PortalContext, signatures: CardSignatures | None) -> None:
        self.portal = portal
        self.signatures = signatures

    def required(self, user: Professional) -> bool:
        return self.signatures is not None and user.login == "card"

    async def issue(self, request: Request) -> Response:
        """``POST /consultation/assertion`` ``{"csrf", "certificate"}``: the signing input."""
        user = await self.portal.signed_in(request)
        if isinstance(user, Response):
            return JSONResponse({"message": "Session expirée : reconnectez-vous."}, 401)
        if self.signatures is None or user.login != "card":
            return JSONResponse({"message": "Cette session ne signe pas par carte."}, 404)
        try:
            body = json.loads(await request.body())
            certificate = _decode(str(body["certificate"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return JSONResponse({"message": "Demande de signature illisible."}, 400)
        if not check_csrf(request, {"csrf": str(body.get("csrf", ""))}):
            return JSONResponse({"message": "Le formulaire a expiré : recommencez."}, 403)
        try:
            signing_input = self.signatures.signing_input(user, certificate)
        except AuthError as exc:
            return JSONResponse({"message": f"La carte ne peut pas signer : {exc.message}"}, 403)
        request.session[_ISSUED] = [_digest(signing_input), int(self.portal.clock())]
        return JSONResponse({"signing_input": signing_input}, headers={"Cache-Control": "no-store"})

    def acting(self, request: Request, fields: dict[str, str]) -> AbstractContextManager[None]:
        """The card holder's assertion for this consultation, checked against what this
        session was given (once); ``SignatureMissing`` otherwise."""
        assert self.signatures is not None
        issued = request.session.pop(_ISSUED, None)
        signing_input = fields.get("assertion_input", "")
        if not signing_input or not isinstance(issued, list) or len(issued) != 2:
            raise SignatureMissing("la consultation n'a pas été signée par votre carte")
        digest, at = issued
        if digest != _digest(signing_input) or self.portal.clock() - float(at) > _LIFE_S:
            raise SignatureMissing("la signature demandée a expiré ou ne vient pas de ce portail")
        try:
            signature = _decode(fields.get("assertion_signature", ""))
        except (ValueError, binascii.Error):
            raise SignatureMissing("la signature de la carte est illisible") from None
        if not signature:
            raise SignatureMissing("la signature de la carte manque")
        return self.signatures.acting(signing_input, signature)
