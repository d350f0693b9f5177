from __future__ import annotations

import pytest

from regimes.msa import MsaGateway
from regimes.msa.codec import build_request
from rights.catalogue import default_catalogue
from rights.errors import RegimeRejected, RegimeUnavailable
from rights.model import RegimeRights, RightsQuery
from tests.unit.regimes import helpers
from tests.unit.regimes.helpers import Handler, recording, respond
from tests.unit.regimes.msa.test_codec import FIXTURES, FULL, QUERY

REGIME = default_catalogue().get("msa")
BASE_URL = "https://sandbox.test:8443/"
XML = {"content-type": "text/xml; charset=utf-8"}


def answer(status: int, name: str) -> Handler:
    return respond(status, FIXTURES.read(name), XML)


async def fetch(handler: Handler, query: RightsQuery = QUERY) -> RegimeRights | None:
    return await helpers.fetch(MsaGateway, BASE_URL, handler, REGIME, query)


def test_gateway_names_its_family():
    assert MsaGateway.family == REGIME.family == "msa"


async def test_found_answer_becomes_the_rights():
    assert await fetch(answer(200, "found_full.xml")) == FULL


async def test_request_posts_the_envelope_with_soap_and_requester_headers():
    handler, seen = recording(answer(200, "found_full.xml"))
    await fetch(handler)
    # Once on MockTransport, once on the FastPort (helpers.fetch checks that both match).
    request, _ = seen
    assert request.method == "POST"
    assert str(request.url) == "https://sandbox.test:8443/regimes/msa/ws/ConsultationDroits"
    assert request.headers["content-type"] == "text/xml; charset=utf-8"
    assert request.headers["soapaction"] == (
        '"urn:cdr-gateway:msa:consultation-droits:1#consultationDroits"'
    )
    assert request.headers["X-CDR-Requester-Finess"] == "2A0000014"
    assert request.headers["X-CDR-Requester-Rpps"] == "10101010101"
    assert request.content == build_request(QUERY)


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


@pytest.mark.parametrize(
    "name", ["garbage.xml", "malformed_entity_declaration.xml", "malformed_latin1.xml"], ids=str
)
async def test_unusable_200_body_is_rejected(name):
    with pytest.raises(RegimeRejected) as caught:
        await fetch(answer(200, name))
    assert caught.value.regime == "msa"
