"""The regime port's decorator for the signed assertion, and the httpx implementation."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import httpx

from regimes.cnam import CnamGateway
from regimes.httpx_port import HttpxPort
from regimes.port import NoAssertion, SigningPort, WireRequest, signed_by
from rights.catalogue import default_catalogue
from tests.unit.regimes.cnam.test_client import answer
from tests.unit.regimes.cnam.test_codec import QUERY
from tests.unit.regimes.helpers import recording

CNAM = default_catalogue().get("cnam")


class HeaderSigner:
    """Adds a header standing for the assertion, as the card/PKI work will."""

    def sign(self, request: WireRequest) -> WireRequest:
        return replace(request, headers={**request.headers, "X-Assertion": "signed"})


async def test_what_the_signer_returns_is_what_is_sent_calls_and_probes_alike():
    handler, seen = recording(answer(200, "found_full.json"))
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    port = SigningPort(HttpxPort(client, "https://sandbox.test:8443/"), HeaderSigner())
    gateway = CnamGateway(port)
    await gateway.fetch(CNAM, QUERY)
    await gateway.health(CNAM)
    await port.aclose()
    assert [(r.method, r.url.path, r.headers["X-Assertion"]) for r in seen] == [
        ("POST", "/regimes/cnam/cdri/v1/consultations", "signed"),
        ("GET", "/regimes/cnam/health", "signed"),
    ]
    assert client.is_closed


def test_no_assertion_sends_the_request_unchanged():
    request = WireRequest("GET", "/regimes/cnam/health", {})
    assert NoAssertion().sign(request) is request


class PersonSigner:
    def sign(self, request: WireRequest) -> WireRequest:
        return replace(request, headers={**request.headers, "X-Assertion": "the card holder's"})


async def test_within_signed_by_the_calls_and_the_tasks_they_start_carry_the_person_s():
    handler, seen = recording(answer(200, "found_full.json"))
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    port = SigningPort(HttpxPort(client, "https://sandbox.test:8443/"), HeaderSigner())
    gateway = CnamGateway(port)
    with signed_by(PersonSigner()):
        # A lookup fans out to tasks: each one inherits who signs.
        await asyncio.gather(gateway.fetch(CNAM, QUERY), gateway.health(CNAM))
    await gateway.fetch(CNAM, QUERY)  # outside: the process's own signer again
    await port.aclose()
    assert [r.headers["X-Assertion"] for r in seen] == [
        "the card holder's",
        "the card holder's",
        "signed",
    ]
