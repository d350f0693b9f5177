"""Adapter for the msa wire family: SOAP 1.1 envelopes with French element names."""

from __future__ import annotations

from regimes.msa.client import MsaGateway

__all__ = ["MsaGateway"]
