"""Adapter for the cnam wire family: JSON entity blocks shaped like CDRi 03.01-03.10."""

from __future__ import annotations

from regimes.cnam.client import CnamGateway

__all__ = ["CnamGateway"]
