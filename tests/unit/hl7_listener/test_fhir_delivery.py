"""FHIR delivery of a result: a real HTTP receiver's status read as an acknowledgement, through
the client the composition root hands over."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from hl7_listener.client import DeliveryFailed
from hl7_listener.fhir_delivery import FhirDelivery
from sandbox.server import RunningServer, start_in_thread


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[RunningServer, list[tuple[bytes, str]]]]:
    received: list[tuple[bytes, str]] = []

    async def bundle(request: Request) -> Response:
        received.append((await request.body(), request.headers["x-client"]))
        return Response(status_code=int(request.path_params["status"]))

    server = start_in_thread(Starlette(routes=[Route("/{status:int}", bundle, methods=["POST"])]))
    try:
        yield server, received
    finally:
        server.stop()


def _deliver(url: str, payload: bytes = b"{}") -> bytes:
    async def go() -> bytes:
        # The client is built by the caller (the composition root does it in cdr.hl7_runtime):
        # here it names itself in a header the receiver records.
        client = httpx.AsyncClient(timeout=5.0, headers={"X-Client": "injected"})
        delivery = FhirDelivery(url, client=client)
        try:
            return await delivery.send(payload)
        finally:
            await delivery.close()
            assert client.is_closed

    return asyncio.run(go())


@pytest.mark.parametrize(("status", "code"), [(200, b"AA"), (201, b"AA"), (400, b"AE")])
def test_an_answer_is_read_as_an_ack(receiver, status: int, code: bytes) -> None:
    server, received = receiver
    ack = _deliver(f"{server.url}/{status}", b'{"resourceType":"Bundle"}')
    assert b"\rMSA|" + code + b"|" in ack
    assert received[-1] == (b'{"resourceType":"Bundle"}', "injected")


@pytest.mark.parametrize("status", [500, 503, 408, 429])
def test_a_transient_answer_is_a_failed_delivery(receiver, status: int) -> None:
    server, _received = receiver
    with pytest.raises(DeliveryFailed) as failure:
        _deliver(f"{server.url}/{status}")
    assert failure.value.reason == "closed"
    assert f"HTTP {status}" in str(failure.value)


def test_no_receiver_is_a_refused_delivery() -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DeliveryFailed) as failure:
        _deliver(f"http://127.0.0.1:{port}/bundle")
    assert failure.value.reason == "refused"
