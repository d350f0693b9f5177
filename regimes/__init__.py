"""Regime adapters, one package per wire family (cnam, msa, slm, special), and what they share:
the regime port every gateway sends through, and the endpoint it is built for. The names below
are the entry points the composition root wires; the transports are in ``regimes.transport``
(fast) and ``regimes.httpx_port`` (httpx)."""

from regimes.endpoints import RegimeEndpoint, client_tls_context
from regimes.port import (
    AssertionSigner,
    NoAssertion,
    RegimePort,
    SigningPort,
    WireReply,
    WireRequest,
)

__all__ = [
    "AssertionSigner",
    "NoAssertion",
    "RegimeEndpoint",
    "RegimePort",
    "SigningPort",
    "WireReply",
    "WireRequest",
    "client_tls_context",
]
