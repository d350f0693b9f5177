"""The cnam gateway: sends a consultation over HTTP and hands the body to the codec."""

from __future__ import annotations

import httpx

from regimes.cnam.codec import build_request, error_message, parse_response
from regimes.http import check_status, probe_health, requester_headers, send
from rights.catalogue import Regime
from rights.errors import RegimeRejected
from rights.model import RegimeRights, RightsQuery

__all__ = ["CnamGateway"]


class CnamGateway:
    """``RegimeGateway`` for the regimes of the cnam family (docs/wire/cnam.md).

    Timeouts and retries belong to the lookup use case, which owns the budget.
    """

    family = "cnam"

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    async def fetch(self, regime: Regime, query: RightsQuery) -> RegimeRights | None:
        request = self._client.build_request(
            "POST",
            f"{self._base_url}/regimes/{regime.code}/cdri/v1/consultations",
            content=build_request(query),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                **requester_headers(query.requester),
            },
        )
        response = await send(self._client, request, regime.code)
        if response.status_code == 400:
            # The coded body says which field was refused; the status alone says "rejected".
            raise RegimeRejected(error_message(response.content, regime.code), regime=regime.code)
        check_status(response, regime.code)
        return parse_response(response.content, regime.code)

    async def health(self, regime: Regime) -> bool:
        return await probe_health(self._client, self._base_url, regime.code)
