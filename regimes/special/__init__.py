"""Adapter for the special wire family: CNMSS, CRPCEN, ENIM, CANSSM, CAVIMAC, CPRP SNCF,
CCAS RATP, Assemblée nationale, Sénat. Wire format: ``docs/wire/special.md``."""

from __future__ import annotations

from regimes.special.client import SpecialGateway

__all__ = ["SpecialGateway"]
