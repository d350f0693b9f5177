"""The edge of the HTTP application: what every request passes through before its route.

``EdgeMiddleware`` (correlation id, format negotiation, metrics, the OperationOutcome for any
unexpected exception) and ``DirectDispatch`` (the innermost middleware, serving `$submit`
without FastAPI's routing layers), with the helpers they share.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_server.context import correlation_id
from fhir_server.formats import FHIR_JSON, response_media_type

__all__ = [
    "DirectDispatch",
    "EdgeMiddleware",
    "Endpoint",
    "ObserveHttp",
    "new_correlation_id",
    "request_headers",
]

ObserveHttp = Callable[[str, str, int, float], None]
log = logging.getLogger("cdr.http")


def new_correlation_id() -> str:
    # The shape of uuid4().hex; a label for logs, not a secret: no system call per request.
    return f"{random.getrandbits(128):032x}"


def request_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """The request's headers by lower-case name. A header sent more than once keeps every
    value, joined by ", " as RFC 9110 §5.3 allows for list-valued fields (``Prefer:
    respond-async`` then ``Prefer: handling=strict`` reads as both)."""
    headers: dict[str, str] = {}
    for key, value in raw:
        name = key.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[name] = f"{headers[name]}, {text}" if name in headers else text
    return headers


class EdgeMiddleware:
    """Pure ASGI (no per-request copy): correlation id in and out, format negotiation for
    /fhir, HTTP metrics, and the last line of defence that turns any unexpected exception into
    an OperationOutcome 500 instead of a stack trace."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        fail: Callable[[Request, Exception], Response],
        observe_http: ObserveHttp | None,
    ) -> None:
        self.app = app
        self.fail = fail
        self.observe_http = observe_http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = request_headers(scope["headers"])
        cid = headers.get("x-request-id") or new_correlation_id()
        token = correlation_id.set(cid)
        state = scope.setdefault("state", {})
        state["media_type"] = FHIR_JSON
        state["headers"] = headers
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                encoded = cid.encode()
                extra = [(b"x-correlation-id", encoded), (b"x-request-id", encoded)]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            if scope["path"].startswith("/fhir"):
                query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
                state["media_type"] = response_media_type(
                    headers.get("accept"), query.get("_format")
                )
            await self.app(scope, receive, send_with_id)
        except Exception as exc:
            if response_started:
                raise
            response = self.fail(Request(scope), exc)
            await response(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            if status >= 400:  # one line per error answer, with the correlation id still set
                log.log(
                    logging.WARNING if status >= 500 else logging.INFO,
                    "%s %s answered %d",
                    scope["method"],
                    scope["path"],
                    status,
                    extra={
                        "event": "http_error",
                        "method": scope["method"],
                        "route": template,
                        "status": status,
                        "duration_ms": round(seconds * 1000, 1),
                    },
                )
            correlation_id.reset(token)
            if self.observe_http is not None:
                self.observe_http(scope["method"], template, status, seconds)


class Endpoint:
    """A plain ASGI endpoint. Starlette's ``Route`` runs an object like this as an ASGI app,
    where it would wrap a function as a request-response handler."""

    def __init__(self, handle: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._handle(scope, receive, send)


class DirectDispatch:
    """The innermost middleware: the routes in ``direct`` (method and path) are served here,
    past FastAPI's exception middleware, router and request layers (under load those were
    about 15 % of a `$submit`'s CPU, BENCHMARKS.md); every other request goes on to them.

    Being a middleware, not a replacement of the application, every middleware outside it
    (the edge, and whatever ``create_app`` is given: authentication, CORS...) sees the direct
    routes as it sees the others. The matched route is put in the scope, as the router does,
    so the metrics name it."""

    def __init__(self, app: ASGIApp, *, direct: Mapping[tuple[str, str], Route]) -> None:
        self.app = app
        self.direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            route = self.direct.get((scope["method"], scope["path"]))
            if route is not None:
                scope["route"] = route
                await route.app(scope, receive, send)
                return
        await self.app(scope, receive, send)
