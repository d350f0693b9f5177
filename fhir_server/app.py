"""The gateway's HTTP application: the FHIR R4 API under ``/fhir``, liveness and readiness.

Every failure leaves as an OperationOutcome with the right status (``outcome.py``); nothing
else turns errors into replies.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_server.capability import capability_statement
from fhir_server.context import correlation_id
from fhir_server.errors import FhirRequestError
from fhir_server.formats import FHIR_JSON, check_content_type, encode_body, response_media_type
from fhir_server.outcome import error_status_and_outcome
from fhir_server.paging import parse_paging
from fhir_server.search import read_search, searchset
from fhir_server.search_params import SEARCH_PARAMS
from fhir_server.search_run import run_until_disconnected
from fhir_server.store import FhirStore, StoredResource
from fhir_server.submit import SubmitService
from fhir_server.xml_format import xml_to_resource
from rights.errors import CdrError

__all__ = ["ReadyCheck", "create_app", "request_headers"]

SUBMIT_PATH = "/fhir/CoverageEligibilityRequest/$submit"
# http://hl7.org/fhir/R4/datatypes.html#id
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
ReadyCheck = Callable[[], Awaitable[bool]]
ObserveHttp = Callable[[str, str, int, float], None]
log = logging.getLogger("cdr.http")


def _new_correlation_id() -> str:
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


class _EdgeMiddleware:
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
        cid = headers.get("x-request-id") or _new_correlation_id()
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


class _Endpoint:
    """A plain ASGI endpoint. Starlette's ``Route`` runs an object like this as an ASGI app,
    where it would wrap a function as a request-response handler."""

    def __init__(self, handle: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self._handle = handle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._handle(scope, receive, send)


class _DirectDispatch:
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


def _fhir_response(
    request: Request, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    media = getattr(request.state, "media_type", FHIR_JSON)
    return Response(
        encode_body(body, media),
        status_code=status,
        media_type=f"{media}; charset=utf-8",
        headers=headers,
    )


def _version_headers(stored: StoredResource) -> dict[str, str]:
    return {
        "ETag": f'W/"{stored.version_id}"',
        "Last-Modified": format_datetime(stored.last_updated.astimezone(UTC), usegmt=True),
    }


def create_app(
    ready_checks: Mapping[str, ReadyCheck],
    *,
    version: str,
    store: FhirStore | None = None,
    submit: SubmitService | None = None,
    base_url: str = "http://127.0.0.1:8080/fhir",
    max_body_bytes: int = 1_048_576,
    on_startup: Callable[[], None] | None = None,
    on_shutdown: Callable[[], Awaitable[None]] | None = None,
    metrics: Callable[[], str] | None = None,
    observe_http: ObserveHttp | None = None,
    middleware: Sequence[Middleware] = (),
) -> FastAPI:
    """The application. ``middleware`` (outermost first) runs inside the edge and outside
    every route, `$submit` included: the place for authentication and access control."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            on_startup()
        yield
        # Regime connections belong to this server's event loop: close them in it.
        if on_shutdown is not None:
            await on_shutdown()

    app = FastAPI(
        title="CDR Gateway",
        version=version,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        # No redirect from ``/path/`` to ``/path``: Starlette builds it from the Host header, so
        # a client could be sent (with its body, on a 307) to any host it names. 404 instead.
        redirect_slashes=False,
    )
    direct: dict[tuple[str, str], Route] = {}

    def fail(request: Request, exc: Exception) -> Response:
        cid = correlation_id.get() or _new_correlation_id()
        status, outcome = error_status_and_outcome(exc, cid)
        if status >= 500:
            log.error("request failed", exc_info=exc, extra={"path": request.url.path})
        return _fhir_response(request, outcome, status)

    # Starlette runs the middleware added last outermost. From the outside in: the edge
    # (correlation id, formats, metrics, OperationOutcome for anything that escapes), the
    # middleware given by the caller, the direct dispatch, then FastAPI's own stack.
    app.add_middleware(_DirectDispatch, direct=direct)
    for layer in reversed(middleware):
        app.add_middleware(layer.cls, *layer.args, **layer.kwargs)
    app.add_middleware(_EdgeMiddleware, fail=fail, observe_http=observe_http)

    @app.exception_handler(CdrError)
    async def known_error(request: Request, exc: CdrError) -> Response:
        return fail(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "processing")
        message = {
            404: f"no such endpoint: {request.method} {request.url.path}",
            405: f"method {request.method} is not allowed on {request.url.path}",
        }.get(exc.status_code, str(exc.detail))
        return fail(request, FhirRequestError(exc.status_code, code, message))

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = {name: await check() for name, check in ready_checks.items()}
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not-ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    if metrics is not None:
        render_metrics = metrics

        @app.get("/metrics")
        async def prometheus() -> Response:
            return Response(render_metrics(), media_type="text/plain; version=0.0.4")

    if store is None or submit is None:
        return app

    @app.get("/fhir/metadata")
    async def metadata(request: Request) -> Response:
        statement = capability_statement(base_url=base_url, version=version, date=datetime.now(UTC))
        return _fhir_response(request, statement)

    async def submit_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["state"]
        headers: dict[str, str] = state["headers"]
        body = await _read_json_body(headers, receive, max_body_bytes)
        if body is None:  # the client left before sending its whole body: no one to answer
            return
        # IHE FAIS (ITI-124/125), not FHIR's asynchronous pattern: `Prefer: respond-async` is
        # answered at once with a normal 200 whose response says `queued`; the client reads
        # that response (Content-Location) until its outcome is no longer `queued`. A 200
        # answer names its response with Content-Location, never Location (a create header).
        if "respond-async" in headers.get("prefer", "").lower():
            result = await submit.submit_async(body)
        else:
            result = await submit.submit(body)
        location = f"{base_url}/CoverageEligibilityResponse/{result.response_id}"
        await _send_fhir(send, state["media_type"], result.body, 200, "content-location", location)

    # In the router (so that another method on the path is a 405, and the route is listed), and
    # served by the direct dispatch: see ``_DirectDispatch``.
    submit_route = Route(SUBMIT_PATH, endpoint=_Endpoint(submit_endpoint), methods=["POST"])
    app.router.routes.append(submit_route)
    direct[("POST", SUBMIT_PATH)] = submit_route

    @app.get("/fhir/{resource_type}/{resource_id}")
    async def read(request: Request, resource_type: str, resource_id: str) -> Response:
        _known_type(resource_type)
        if resource_id.startswith("$"):  # an operation (ids cannot hold "$"): POST only
            raise FhirRequestError(
                405,
                "not-supported",
                f"method GET is not allowed on {request.url.path}: operations are POSTed",
            )
        if _FHIR_ID.fullmatch(resource_id) is None:  # nothing stored has such an id
            raise FhirRequestError(
                404, "not-found", f"{resource_type}/{resource_id[:80]!r} is no FHIR id"
            )
        stored = await asyncio.to_thread(store.read, resource_type, resource_id)
        if stored is None:
            raise FhirRequestError(
                404, "not-found", f"{resource_type}/{resource_id} does not exist"
            )
        headers = _version_headers(stored)
        if _etag_matches(request.headers.get("if-none-match"), stored.version_id):
            return Response(status_code=304, headers=headers)
        if stored.resource.get("outcome") == "queued":
            # A lookup still running (FAIS asynchronous $submit): when to read again.
            headers["Retry-After"] = "1"
        return _fhir_response(request, stored.resource, 200, headers)

    @app.get("/fhir/{resource_type}")
    async def search(request: Request, resource_type: str) -> Response:
        _known_type(resource_type)
        params = list(request.query_params.multi_items())
        prefer = request.state.headers.get("prefer", "").lower()
        asked = read_search(
            resource_type, params, strict="handling=strict" in prefer, base_url=base_url
        )
        criteria, count, offset = asked.criteria, asked.count, asked.offset
        total, after = parse_paging(params, offset)
        page = await run_until_disconnected(
            request.receive,
            lambda cancel: store.search(
                resource_type,
                criteria,
                count=count,
                offset=offset,
                after=after,
                total=total,
                cancel=cancel,
            ),
        )
        if page is None:  # the client has gone: nobody reads an answer (499, as nginx logs it)
            return Response(status_code=499)
        return _fhir_response(
            request,
            searchset(resource_type, base_url, asked.used, page, count, offset, asked.ignored),
        )

    return app


def _etag_matches(if_none_match: str | None, version_id: int) -> bool:
    """RFC 9110 §13.1.2: ``*`` or a list of entity tags, compared weakly (``W/"3"`` and
    ``"3"`` name the same version)."""
    if not if_none_match:
        return False
    wanted = f'"{version_id}"'
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False


def _known_type(resource_type: str) -> None:
    if resource_type not in SEARCH_PARAMS:
        raise FhirRequestError(
            404,
            "not-supported",
            f"resource type {resource_type!r} is not served here; served: "
            f"{', '.join(SEARCH_PARAMS)}",
        )


async def _read_json_body(
    headers: Mapping[str, str], receive: Receive, limit: int
) -> dict[str, Any] | None:
    """The posted resource (in our JSON form when it was posted as XML), or None when the
    client disconnected before the end of its body."""
    xml = check_content_type(headers.get("content-type"))
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FhirRequestError(413, "too-long", f"body of {declared} bytes exceeds {limit} bytes")
    raw = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        raw += message.get("body", b"")
        if len(raw) > limit:
            raise FhirRequestError(413, "too-long", f"body exceeds {limit} bytes")
        if not message.get("more_body", False):
            break
    if xml:
        return xml_to_resource(raw)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FhirRequestError(
            400, "structure", f"body is not valid JSON: {exc}", location="$"
        ) from None
    if not isinstance(body, dict):
        raise FhirRequestError(400, "structure", "body must be a JSON object (a resource)")
    return body


async def _send_fhir(
    send: Send, media_type: str, body: dict[str, Any], status: int, name: str, value: str
) -> None:
    """``_fhir_response`` for a plain ASGI endpoint: the same status line and headers."""
    content = encode_body(body, media_type)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-length", b"%d" % len(content)),
                (b"content-type", f"{media_type}; charset=utf-8".encode("latin-1")),
                (name.encode("latin-1"), value.encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
