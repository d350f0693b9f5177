"""The card agent of a desk (`cdr card agent`, issue 15): the small loopback HTTP service through
which the staff portal, served from the hospital's data centre, reaches the CPx card in the
reader of the workstation it runs on.

It answers only the portal's origin (CORS, checked on every request: a page of any other site
gets a 403, not a card) and only on loopback (the ``Host`` header is checked too, against DNS
rebinding). The PIN goes from the page to this agent and on to the card, never to the gateway
and never into a log. After a login the card stays open, its PIN verified, for the attended
signatures of the portal's lookups; removing the card ends that session, and the page hears it
on ``/events``.

- ``GET /card``: the reader and the card in it, who holds it, the PIN's tries left (in a
  session: the signature certificate, which an attended assertion names).
- ``POST /login`` ``{"challenge", "pin"}``: the PIN verified, the portal's challenge signed
  with the authentication key; the holder, both certificates and the signature come back.
- ``POST /sign`` ``{"data"}``: ``data`` signed with the signature key (an attended assertion's
  JWS signing input), in the session opened by ``/login``.
- ``POST /logout``: the card closed (reset: the PIN is no longer verified).
- ``GET /events``: server-sent events, ``card`` with ``{"present", "session"}`` at each change.

Binary values travel in base64url without padding. Every refusal is JSON ``{"code",
"message"}``, the message in French for the page to show.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime
import json
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from card.apdu import pin_block
from card.errors import (
    CardError,
    CardRemoved,
    CardServiceUnavailable,
    NoCard,
    NoReader,
    PinBlocked,
    UnknownCard,
    WrongPin,
)
from card.holder import CardHolder, holder_from_certificate
from card.reader import CardReader, OpenCard, cpx_certificates
from rights.errors import CdrError

__all__ = ["AgentRefusal", "CardAgent", "b64url", "create_agent_app", "from_b64url"]

MAX_BODY = 16 * 1024
EVENT_POLL_S = 0.5


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AgentRefusal(CdrError):
    """What the page is told: an HTTP status, a code it can act on, a French message."""

    def __init__(self, status: int, code: str, message: str, tries_left: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.tries_left = tries_left

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.tries_left is not None:
            body["tries_left"] = self.tries_left
        return JSONResponse(body, status_code=self.status)


def refusal_of(error: CardError) -> AgentRefusal:
    """A card error as the person at the desk reads it."""
    if isinstance(error, WrongPin):
        plural = "essais restants" if error.tries_left > 1 else "essai restant"
        return AgentRefusal(
            401,
            "wrong-pin",
            f"Code PIN erroné : {error.tries_left} {plural} avant le blocage de la carte.",
            error.tries_left,
        )
    if isinstance(error, PinBlocked):
        return AgentRefusal(
            423,
            "pin-blocked",
            "Carte bloquée après trois codes PIN erronés : débloquez-la avec son code PUK.",
            0,
        )
    if isinstance(error, CardServiceUnavailable):
        return AgentRefusal(
            503, "no-service", "Le service des cartes à puce (pcscd) ne répond pas sur ce poste."
        )
    if isinstance(error, NoReader):
        return AgentRefusal(503, "no-reader", "Aucun lecteur de carte n'est branché sur ce poste.")
    if isinstance(error, NoCard):
        return AgentRefusal(
            409, "no-card", "Aucune carte dans le lecteur : insérez votre carte CPx."
        )
    if isinstance(error, CardRemoved):
        return AgentRefusal(409, "card-removed", "La carte a été retirée du lecteur.")
    if isinstance(error, UnknownCard):
        return AgentRefusal(
            409, "unknown-card", "Cette carte n'est pas une carte CPx (CPS, CPE, CPF)."
        )
    return AgentRefusal(502, "card-error", f"La carte n'a pas pu répondre ({error.message}).")


@dataclass
class _Session:
    card: OpenCard
    holder: CardHolder
    reader: str
    signature_certificate: bytes  # DER: what an attended assertion names in its x5c


class CardAgent:
    """The card side of the agent; every card operation holds one lock (one card, one
    conversation at a time) and runs in a worker thread (PC/SC calls block)."""

    def __init__(self, reader: CardReader, now: Callable[[], datetime.datetime]) -> None:
        self._reader = reader
        self._now = now
        self._lock = threading.Lock()
        self._session: _Session | None = None

    @property
    def in_session(self) -> bool:
        return self._session is not None

    def status(self) -> dict[str, Any]:
        with self._lock:
            if self._session is not None:
                holder = self._session.holder
                return {
                    "reader": self._session.reader,
                    "present": True,
                    "session": True,
                    "holder": holder.as_dict(),
                    "pin_tries_left": None,
                    "signature_certificate": b64url(self._session.signature_certificate),
                }
            with self._reader.open() as card:
                holder = holder_from_certificate(cpx_certificates(card)[1])
                return {
                    "reader": card.reader,
                    "present": True,
                    "session": False,
                    "card_family": card.family.value,
                    "holder": holder.as_dict(),
                    "certificate_valid": holder.valid_at(self._now()),
                    "pin_tries_left": card.pin_tries_left(),
                }

    def login(self, challenge: bytes, pin: str) -> dict[str, Any]:
        try:
            pin_block(pin)
        except ValueError:
            raise AgentRefusal(400, "bad-pin", "Le code PIN compte de 4 à 8 chiffres.") from None
        with self._lock:
            self._close()
            card = self._reader.open()
            try:
                auth_der, sign_der = cpx_certificates(card)
                holder = holder_from_certificate(sign_der)
                if not holder.valid_at(self._now()):
                    raise AgentRefusal(
                        409,
                        "certificate-expired",
                        "Le certificat de la carte n'est pas en cours de validité.",
                    )
                tries = card.pin_tries_left()
                if tries == 0:
                    raise PinBlocked()
                if tries is not None:
                    card.verify_pin(pin)
                signature = card.sign_challenge(challenge)
            except BaseException:
                card.close()
                raise
            self._session = _Session(card, holder, card.reader, sign_der)
            return {
                "reader": card.reader,
                "holder": holder.as_dict(),
                "certificate": b64url(auth_der),
                "signature_certificate": b64url(sign_der),
                "signature": b64url(signature),
            }

    def sign(self, data: bytes) -> bytes:
        with self._lock:
            session = self._session
            if session is None:
                raise AgentRefusal(
                    401, "no-session", "Aucune session de carte : identifiez-vous avec votre carte."
                )
            try:
                return session.card.sign_data(data)
            except CardError:
                self._close()  # a card that cannot sign is not a session any more
                raise

    def logout(self) -> None:
        with self._lock:
            self._close()

    def present(self) -> bool:
        """Whether a card is in a reader now; a session whose card left is ended."""
        try:
            reader = self._reader.wait_for_insertion(0)
        except CardError:
            reader = None
        with self._lock:
            if self._session is not None and reader != self._session.reader:
                self._close()
        return reader is not None

    def _close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            with contextlib.suppress(CardError):  # gone with the card: nothing left to reset
                session.card.close()


class _OnlyThePortal:
    """Refuses any request not from the portal's origin or not addressed to loopback, and gives
    the portal the CORS answers a browser needs (preflight, private network access)."""

    def __init__(self, app: ASGIApp, origin: str, hosts: frozenset[str]) -> None:
        self.app = app
        self.origin = origin
        self.hosts = hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if headers.get("host") not in self.hosts:
            refusal = AgentRefusal(403, "forbidden-host", "Adresse non autorisée.")
            await refusal.response()(scope, receive, send)
            return
        if headers.get("origin") != self.origin:
            refusal = AgentRefusal(
                403,
                "forbidden-origin",
                "Seul le portail de l'établissement peut utiliser la carte.",
            )
            await refusal.response()(scope, receive, send)
            return
        cors = {"Access-Control-Allow-Origin": self.origin, "Vary": "Origin"}
        if scope["method"] == "OPTIONS":
            cors.update(
                {
                    "Access-Control-Allow-Methods": "GET, POST",
                    "Access-Control-Allow-Headers": "Content-Type",
                    "Access-Control-Max-Age": "600",
                }
            )
            if headers.get("access-control-request-private-network") == "true":
                # Chrome's Private Network Access: a page from the data centre may call loopback.
                cors["Access-Control-Allow-Private-Network"] = "true"
            await Response(status_code=204, headers=cors)(scope, receive, send)
            return

        async def send_with_cors(message: Any) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in cors.items()]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _json_body(request: Request, *fields: str) -> dict[str, str]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise AgentRefusal(413, "too-large", "Requête trop volumineuse.")
    try:
        values = json.loads(body)
    except ValueError:
        raise AgentRefusal(400, "bad-request", "Requête illisible (JSON attendu).") from None
    if not isinstance(values, dict) or not all(isinstance(values.get(f), str) for f in fields):
        raise AgentRefusal(400, "bad-request", f"Champs attendus : {', '.join(fields)}.")
    return values


def _decoded(text: str, field: str) -> bytes:
    try:
        return from_b64url(text)
    except (binascii.Error, ValueError):
        raise AgentRefusal(400, "bad-request", f"{field} : base64url attendu.") from None


def create_agent_app(agent: CardAgent, *, origin: str, port: int) -> ASGIApp:
    """The agent's HTTP app for ``origin`` (e.g. ``http://127.0.0.1:8080``), served on
    ``127.0.0.1:port`` (``localhost:port`` is accepted too)."""

    async def guarded(work: Callable[[], Any]) -> Any:
        try:
            return await run_in_threadpool(work)
        except CardError as exc:
            raise refusal_of(exc) from None

    async def card(_request: Request) -> Response:
        try:
            return JSONResponse(await guarded(agent.status))
        except AgentRefusal as refusal:
            if refusal.code in ("no-card", "no-reader", "no-service"):
                body = {"present": False, "session": False, "code": refusal.code}
                return JSONResponse({**body, "message": refusal.message})
            return refusal.response()

    async def login(request: Request) -> Response:
        values = await _json_body(request, "challenge", "pin")
        challenge = _decoded(values["challenge"], "challenge")
        return JSONResponse(await guarded(lambda: agent.login(challenge, values["pin"])))

    async def sign(request: Request) -> Response:
        values = await _json_body(request, "data")
        data = _decoded(values["data"], "data")
        signature = await guarded(lambda: agent.sign(data))
        return JSONResponse({"signature": b64url(signature)})

    async def logout(_request: Request) -> Response:
        await run_in_threadpool(agent.logout)
        return JSONResponse({"session": False})

    async def events(request: Request) -> Response:
        async def stream() -> AsyncIterator[str]:
            last: tuple[bool, bool] | None = None
            while not await request.is_disconnected():
                present = await run_in_threadpool(agent.present)
                state = (present, agent.in_session)
                if state != last:
                    last = state
                    data = json.dumps({"present": state[0], "session": state[1]})
                    yield f"event: card\ndata: {data}\n\n"
                await asyncio.sleep(EVENT_POLL_S)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )

    async def refused(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, AgentRefusal)
        return exc.response()

    app = Starlette(
        routes=[
            Route("/card", card, methods=["GET"]),
            Route("/login", login, methods=["POST"]),
            Route("/sign", sign, methods=["POST"]),
            Route("/logout", logout, methods=["POST"]),
            Route("/events", events, methods=["GET"]),
        ],
        exception_handlers={AgentRefusal: refused},
    )
    hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})
    return _OnlyThePortal(app, origin.rstrip("/"), hosts)
