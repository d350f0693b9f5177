from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from regimes.special import SpecialGateway
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected, RegimeTimeout, RegimeUnavailable
from rights.model import RegimeRights, Requester
from tests.unit.regimes.special.test_codec import FULL, QUERY

FIXTURES = Path(__file__).parents[3] / "fixtures" / "regimes" / "special"
CATALOGUE = default_catalogue()
BASE_URL = "https://sandbox.test:8443"

Handler = Callable[[httpx.Request], httpx.Response]


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def answer(status: int, name: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            status, content=fixture_bytes(name), headers={"content-type": "application/json"}
        )

    return handler


async def fetch(handler: Handler, regime: str = "cprpf", query=QUERY) -> RegimeRights | None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await SpecialGateway(client, BASE_URL).fetch(CATALOGUE.get(regime), query)


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
    assert request.url.path == expected["path"]
    assert not request.url.params
    assert json.loads(request.content) == expected["body"]
    for name, value in expected["headers"].items():
        assert request.headers[name] == value


async def test_no_rpps_header_when_a_structure_asks_alone():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, "found_full.json")(request)

    await fetch(handler, query=replace(QUERY, requester=Requester(finess="750712184")))
    assert seen[0].headers["X-CDR-Requester-Finess"] == "750712184"
    assert "X-CDR-Requester-Rpps" not in seen[0].headers


async def test_not_found_answer_is_none():
    assert await fetch(answer(200, "unknown_person.json"), regime="cnmss") is None


async def test_422_is_rejected_naming_the_error_code():
    with pytest.raises(RegimeRejected, match="HTTP 422: DATE_SOINS_INVALIDE") as caught:
        await fetch(answer(422, "error_422.json"), regime="senat")
    assert caught.value.regime == "senat"


async def test_422_with_garbage_body_is_still_rejected():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, content=b"<html/>")

    with pytest.raises(RegimeRejected):
        await fetch(handler)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, RegimeRejected),
        (403, RegimeRejected),
        (404, RegimeRejected),
        (405, RegimeRejected),
        (408, RegimeTimeout),
        (429, RegimeUnavailable),
        (500, RegimeUnavailable),
        (503, RegimeUnavailable),
        (504, RegimeTimeout),
    ],
)
async def test_error_statuses_map_to_the_error_tree(status, error):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="nope")

    with pytest.raises(error) as caught:
        await fetch(handler, regime="enim")
    assert caught.value.regime == "enim"


@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (httpx.ConnectError("connection refused"), RegimeUnavailable),
        (httpx.ReadError("connection reset by peer"), RegimeUnavailable),
        (httpx.ConnectTimeout("connect timed out"), RegimeTimeout),
        (httpx.ReadTimeout("read timed out"), RegimeTimeout),
        (httpx.PoolTimeout("no connection free"), RegimeTimeout),
    ],
    ids=["refused", "reset", "connect-timeout", "read-timeout", "pool-timeout"],
)
async def test_transport_failures_map_to_the_error_tree(exc, error):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(error) as caught:
        await fetch(handler, regime="crpcen")
    assert caught.value.regime == "crpcen"


@pytest.mark.parametrize(
    "body",
    [b"<html>maintenance</html>", b'{"trouve": true', b'{"trouve": "oui"}', b"[]"],
    ids=["html", "truncated", "trouve-string", "list"],
)
async def test_garbage_200_body_is_rejected(body):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    with pytest.raises(RegimeRejected) as caught:
        await fetch(handler)
    assert caught.value.regime == "cprpf"


async def test_a_success_status_other_than_200_is_rejected():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, json={"trouve": False})

    with pytest.raises(RegimeRejected, match="unexpected HTTP 202"):
        await fetch(handler)


async def health(handler: Handler) -> tuple[bool, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(recording)) as client:
        up = await SpecialGateway(client, BASE_URL + "/").health(
            CATALOGUE.get("assemblee-nationale")
        )
    return up, seen


async def test_health_is_true_on_200_from_the_health_path():
    up, seen = await health(lambda request: httpx.Response(200))
    assert up is True
    assert seen[0].method == "GET"
    assert str(seen[0].url) == "https://sandbox.test:8443/regimes/assemblee-nationale/health"


@pytest.mark.parametrize("status", [301, 404, 500, 503])
async def test_health_is_false_on_any_other_status(status):
    up, _ = await health(lambda request: httpx.Response(status))
    assert up is False


@pytest.mark.parametrize(
    "exc",
    [httpx.ConnectError("connection refused"), httpx.ReadTimeout("read timed out")],
    ids=["refused", "timeout"],
)
async def test_health_is_false_when_the_service_cannot_answer(exc):
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    up, _ = await health(handler)
    assert up is False


def test_the_gateway_names_its_family():
    assert SpecialGateway.family == "special"
    assert {r.code for r in CATALOGUE if r.family == "special"} == {
        "cnmss", "crpcen", "enim", "canssm", "cavimac", "cprpf", "ccas-ratp",
        "assemblee-nationale", "senat",
    }  # fmt: skip
