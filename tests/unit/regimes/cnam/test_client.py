from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from regimes.cnam import CnamGateway
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected, RegimeTimeout, RegimeUnavailable
from rights.model import RegimeRights, Requester, RightsQuery
from tests.unit.regimes.cnam.test_codec import FULL, QUERY

FIXTURES = Path(__file__).parents[3] / "fixtures" / "regimes" / "cnam"
REGIME = default_catalogue().get("cnam")
BASE_URL = "https://sandbox.test:8443/"
JSON = {"content-type": "application/json"}

Handler = Callable[[httpx.Request], httpx.Response]


def answer(status: int, name: str) -> Handler:
    content = (FIXTURES / name).read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=JSON)

    return handler


def failing(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


async def fetch(handler: Handler, query: RightsQuery = QUERY) -> RegimeRights | None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await CnamGateway(client, BASE_URL).fetch(REGIME, query)


async def health(handler: Handler) -> bool:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await CnamGateway(client, BASE_URL).health(REGIME)


def test_gateway_names_its_family():
    assert CnamGateway.family == REGIME.family == "cnam"


async def test_found_answer_becomes_the_rights():
    assert await fetch(answer(200, "found_full.json")) == FULL


async def test_request_posts_the_consultation_with_the_requester_headers():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, "found_full.json")(request)

    await fetch(handler)
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://sandbox.test:8443/regimes/cnam/cdri/v1/consultations"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["X-CDR-Requester-Finess"] == "750712184"
    assert request.headers["X-CDR-Requester-Rpps"] == "10101010101"
    assert json.loads(request.content) == json.loads((FIXTURES / "request.json").read_bytes())


async def test_no_rpps_header_when_a_structure_asks_alone():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, "unknown.json")(request)

    await fetch(handler, replace(QUERY, requester=Requester(finess="2A0000014")))
    assert seen[0].headers["X-CDR-Requester-Finess"] == "2A0000014"
    assert "X-CDR-Requester-Rpps" not in seen[0].headers


async def test_unknown_person_is_none():
    assert await fetch(answer(200, "unknown.json")) is None


async def test_coded_400_is_rejected_with_the_regime_reason():
    with pytest.raises(RegimeRejected) as caught:
        await fetch(answer(400, "error_400_nir_invalide.json"))
    assert caught.value.regime == "cnam"
    assert "NIR_INVALIDE at identification.nir" in caught.value.message


async def test_404_is_a_wrong_url_not_an_unknown_person():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="Not Found")

    with pytest.raises(RegimeRejected) as caught:
        await fetch(handler)
    assert caught.value.regime == "cnam"


@pytest.mark.parametrize("status", [500, 502, 503], ids=str)
async def test_server_errors_make_the_regime_unavailable(status):
    with pytest.raises(RegimeUnavailable) as caught:
        await fetch(answer(status, "error_500_erreur_interne.json"))
    assert caught.value.regime == "cnam"
    assert caught.value.transient


async def test_connection_failure_makes_the_regime_unavailable():
    with pytest.raises(RegimeUnavailable) as caught:
        await fetch(failing(httpx.ConnectError("connection refused")))
    assert caught.value.regime == "cnam"


async def test_timeout_is_a_regime_timeout():
    with pytest.raises(RegimeTimeout) as caught:
        await fetch(failing(httpx.ReadTimeout("read timed out")))
    assert caught.value.regime == "cnam"


async def test_garbage_body_is_rejected():
    with pytest.raises(RegimeRejected) as caught:
        await fetch(answer(200, "garbage.json"))
    assert caught.value.regime == "cnam"


async def test_health_is_true_on_200_of_the_regime_health_path():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"status": "up"})

    assert await health(handler) is True
    assert seen == ["https://sandbox.test:8443/regimes/cnam/health"]


@pytest.mark.parametrize(
    "handler",
    [
        answer(503, "error_500_erreur_interne.json"),
        failing(httpx.ConnectError("connection refused")),
        failing(httpx.ConnectTimeout("connect timed out")),
    ],
    ids=["503", "refused", "timeout"],
)
async def test_health_is_false_on_any_failure(handler):
    assert await health(handler) is False
