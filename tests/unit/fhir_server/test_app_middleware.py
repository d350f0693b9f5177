"""The API's middleware seam: what ``create_app`` is given sees every request, the directly
dispatched `$submit` included, and can answer in its place (where authentication plugs in)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from fhir_server.app import create_app
from fhir_server.edge import request_headers
from fhir_server.errors import FhirRequestError
from fhir_server.submit import SubmitResult
from rights.caller import Caller
from sandbox.server import RunningServer, start_in_thread

SUBMIT = "/fhir/CoverageEligibilityRequest/$submit"


class _Recorder:
    """A middleware that notes each request it sees and refuses those that carry
    ``X-Refuse``, the way an authentication layer would."""

    def __init__(self, app: ASGIApp, *, seen: list[tuple[str, str]]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.seen.append((scope["method"], scope["path"]))
            if dict(scope["headers"]).get(b"x-refuse"):
                raise FhirRequestError(403, "forbidden", "refused by the test middleware")
        await self.app(scope, receive, send)


class _EchoSubmit:
    def __init__(self) -> None:
        self.bodies: list[Mapping[str, Any]] = []
        self.async_bodies: list[Mapping[str, Any]] = []

    async def submit(self, body: Mapping[str, Any], caller: Caller) -> SubmitResult:
        self.bodies.append(body)
        return SubmitResult({"resourceType": "CoverageEligibilityResponse", "id": "r1"}, "r1")

    async def submit_async(self, body: Mapping[str, Any], caller: Caller) -> SubmitResult:
        self.async_bodies.append(body)
        return SubmitResult({"resourceType": "CoverageEligibilityResponse", "id": "r2"}, "r2")


class _NoStore:
    def read(self, resource_type: str, resource_id: str) -> None:
        return None


class _Served:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.submit = _EchoSubmit()
        self.observed: list[tuple[str, str, int]] = []
        self.server: RunningServer


@pytest.fixture
def served() -> Iterator[_Served]:
    it = _Served()
    app = create_app(
        {},
        version="t",
        store=_NoStore(),  # type: ignore[arg-type]
        submit=it.submit,  # type: ignore[arg-type]
        middleware=[Middleware(_Recorder, seen=it.seen)],
        observe_http=lambda method, route, status, _s: it.observed.append((method, route, status)),
    )
    it.server = start_in_thread(app)
    try:
        yield it
    finally:
        it.server.stop()


def _post(url: str, **headers: str) -> httpx.Response:
    return httpx.post(
        url + SUBMIT,
        content=b'{"resourceType": "CoverageEligibilityRequest"}',
        headers={"Content-Type": "application/fhir+json", **headers},
    )


def test_a_given_middleware_sees_every_route_submit_included(served: _Served) -> None:
    server, seen, submit = served.server, served.seen, served.submit
    assert _post(server.url).status_code == 200
    assert httpx.get(server.url + "/fhir/Patient/p1").status_code == 404
    assert httpx.get(server.url + "/fhir/metadata").status_code == 200
    assert httpx.get(server.url + "/healthz").status_code == 200
    assert httpx.get(server.url + "/nowhere").status_code == 404
    assert seen == [
        ("POST", SUBMIT),
        ("GET", "/fhir/Patient/p1"),
        ("GET", "/fhir/metadata"),
        ("GET", "/healthz"),
        ("GET", "/nowhere"),
    ]
    assert len(submit.bodies) == 1
    # The direct dispatch names its route in the metrics as the router names the others.
    assert ("POST", SUBMIT, 200) in served.observed
    assert ("GET", "/fhir/{resource_type}/{resource_id}", 404) in served.observed


def test_a_middleware_refusal_stops_submit_before_any_lookup(served: _Served) -> None:
    server, submit = served.server, served.submit
    response = _post(server.url, **{"X-Refuse": "1", "X-Request-ID": "refused-1"})
    assert response.status_code == 403
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "forbidden"
    # The edge is outside the given middleware: the refusal still carries the correlation id.
    assert response.headers["X-Correlation-ID"] == "refused-1"
    assert submit.bodies == []


def test_a_header_sent_twice_keeps_both_values(served: _Served) -> None:
    server, submit = served.server, served.submit
    response = httpx.post(
        server.url + SUBMIT,
        content=b'{"resourceType": "CoverageEligibilityRequest"}',
        headers=[
            ("Content-Type", "application/fhir+json"),
            ("Prefer", "handling=strict"),
            ("Prefer", "respond-async"),
        ],
    )
    assert response.status_code == 200
    assert len(submit.async_bodies) == 1 and submit.bodies == []


def test_request_headers_join_repeats_in_order() -> None:
    raw = [(b"Accept", b"a/b"), (b"X-One", b"1"), (b"accept", b"c/d")]
    assert request_headers(raw) == {"accept": "a/b, c/d", "x-one": "1"}
