"""Adapter for the slm wire family: the student and civil-servant mutual insurers (MGEN, MGP,
INTERIALE, MAGE, CAMIEG, MAEE). Wire format: ``docs/wire/slm.md``."""

from __future__ import annotations

from regimes.slm.client import SlmGateway

__all__ = ["SlmGateway"]
