"""The cnam gateway: sends a consultation over HTTP and hands the body to the codec."""

from __future__ import annotations

from regimes.cnam.codec import build_request, error_message, parse_response
from regimes.http import HttpGateway, check_status, requester_headers
from rights.catalogue import Regime
from rights.errors import RegimeRejected
from rights.model import RegimeRights, RightsQuery

__all__ = ["CnamGateway"]


class CnamGateway(HttpGateway):
    """``RegimeGateway`` for the regimes of the cnam family (docs/wire/cnam.md)."""

    family = "cnam"

    async def fetch(self, regime: Regime, query: RightsQuery) -> RegimeRights | None:
        response = await self._call(
            "POST",
            f"/regimes/{regime.code}/cdri/v1/consultations",
            regime.code,
            # A consultation reads rights and changes nothing at the regime: it may be sent
            # again on a fresh connection when a kept-alive one turns out closed.
            idempotent=True,
            body=build_request(query),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                **requester_headers(query.requester),
            },
        )
        if response.status_code == 400:
            # The coded body says which field was refused; the status alone says "rejected".
            raise RegimeRejected(error_message(response.content, regime.code), regime=regime.code)
        check_status(response, regime.code)
        return parse_response(response.content, regime.code)
