from __future__ import annotations

import json

import httpx
import pytest

from regimes.slm import SlmGateway
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected, RegimeUnavailable
from rights.model import RegimeRights
from tests.unit.regimes import helpers
from tests.unit.regimes.helpers import Handler, recording, respond
from tests.unit.regimes.slm.test_codec import FIXTURES, FULL, QUERY

CATALOGUE = default_catalogue()
BASE_URL = "https://sandbox.test:8443/"
PROBLEM = {"content-type": "application/problem+json"}


def answer(status: int, name: str, headers: dict[str, str] | None = None) -> Handler:
    return respond(status, FIXTURES.read(name), headers or {"content-type": "application/json"})


async def fetch(handler: Handler, regime: str = "mgen", query=QUERY) -> RegimeRights | None:
    return await helpers.fetch(SlmGateway, BASE_URL, handler, CATALOGUE.get(regime), query)


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
    assert request.url.port == 8443
    assert request.url.path == expected["path"]
    assert dict(request.url.params) == expected["params"]
    for name, value in expected["headers"].items():
        assert request.headers[name] == value


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
    with pytest.raises(RegimeRejected, match="not JSON"):
        await fetch(respond(404, b"<html/>", PROBLEM))


async def test_bad_request_problem_is_rejected_naming_the_parameter():
    with pytest.raises(RegimeRejected, match=r"HTTP 400: Requête invalide.*dateSoins") as caught:
        await fetch(answer(400, "error_bad_request.json", PROBLEM))
    assert caught.value.regime == "mgen"


async def test_a_transient_status_stays_transient_even_with_a_problem_body():
    with pytest.raises(RegimeUnavailable):
        await fetch(answer(429, "error_bad_request.json", PROBLEM))


@pytest.mark.parametrize(
    "body",
    [b"<html>maintenance</html>", b'{"beneficiaire": ', b'{"versionApi": "2.3"}'],
    ids=["html", "truncated", "empty-object"],
)
async def test_garbage_200_body_is_rejected(body):
    with pytest.raises(RegimeRejected) as caught:
        await fetch(respond(200, body, {"content-type": "application/json"}))
    assert caught.value.regime == "mgen"


async def test_a_success_status_other_than_200_is_rejected():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(204)

    with pytest.raises(RegimeRejected, match="unexpected HTTP 204"):
        await fetch(handler)


def test_the_gateway_names_its_family():
    assert SlmGateway.family == "slm"
    assert {r.code for r in CATALOGUE if r.family == "slm"} == {
        "camieg", "mgp", "interiale", "mage", "mgen", "maee",
    }  # fmt: skip
