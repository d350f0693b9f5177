from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from regimes.slm import SlmGateway
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected, RegimeTimeout, RegimeUnavailable
from rights.model import RegimeRights, Requester
from tests.unit.regimes.slm.test_codec import FULL, QUERY

FIXTURES = Path(__file__).parents[3] / "fixtures" / "regimes" / "slm"
CATALOGUE = default_catalogue()
BASE_URL = "https://sandbox.test:8443/"
PROBLEM = {"content-type": "application/problem+json"}

Handler = Callable[[httpx.Request], httpx.Response]


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def answer(status: int, name: str, headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status,
            content=fixture_bytes(name),
            headers=headers or {"content-type": "application/json"},
        )

    return handler


async def fetch(handler: Handler, regime: str = "mgen", query=QUERY) -> RegimeRights | None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await SlmGateway(client, BASE_URL).fetch(CATALOGUE.get(regime), query)


async def test_found_answer_becomes_the_rights():
    assert await fetch(answer(200, "found_full.json")) == FULL


async def test_request_is_the_committed_request_with_the_requester_headers():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, "found_full.json")(request)

    await fetch(handler)
    expected = json.loads(fixture_bytes("request.json"))
    (request,) = seen
    assert request.method == expected["method"]
    assert request.url.host == "sandbox.test"
    assert request.url.port == 8443
    assert request.url.path == expected["path"]
    assert dict(request.url.params) == expected["params"]
    for name, value in expected["headers"].items():
        assert request.headers[name] == value


async def test_no_rpps_header_when_a_structure_asks_alone():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, "found_full.json")(request)

    await fetch(handler, query=replace(QUERY, requester=Requester(finess="2A0000014")))
    assert seen[0].headers["X-CDR-Requester-Finess"] == "2A0000014"
    assert "X-CDR-Requester-Rpps" not in seen[0].headers


async def test_unknown_beneficiary_problem_is_none():
    assert await fetch(answer(404, "unknown_person.json", PROBLEM)) is None


@pytest.mark.parametrize(
    ("name", "headers", "match"),
    [
        ("unknown_person.json", {"content-type": "application/json"}, "wrong URL"),
        ("error_other_404.json", PROBLEM, "Not Found"),
        ("found_full.json", {"content-type": "text/html"}, "wrong URL"),
    ],
    ids=["not-a-problem", "other-problem-type", "html"],
)
async def test_a_404_that_is_not_the_unknown_beneficiary_problem_is_rejected(name, headers, match):
    with pytest.raises(RegimeRejected, match=match) as caught:
        await fetch(answer(404, name, headers))
    assert caught.value.regime == "mgen"


async def test_a_404_problem_that_is_not_json_is_rejected():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, content=b"<html/>", headers=PROBLEM)

    with pytest.raises(RegimeRejected, match="not JSON"):
        await fetch(handler)


async def test_bad_request_problem_is_rejected_naming_the_parameter():
    with pytest.raises(RegimeRejected, match=r"HTTP 400: Requête invalide.*dateSoins") as caught:
        await fetch(answer(400, "error_bad_request.json", PROBLEM))
    assert caught.value.regime == "mgen"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, RegimeRejected),
        (401, RegimeRejected),
        (403, RegimeRejected),
        (408, RegimeTimeout),
        (429, RegimeUnavailable),
        (500, RegimeUnavailable),
        (502, RegimeUnavailable),
        (503, RegimeUnavailable),
        (504, RegimeTimeout),
    ],
)
async def test_error_statuses_map_to_the_error_tree(status, error):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="nope")

    with pytest.raises(error) as caught:
        await fetch(handler, regime="mgp")
    assert caught.value.regime == "mgp"


async def test_a_transient_status_stays_transient_even_with_a_problem_body():
    with pytest.raises(RegimeUnavailable):
        await fetch(answer(429, "error_bad_request.json", PROBLEM))


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (httpx.ConnectError("connection refused"), RegimeUnavailable),
        (httpx.RemoteProtocolError("peer closed connection"), RegimeUnavailable),
        (httpx.ConnectTimeout("connect timed out"), RegimeTimeout),
        (httpx.ReadTimeout("read timed out"), RegimeTimeout),
    ],
    ids=["refused", "reset", "connect-timeout", "read-timeout"],
)
async def test_transport_failures_map_to_the_error_tree(exc, error):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(error) as caught:
        await fetch(handler, regime="camieg")
    assert caught.value.regime == "camieg"


@pytest.mark.parametrize(
    "body",
    [b"<html>maintenance</html>", b'{"beneficiaire": ', b'{"versionApi": "2.3"}'],
    ids=["html", "truncated", "empty-object"],
)
async def test_garbage_200_body_is_rejected(body):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    with pytest.raises(RegimeRejected) as caught:
        await fetch(handler)
    assert caught.value.regime == "mgen"


async def test_a_success_status_other_than_200_is_rejected():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)

    with pytest.raises(RegimeRejected, match="unexpected HTTP 204"):
        await fetch(handler)


async def health(handler: Handler) -> tuple[bool, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(recording)) as client:
        up = await SlmGateway(client, BASE_URL).health(CATALOGUE.get("maee"))
    return up, seen


async def test_health_is_true_on_200_from_the_health_path():
    up, seen = await health(lambda request: httpx.Response(200, json={"status": "up"}))
    assert up is True
    assert seen[0].method == "GET"
    assert str(seen[0].url) == "https://sandbox.test:8443/regimes/maee/health"


@pytest.mark.parametrize("status", [204, 404, 500, 503])
async def test_health_is_false_on_any_other_status(status):
    up, _ = await health(lambda request: httpx.Response(status))
    assert up is False


async def test_health_is_false_when_the_service_cannot_be_reached():
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    up, _ = await health(handler)
    assert up is False


async def test_health_never_raises_even_on_a_closed_client():
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    await client.aclose()
    assert await SlmGateway(client, BASE_URL).health(CATALOGUE.get("mgen")) is False


def test_the_gateway_names_its_family():
    assert SlmGateway.family == "slm"
    assert {r.code for r in CATALOGUE if r.family == "slm"} == {
        "camieg", "mgp", "interiale", "mage", "mgen", "maee",
    }  # fmt: skip
