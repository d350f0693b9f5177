from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from regimes.msa import MsaGateway
from regimes.msa.codec import build_request
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected, RegimeTimeout, RegimeUnavailable
from rights.model import RegimeRights, Requester, RightsQuery
from tests.unit.regimes.msa.test_codec import FULL, QUERY

FIXTURES = Path(__file__).parents[3] / "fixtures" / "regimes" / "msa"
REGIME = default_catalogue().get("msa")
BASE_URL = "https://sandbox.test:8443/"
XML = {"content-type": "text/xml; charset=utf-8"}

Handler = Callable[[httpx.Request], httpx.Response]


def answer(status: int, name: str) -> Handler:
    content = (FIXTURES / name).read_bytes()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=XML)

    return handler


def failing(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


async def fetch(handler: Handler, query: RightsQuery = QUERY) -> RegimeRights | None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await MsaGateway(client, BASE_URL).fetch(REGIME, query)


async def health(handler: Handler) -> bool:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await MsaGateway(client, BASE_URL).health(REGIME)


def test_gateway_names_its_family():
    assert MsaGateway.family == REGIME.family == "msa"


async def test_found_answer_becomes_the_rights():
    assert await fetch(answer(200, "found_full.xml")) == FULL


async def test_request_posts_the_envelope_with_soap_and_requester_headers():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, "found_full.xml")(request)

    await fetch(handler)
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://sandbox.test:8443/regimes/msa/ws/ConsultationDroits"
    assert request.headers["content-type"] == "text/xml; charset=utf-8"
    assert request.headers["soapaction"] == (
        '"urn:cdr-gateway:msa:consultation-droits:1#consultationDroits"'
    )
    assert request.headers["X-CDR-Requester-Finess"] == "2A0000014"
    assert request.headers["X-CDR-Requester-Rpps"] == "10101010101"
    assert request.content == build_request(QUERY)


async def test_no_rpps_header_when_a_structure_asks_alone():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(200, "unknown.xml")(request)

    await fetch(handler, replace(QUERY, requester=Requester(finess="750712184")))
    assert seen[0].headers["X-CDR-Requester-Finess"] == "750712184"
    assert "X-CDR-Requester-Rpps" not in seen[0].headers


async def test_unknown_person_is_none():
    assert await fetch(answer(200, "unknown.xml")) is None


async def test_client_fault_with_http_500_is_a_rejection_not_an_outage():
    with pytest.raises(RegimeRejected) as caught:
        await fetch(answer(500, "fault_client.xml"))
    assert caught.value.regime == "msa"
    assert "NIR_INVALIDE at identification/nir" in caught.value.message
    assert not caught.value.transient


async def test_server_fault_makes_the_regime_unavailable():
    with pytest.raises(RegimeUnavailable) as caught:
        await fetch(answer(500, "fault_server.xml"))
    assert caught.value.regime == "msa"
    assert "Référentiel des droits" in caught.value.message


@pytest.mark.parametrize("status", [500, 502, 503], ids=str)
async def test_server_errors_without_a_fault_make_the_regime_unavailable(status):
    with pytest.raises(RegimeUnavailable) as caught:
        await fetch(answer(status, "garbage.xml"))
    assert caught.value.regime == "msa"


async def test_404_is_a_wrong_url_not_an_unknown_person():
    with pytest.raises(RegimeRejected) as caught:
        await fetch(answer(404, "garbage.xml"))
    assert caught.value.regime == "msa"


async def test_connection_failure_makes_the_regime_unavailable():
    with pytest.raises(RegimeUnavailable) as caught:
        await fetch(failing(httpx.ConnectError("connection refused")))
    assert caught.value.regime == "msa"


async def test_timeout_is_a_regime_timeout():
    with pytest.raises(RegimeTimeout) as caught:
        await fetch(failing(httpx.ReadTimeout("read timed out")))
    assert caught.value.regime == "msa"


@pytest.mark.parametrize(
    "name", ["garbage.xml", "malformed_entity_declaration.xml", "malformed_latin1.xml"], ids=str
)
async def test_unusable_200_body_is_rejected(name):
    with pytest.raises(RegimeRejected) as caught:
        await fetch(answer(200, name))
    assert caught.value.regime == "msa"


async def test_health_is_true_on_200_of_the_regime_health_path():
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"status": "up"})

    assert await health(handler) is True
    assert seen == ["https://sandbox.test:8443/regimes/msa/health"]


@pytest.mark.parametrize(
    "handler",
    [
        answer(503, "fault_server.xml"),
        failing(httpx.ConnectError("connection refused")),
        failing(httpx.ConnectTimeout("connect timed out")),
    ],
    ids=["503", "refused", "timeout"],
)
async def test_health_is_false_on_any_failure(handler):
    assert await health(handler) is False
