"""The cnam gateway: sends a consultation over HTTP and hands the body to the codec."""

from __future__ import annotations

import httpx

from regimes.cnam.codec import build_request, error_message, parse_response
from regimes.http import check_status, send
from rights.catalogue import Regime
from rights.errors import RegimeRejected
from rights.model import RegimeRights, Requester, RightsQuery

__all__ = ["CnamGateway"]


def _requester_headers(requester: Requester) -> dict[str, str]:
    headers = {"X-CDR-Requester-Finess": requester.finess}
    if requester.rpps:
        headers["X-CDR-Requester-Rpps"] = requester.rpps
    return headers


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
                **_requester_headers(query.requester),
            },
        )
        response = await send(self._client, request, regime.code)
        if response.status_code == 400:
            # The coded body says which field was refused; the status alone says "rejected".
            raise RegimeRejected(error_message(response.content, regime.code), regime=regime.code)
        check_status(response, regime.code)
        return parse_response(response.content, regime.code)

    async def health(self, regime: Regime) -> bool:
        try:
            response = await self._client.get(f"{self._base_url}/regimes/{regime.code}/health")
        except (httpx.HTTPError, httpx.InvalidURL):
            return False
        return response.status_code == 200
