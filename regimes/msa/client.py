"""The msa gateway: posts a SOAP envelope over HTTP and hands the answer to the codec."""

from __future__ import annotations

from regimes.http import HttpGateway, check_status, requester_headers
from regimes.msa.codec import SOAP_ACTION, build_request, fault_error, parse_response, read_fault
from rights.catalogue import Regime
from rights.model import RegimeRights, RightsQuery

__all__ = ["MsaGateway"]


class MsaGateway(HttpGateway):
    """``RegimeGateway`` for the regimes of the msa family (docs/wire/msa.md)."""

    family = "msa"

    async def fetch(self, regime: Regime, query: RightsQuery) -> RegimeRights | None:
        response = await self._call(
            "POST",
            f"/regimes/{regime.code}/ws/ConsultationDroits",
            regime.code,
            # A consultation reads rights and changes nothing at the regime: it may be sent
            # again on a fresh connection when a kept-alive one turns out closed.
            idempotent=True,
            body=build_request(query),
            headers={
                "Content-Type": "text/xml; charset=utf-8",
                "SOAPAction": SOAP_ACTION,
                **requester_headers(query.requester),
            },
        )
        if response.status_code >= 500:
            # SOAP 1.1 §6.2 sends every fault with HTTP 500, a Client fault too: the fault code,
            # not the status, says whether the request was refused or the regime is in trouble.
            fault = read_fault(response.content)
            if fault is not None:
                raise fault_error(fault, regime.code)
        check_status(response, regime.code)
        return parse_response(response.content, regime.code)
