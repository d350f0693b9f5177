"""The special gateway: the only I/O of the special family, around the pure ``codec``."""

from __future__ import annotations

import httpx

from regimes.http import check_status, probe_health, requester_headers, send
from regimes.special import codec
from rights.catalogue import Regime
from rights.errors import RegimeRejected
from rights.model import RegimeRights, RightsQuery

__all__ = ["SpecialGateway"]


class SpecialGateway:
    """``RegimeGateway`` for CNMSS, CRPCEN, ENIM, CANSSM, CAVIMAC, CPRP SNCF, CCAS RATP,
    Assemblée nationale and Sénat.

    Timeouts and retries are the lookup use case's business: the injected client is used as is.
    """

    family = "special"

    def __init__(self, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    async def fetch(self, regime: Regime, query: RightsQuery) -> RegimeRights | None:
        request = self._client.build_request(
            "POST",
            self._base_url + codec.droits_path(regime.code),
            json=codec.query_to_body(query),
            headers={"Accept": "application/json", **requester_headers(query.requester)},
        )
        response = await send(self._client, request, regime.code)
        if response.status_code == 422:
            # The regime names the refused field in its error document: keep it in the message.
            error = codec.decode_json(response.content, regime.code)
            raise RegimeRejected(
                f"{regime.code}: request refused, HTTP 422: {codec.error_summary(error)}",
                regime=regime.code,
            )
        check_status(response, regime.code)
        if response.status_code != 200:
            raise RegimeRejected(
                f"{regime.code}: unexpected HTTP {response.status_code}", regime=regime.code
            )
        payload = codec.decode_json(response.content, regime.code)
        return codec.payload_to_rights(payload, regime.code)

    async def health(self, regime: Regime) -> bool:
        return await probe_health(self._client, self._base_url, regime.code)
