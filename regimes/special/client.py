"""The special gateway: the only I/O of the special family, around the pure ``codec``."""

from __future__ import annotations

from regimes.http import HttpGateway, expect_200, requester_headers
from regimes.special import codec
from rights.catalogue import Regime
from rights.errors import RegimeRejected
from rights.model import RegimeRights, RightsQuery

__all__ = ["SpecialGateway"]


class SpecialGateway(HttpGateway):
    """``RegimeGateway`` for CNMSS, CRPCEN, ENIM, CANSSM, CAVIMAC, CPRP SNCF, CCAS RATP,
    Assemblée nationale and Sénat."""

    family = "special"

    async def fetch(self, regime: Regime, query: RightsQuery) -> RegimeRights | None:
        response = await self._call(
            "POST",
            codec.droits_path(regime.code),
            regime.code,
            # A consultation reads rights and changes nothing at the regime: it may be sent
            # again on a fresh connection when a kept-alive one turns out closed.
            idempotent=True,
            body=codec.encode_json(codec.query_to_body(query)),
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                **requester_headers(query.requester),
            },
        )
        if response.status_code == 422:
            # The regime names the refused field in its error document: keep it in the message.
            error = codec.decode_json(response.content, regime.code)
            raise RegimeRejected(
                f"{regime.code}: request refused, HTTP 422: {codec.error_summary(error)}",
                regime=regime.code,
            )
        expect_200(response, regime.code)
        payload = codec.decode_json(response.content, regime.code)
        return codec.payload_to_rights(payload, regime.code)
