from __future__ import annotations

import json

import httpx
import pytest

from regimes.special import SpecialGateway
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected
from rights.model import RegimeRights
from tests.unit.regimes import helpers
from tests.unit.regimes.helpers import Handler, recording, respond
from tests.unit.regimes.special.test_codec import FIXTURES, FULL, QUERY

CATALOGUE = default_catalogue()
BASE_URL = "https://sandbox.test:8443"
JSON = {"content-type": "application/json"}


def answer(status: int, name: str) -> Handler:
    return respond(status, FIXTURES.read(name), JSON)


async def fetch(handler: Handler, regime: str = "cprpf", query=QUERY) -> RegimeRights | None:
    return await helpers.fetch(SpecialGateway, BASE_URL, handler, CATALOGUE.get(regime), query)


async def test_found_answer_becomes_the_rights():
    assert await fetch(answer(200, "found_full.json")) == FULL


async def test_request_is_the_committed_request_with_the_requester_headers():
    handler, seen = recording(answer(200, "found_full.json"))
    await fetch(handler)
    expected = json.loads(FIXTURES.read("request.json"))
    # Once on MockTransport, once on the FastPort (helpers.fetch checks that both match).
    request, _ = seen
    assert request.method == expected["method"]
    assert request.url.host == "sandbox.test"
    assert request.url.path == expected["path"]
    assert not request.url.params
    assert json.loads(request.content) == expected["body"]
    for name, value in expected["headers"].items():
        assert request.headers[name] == value


async def test_not_found_answer_is_none():
    assert await fetch(answer(200, "unknown_person.json"), regime="cnmss") is None


async def test_422_is_rejected_naming_the_error_code():
    with pytest.raises(RegimeRejected, match="HTTP 422: DATE_SOINS_INVALIDE") as caught:
        await fetch(answer(422, "error_422.json"), regime="senat")
    assert caught.value.regime == "senat"


async def test_422_with_garbage_body_is_still_rejected():
    with pytest.raises(RegimeRejected):
        await fetch(respond(422, b"<html/>"))


@pytest.mark.parametrize(
    "body",
    [b"<html>maintenance</html>", b'{"trouve": true', b'{"trouve": "oui"}', b"[]"],
    ids=["html", "truncated", "trouve-string", "list"],
)
async def test_garbage_200_body_is_rejected(body):
    with pytest.raises(RegimeRejected) as caught:
        await fetch(respond(200, body, JSON))
    assert caught.value.regime == "cprpf"


async def test_a_success_status_other_than_200_is_rejected():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(202, json={"trouve": False})

    with pytest.raises(RegimeRejected, match="unexpected HTTP 202"):
        await fetch(handler)


def test_the_gateway_names_its_family():
    assert SpecialGateway.family == "special"
    assert {r.code for r in CATALOGUE if r.family == "special"} == {
        "cnmss", "crpcen", "enim", "canssm", "cavimac", "cprpf", "ccas-ratp",
        "assemblee-nationale", "senat",
    }  # fmt: skip
