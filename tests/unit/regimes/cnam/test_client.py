from __future__ import annotations

import json

import httpx
import pytest

from regimes.cnam import CnamGateway
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected, RegimeUnavailable
from rights.model import RegimeRights, RightsQuery
from tests.unit.regimes import helpers
from tests.unit.regimes.cnam.test_codec import FIXTURES, FULL, QUERY
from tests.unit.regimes.helpers import Handler, recording, respond

REGIME = default_catalogue().get("cnam")
BASE_URL = "https://sandbox.test:8443/"
JSON = {"content-type": "application/json"}


def answer(status: int, name: str) -> Handler:
    return respond(status, FIXTURES.read(name), JSON)


async def fetch(handler: Handler, query: RightsQuery = QUERY) -> RegimeRights | None:
    return await helpers.fetch(CnamGateway, BASE_URL, handler, REGIME, query)


def test_gateway_names_its_family():
    assert CnamGateway.family == REGIME.family == "cnam"


async def test_found_answer_becomes_the_rights():
    assert await fetch(answer(200, "found_full.json")) == FULL


async def test_request_posts_the_consultation_with_the_requester_headers():
    handler, seen = recording(answer(200, "found_full.json"))
    await fetch(handler)
    # Once on MockTransport, once on the FastPort (helpers.fetch checks that both match).
    request, _ = seen
    assert request.method == "POST"
    assert str(request.url) == "https://sandbox.test:8443/regimes/cnam/cdri/v1/consultations"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["X-CDR-Requester-Finess"] == "750712184"
    assert request.headers["X-CDR-Requester-Rpps"] == "10101010101"
    assert json.loads(request.content) == FIXTURES.load("request.json")


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


async def test_garbage_body_is_rejected():
    with pytest.raises(RegimeRejected) as caught:
        await fetch(answer(200, "garbage.json"))
    assert caught.value.regime == "cnam"
