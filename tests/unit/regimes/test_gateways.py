"""What every wire family's gateway gets from ``regimes.http``, checked through each gateway: the
requester headers, transport failures and error statuses mapped to the error tree, the health
probe. What differs per wire is tested in ``tests/unit/regimes/<family>/test_client.py``."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from regimes.cnam import CnamGateway
from regimes.httpx_port import HttpxPort
from regimes.msa import MsaGateway
from regimes.slm import SlmGateway
from regimes.special import SpecialGateway
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected, RegimeTimeout, RegimeUnavailable, RequesterRefused
from rights.model import RegimeRights, Requester, RightsQuery
from tests.unit.regimes import helpers
from tests.unit.regimes.cnam import test_client as cnam
from tests.unit.regimes.helpers import GatewayType, Handler, failing, recording
from tests.unit.regimes.msa import test_client as msa
from tests.unit.regimes.slm import test_client as slm
from tests.unit.regimes.special import test_client as special

CATALOGUE = default_catalogue()
BASE_URL = "https://sandbox.test:8443/"
GATEWAYS: dict[str, GatewayType] = {
    "cnam": CnamGateway,
    "msa": MsaGateway,
    "slm": SlmGateway,
    "special": SpecialGateway,
}
QUERIES = {"cnam": cnam.QUERY, "msa": msa.QUERY, "slm": slm.QUERY, "special": special.QUERY}


async def fetch(
    handler: Handler, code: str, query: RightsQuery | None = None
) -> RegimeRights | None:
    regime = CATALOGUE.get(code)
    query = QUERIES[regime.family] if query is None else query
    return await helpers.fetch(GATEWAYS[regime.family], BASE_URL, handler, regime, query)


async def health(handler: Handler, code: str) -> tuple[bool, list[httpx.Request]]:
    regime = CATALOGUE.get(code)
    recorder, seen = recording(handler)
    return await helpers.health(GATEWAYS[regime.family], BASE_URL, recorder, regime), seen


@pytest.mark.parametrize(
    ("code", "answer", "finess"),
    [
        ("cnam", cnam.answer(200, "unknown.json"), "2A0000014"),
        ("msa", msa.answer(200, "unknown.xml"), "750712184"),
        ("mgen", slm.answer(200, "found_full.json"), "2A0000014"),
        ("cprpf", special.answer(200, "found_full.json"), "750712184"),
    ],
    ids=str,
)
async def test_no_rpps_header_when_a_structure_asks_alone(code, answer, finess):
    handler, seen = recording(answer)
    query = QUERIES[CATALOGUE.get(code).family]
    await fetch(handler, code, replace(query, requester=Requester(finess=finess)))
    assert seen[0].headers["X-CDR-Requester-Finess"] == finess
    assert "X-CDR-Requester-Rpps" not in seen[0].headers


@pytest.mark.parametrize("code", ["cnam", "msa", "camieg", "crpcen"])
@pytest.mark.parametrize(
    ("exc", "error"),
    [
        (httpx.ConnectError("connection refused"), RegimeUnavailable),
        (httpx.ReadError("connection reset by peer"), RegimeUnavailable),
        (httpx.RemoteProtocolError("peer closed connection"), RegimeUnavailable),
        (httpx.ConnectTimeout("connect timed out"), RegimeTimeout),
        (httpx.ReadTimeout("read timed out"), RegimeTimeout),
        (httpx.PoolTimeout("no connection free"), RegimeTimeout),
    ],
    ids=["refused", "reset", "peer-closed", "connect-timeout", "read-timeout", "pool-timeout"],
)
async def test_transport_failures_map_to_the_error_tree(code, exc, error):
    with pytest.raises(error) as caught:
        await fetch(failing(exc), code)
    assert caught.value.regime == code


@pytest.mark.parametrize("code", ["cnam", "msa", "mgp", "enim"])
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, RegimeRejected),
        (401, RequesterRefused),
        (403, RequesterRefused),
        (404, RegimeRejected),
        (405, RegimeRejected),
        (408, RegimeTimeout),
        (429, RegimeUnavailable),
        (500, RegimeUnavailable),
        (502, RegimeUnavailable),
        (503, RegimeUnavailable),
        (504, RegimeTimeout),
    ],
)
async def test_error_statuses_map_to_the_error_tree(code, status, error):
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, text="nope")

    with pytest.raises(error) as caught:
        await fetch(handler, code)
    assert caught.value.regime == code
    # A refusal of who asks and a refusal of the request reach the user as different reasons.
    assert isinstance(caught.value, RequesterRefused) == (status in (401, 403))


@pytest.mark.parametrize("code", ["cnam", "msa", "mgp", "enim"])
async def test_a_refusal_of_the_requester_in_a_problem_document_is_a_requester_refusal(code):
    def handler(request: httpx.Request) -> httpx.Response:
        problem = {"type": "about:blank", "title": "Forbidden", "status": 403}
        return httpx.Response(
            403, json=problem, headers={"content-type": "application/problem+json"}
        )

    with pytest.raises(RequesterRefused):
        await fetch(handler, code)


HEALTH_CODES = ["cnam", "msa", "maee", "assemblee-nationale"]


@pytest.mark.parametrize("code", HEALTH_CODES)
@pytest.mark.parametrize("body", [{"status": "up"}, None], ids=["status-up", "no-body"])
async def test_health_is_true_on_200_from_the_health_path(code, body):
    up, seen = await health(lambda request: httpx.Response(200, json=body), code)
    assert up is True
    assert [(r.method, str(r.url)) for r in seen] == [
        ("GET", f"https://sandbox.test:8443/regimes/{code}/health")
    ]


@pytest.mark.parametrize("code", HEALTH_CODES)
@pytest.mark.parametrize("status", [204, 301, 404, 500, 503])
async def test_health_is_false_on_any_other_status(code, status):
    up, _ = await health(lambda request: httpx.Response(status), code)
    assert up is False


@pytest.mark.parametrize("code", HEALTH_CODES)
@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.ReadTimeout("read timed out"),
    ],
    ids=["refused", "connect-timeout", "read-timeout"],
)
async def test_health_is_false_when_the_service_cannot_answer(code, exc):
    up, _ = await health(failing(exc), code)
    assert up is False


@pytest.mark.parametrize("code", ["cnam", "msa", "mgen", "assemblee-nationale"])
async def test_health_never_raises_even_on_a_closed_client(code):
    regime = CATALOGUE.get(code)
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    await client.aclose()
    assert await GATEWAYS[regime.family](HttpxPort(client, BASE_URL)).health(regime) is False
