"""The slm gateway: the only I/O of the slm family, around the pure ``codec``."""

from __future__ import annotations

from regimes.http import HttpGateway, WireReply, expect_200, rejection, requester_headers
from regimes.slm import codec
from rights.catalogue import Regime
from rights.errors import RegimeRejected
from rights.model import RegimeRights, RightsQuery

__all__ = ["SlmGateway"]


class SlmGateway(HttpGateway):
    """``RegimeGateway`` for MGEN, MGP, INTERIALE, MAGE, CAMIEG and MAEE."""

    family = "slm"

    async def fetch(self, regime: Regime, query: RightsQuery) -> RegimeRights | None:
        response = await self._call(
            "GET",
            codec.droits_path(regime.code, query),
            regime.code,
            params=codec.query_to_params(query),
            headers={"Accept": "application/json", **requester_headers(query.requester)},
        )
        if _is_unknown_person(response, regime.code):
            return None
        _check_refusal(response, regime.code)
        expect_200(response, regime.code)
        payload = codec.decode_json(response.content, regime.code)
        return codec.payload_to_rights(payload, regime.code)


def _is_unknown_person(response: WireReply, regime: str) -> bool:
    """True for the insurer's "unknown beneficiary" 404; any other 404 means a wrong URL."""
    if response.status_code != 404:
        return False
    if not codec.is_problem(response.headers.get("content-type")):
        raise RegimeRejected(
            f"{regime}: HTTP 404 without the unknown-beneficiary problem (wrong URL?)",
            regime=regime,
        )
    problem = codec.decode_json(response.content, regime)
    if codec.is_unknown_person(problem):
        return True
    raise RegimeRejected(f"{regime}: HTTP 404: {codec.problem_summary(problem)}", regime=regime)


def _check_refusal(response: WireReply, regime: str) -> None:
    """A 4xx problem document names the refused parameter: put it in the error message."""
    status = response.status_code
    # 408 and 429 are transient: regimes.http.check_status maps them.
    transient = status in (408, 429)
    if (
        400 <= status < 500
        and not transient
        and codec.is_problem(response.headers.get("content-type"))
    ):
        problem = codec.decode_json(response.content, regime)
        raise rejection(
            status,
            f"{regime}: request refused, HTTP {status}: {codec.problem_summary(problem)}",
            regime,
        )
