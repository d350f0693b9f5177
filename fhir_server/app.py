"""The gateway's HTTP application: the FHIR R4 API under ``/fhir``, liveness and readiness.

Every failure leaves as an OperationOutcome with the right status (``outcome.py``); nothing
else turns errors into replies.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware import Middleware
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from fhir_server.auth.ports import peer_of
from fhir_server.capability import capability_statement
from fhir_server.context import correlation_id
from fhir_server.edge import (
    DirectDispatch,
    EdgeMiddleware,
    Endpoint,
    ObserveHttp,
    new_correlation_id,
)
from fhir_server.errors import FhirRequestError
from fhir_server.formats import FHIR_JSON, encode_body
from fhir_server.outcome import error_headers, error_status_and_outcome
from fhir_server.paging import parse_paging
from fhir_server.request_body import read_json_body
from fhir_server.search import read_search, searchset
from fhir_server.search_params import SEARCH_PARAMS
from fhir_server.search_run import run_until_disconnected
from fhir_server.search_system import read_system_search, run_system_search
from fhir_server.store import FhirStore, StoredResource, TotalMode
from fhir_server.submit import SubmitService
from fhir_server.versions import etag_matches, history_bundle, version_headers
from rights.caller import Caller, Entry
from rights.errors import CdrError

__all__ = ["ReadyCheck", "create_app"]

SUBMIT_PATH = "/fhir/CoverageEligibilityRequest/$submit"
# http://hl7.org/fhir/R4/datatypes.html#id
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
ReadyCheck = Callable[[], Awaitable[bool]]
log = logging.getLogger("cdr.http")


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
    security: Mapping[str, Any] | None = None,
) -> FastAPI:
    """The application. ``middleware`` (outermost first) runs inside the edge and outside
    every route, `$submit` included: the place for authentication and access control.
    ``security``: the CapabilityStatement's ``rest.security``, when requests need a token."""

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
        cid = correlation_id.get() or new_correlation_id()
        status, outcome = error_status_and_outcome(exc, cid)
        if status >= 500:
            log.error("request failed", exc_info=exc, extra={"path": request.url.path})
        return _fhir_response(request, outcome, status, error_headers(exc))

    # Starlette runs the middleware added last outermost. From the outside in: the edge
    # (correlation id, formats, metrics, OperationOutcome for anything that escapes), the
    # middleware given by the caller, the direct dispatch, then FastAPI's own stack.
    app.add_middleware(DirectDispatch, direct=direct)
    for layer in reversed(middleware):
        app.add_middleware(layer.cls, *layer.args, **layer.kwargs)
    app.add_middleware(EdgeMiddleware, fail=fail, observe_http=observe_http)

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

    @app.api_route("/fhir/metadata", methods=["GET", "HEAD"])
    async def metadata(request: Request) -> Response:
        statement = capability_statement(
            base_url=base_url, version=version, date=datetime.now(UTC), security=security
        )
        return _fhir_response(request, statement)

    async def submit_endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        state = scope["state"]
        headers: dict[str, str] = state["headers"]
        body = await read_json_body(headers, receive, max_body_bytes)
        if body is None:  # the client left before sending its whole body: no one to answer
            return
        # IHE FAIS (ITI-124/125), not FHIR's asynchronous pattern: `Prefer: respond-async` is
        # answered at once with a normal 200 whose response says `queued`; the client reads
        # that response (Content-Location) until its outcome is no longer `queued`. A 200
        # answer names its response with Content-Location, never Location (a create header).
        caller = Caller(Entry.FHIR, state.get("client", ""), peer_of(scope))
        if "respond-async" in headers.get("prefer", "").lower():
            result = await submit.submit_async(body, caller)
        else:
            result = await submit.submit(body, caller)
        location = f"{base_url}/CoverageEligibilityResponse/{result.response_id}"
        await _send_fhir(send, state["media_type"], result.body, 200, "content-location", location)

    # In the router (so that another method on the path is a 405, and the route is listed), and
    # served by the direct dispatch: see ``DirectDispatch``.
    submit_route = Route(SUBMIT_PATH, endpoint=Endpoint(submit_endpoint), methods=["POST"])
    app.router.routes.append(submit_route)
    direct[("POST", SUBMIT_PATH)] = submit_route

    @app.api_route("/fhir/{resource_type}/{resource_id}", methods=["GET", "HEAD"])
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
        # A lookup still running (FAIS asynchronous $submit): when to read again.
        queued = stored.resource.get("outcome") == "queued"
        return _version_response(request, stored, retry_after=queued)

    @app.api_route(
        "/fhir/{resource_type}/{resource_id}/_history/{version}", methods=["GET", "HEAD"]
    )
    async def vread(
        request: Request, resource_type: str, resource_id: str, version: str
    ) -> Response:
        _known_type(resource_type)
        if not version.isdigit() or _FHIR_ID.fullmatch(resource_id) is None:
            raise FhirRequestError(
                404, "not-found", f"{resource_type}/{resource_id[:80]}/_history/{version[:20]}"
            )
        stored = await asyncio.to_thread(
            store.read_version, resource_type, resource_id, int(version)
        )
        if stored is None:
            raise FhirRequestError(
                404,
                "not-found",
                f"{resource_type}/{resource_id} has no version {version}",
            )
        return _version_response(request, stored)

    @app.api_route("/fhir/{resource_type}/{resource_id}/_history", methods=["GET", "HEAD"])
    async def history(request: Request, resource_type: str, resource_id: str) -> Response:
        _known_type(resource_type)
        versions = (
            await asyncio.to_thread(store.versions, resource_type, resource_id)
            if _FHIR_ID.fullmatch(resource_id)
            else []
        )
        if not versions:
            raise FhirRequestError(
                404, "not-found", f"{resource_type}/{resource_id[:80]} does not exist"
            )
        return _fhir_response(request, history_bundle(base_url, resource_type, versions))

    @app.api_route("/fhir", methods=["GET", "HEAD"])
    @app.api_route("/fhir/", methods=["GET", "HEAD"])
    async def search_system(request: Request) -> Response:
        return await run_system_search_of(request, list(request.query_params.multi_items()))

    @app.post("/fhir/_search")
    async def search_system_by_post(request: Request) -> Response:
        params = [*request.query_params.multi_items(), *await _search_form(request)]
        return await run_system_search_of(request, params)

    async def run_system_search_of(request: Request, params: list[tuple[str, str]]) -> Response:
        prefer = request.state.headers.get("prefer", "").lower()
        asked = read_system_search(params, strict="handling=strict" in prefer, base_url=base_url)
        total, after = parse_paging(params, 0)
        per_type: TotalMode = "accurate" if total == "accurate" else "none"
        page = await run_until_disconnected(
            request.receive,
            lambda cancel: run_system_search(
                asked,
                lambda kind, criteria, count, resume: store.search(
                    kind, criteria, count=count, after=resume, total=per_type, cancel=cancel
                ),
                after=after,
                total=total,
                cancel=cancel,
            ),
        )
        if page is None:  # the client has gone (499, as for a type search)
            return Response(status_code=499)
        return _fhir_response(
            request, searchset("", base_url, asked.used, page, asked.count, 0, asked.ignored)
        )

    @app.api_route("/fhir/{resource_type}", methods=["GET", "HEAD"])
    async def search(request: Request, resource_type: str) -> Response:
        _known_type(resource_type)
        return await run_search(request, resource_type, list(request.query_params.multi_items()))

    @app.post("/fhir/{resource_type}/_search")
    async def search_by_post(request: Request, resource_type: str) -> Response:
        # R4 search.html: the parameters in a form body, with those of the URL (if any).
        _known_type(resource_type)
        params = [*request.query_params.multi_items(), *await _search_form(request)]
        return await run_search(request, resource_type, params)

    async def _search_form(request: Request) -> list[tuple[str, str]]:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/x-www-form-urlencoded":
            raise FhirRequestError(
                415,
                "not-supported",
                "a search by POST takes its parameters as application/x-www-form-urlencoded",
                location="Content-Type",
            )
        body = await request.body()
        if len(body) > max_body_bytes:
            raise FhirRequestError(413, "too-long", f"body exceeds {max_body_bytes} bytes")
        try:
            return parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        except UnicodeDecodeError:
            raise FhirRequestError(400, "structure", "the form body is not UTF-8") from None

    async def run_search(
        request: Request, resource_type: str, params: list[tuple[str, str]]
    ) -> Response:
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


def _version_response(
    request: Request, stored: StoredResource, *, retry_after: bool = False
) -> Response:
    """One version of a resource (read, vread): its ETag and time, 304 when the client holds
    it (If-None-Match)."""
    headers = version_headers(stored)
    if etag_matches(request.headers.get("if-none-match"), stored.version_id):
        return Response(status_code=304, headers=headers)
    if retry_after:
        headers["Retry-After"] = "1"
    return _fhir_response(request, stored.resource, 200, headers)


def _known_type(resource_type: str) -> None:
    if resource_type not in SEARCH_PARAMS:
        raise FhirRequestError(
            404,
            "not-supported",
            f"resource type {resource_type!r} is not served here; served: "
            f"{', '.join(SEARCH_PARAMS)}",
        )


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
