"""The gateway's HTTP application: the FHIR R4 API under ``/fhir``, liveness and readiness.

Every failure leaves as an OperationOutcome with the right status (``outcome.py``); nothing
else turns errors into replies.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fhir_server import json_text
from fhir_server.capability import capability_statement
from fhir_server.context import correlation_id
from fhir_server.errors import FhirRequestError
from fhir_server.formats import check_content_type, response_media_type
from fhir_server.outcome import error_status_and_outcome
from fhir_server.search import parse_search, searchset
from fhir_server.search_params import SEARCH_PARAMS
from fhir_server.store import FhirStore, StoredResource
from fhir_server.submit import SubmitService
from rights.errors import CdrError

__all__ = ["ReadyCheck", "create_app"]

ReadyCheck = Callable[[], Awaitable[bool]]
ObserveHttp = Callable[[str, str, int, float], None]
log = logging.getLogger("cdr.http")


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
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cid = headers.get("x-request-id") or uuid.uuid4().hex
        token = correlation_id.set(cid)
        state = scope.setdefault("state", {})
        state["media_type"] = "application/fhir+json"
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                extra = [(b"x-correlation-id", cid.encode())]
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
            correlation_id.reset(token)
            if self.observe_http is not None:
                route = scope.get("route")
                template = getattr(route, "path", "unmatched")
                self.observe_http(scope["method"], template, status, time.perf_counter() - started)


def _fhir_response(
    request: Request, body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    media = getattr(request.state, "media_type", "application/fhir+json")
    return Response(
        json_text.dumps(body),
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
) -> FastAPI:
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
    )

    def fail(request: Request, exc: Exception) -> Response:
        cid = correlation_id.get() or uuid.uuid4().hex
        status, outcome = error_status_and_outcome(exc, cid)
        if status >= 500:
            log.error("request failed", exc_info=exc, extra={"path": request.url.path})
        return _fhir_response(request, outcome, status)

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

    @app.post("/fhir/CoverageEligibilityRequest/$submit")
    async def submit_request(request: Request) -> Response:
        body = await _json_body(request, max_body_bytes)
        if "respond-async" in request.headers.get("prefer", "").lower():
            result = await submit.submit_async(body)
            location = f"{base_url}/CoverageEligibilityResponse/{result.response_id}"
            # RFC 7240 + FHIR async pattern: 202, and where to poll.
            return _fhir_response(request, result.body, 202, {"Content-Location": location})
        result = await submit.submit(body)
        location = f"{base_url}/CoverageEligibilityResponse/{result.response_id}"
        return _fhir_response(request, result.body, 200, {"Location": location})

    @app.get("/fhir/{resource_type}/{resource_id}")
    async def read(request: Request, resource_type: str, resource_id: str) -> Response:
        _known_type(resource_type)
        stored = await asyncio.to_thread(store.read, resource_type, resource_id)
        if stored is None:
            raise FhirRequestError(
                404, "not-found", f"{resource_type}/{resource_id} does not exist"
            )
        headers = _version_headers(stored)
        if request.headers.get("if-none-match") == headers["ETag"]:
            return Response(status_code=304, headers=headers)
        return _fhir_response(request, stored.resource, 200, headers)

    @app.get("/fhir/{resource_type}")
    async def search(request: Request, resource_type: str) -> Response:
        _known_type(resource_type)
        params = list(request.query_params.multi_items())
        criteria, count, offset = parse_search(resource_type, params)
        total, page = await asyncio.to_thread(
            store.search, resource_type, criteria, count=count, offset=offset
        )
        return _fhir_response(
            request, searchset(resource_type, base_url, params, total, page, count, offset)
        )

    return app


def _known_type(resource_type: str) -> None:
    if resource_type not in SEARCH_PARAMS:
        raise FhirRequestError(
            404,
            "not-supported",
            f"resource type {resource_type!r} is not served here; served: "
            f"{', '.join(SEARCH_PARAMS)}",
        )


async def _json_body(request: Request, limit: int) -> dict[str, Any]:
    check_content_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FhirRequestError(413, "too-long", f"body of {declared} bytes exceeds {limit} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise FhirRequestError(413, "too-long", f"body exceeds {limit} bytes")
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise FhirRequestError(
            400, "structure", f"body is not valid JSON: {exc}", location="$"
        ) from None
    if not isinstance(body, dict):
        raise FhirRequestError(400, "structure", "body must be a JSON object (a resource)")
    return body
