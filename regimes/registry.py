"""The registry of regime gateways, one per regime service, filled by the composition root."""

from __future__ import annotations

from collections.abc import Mapping

from rights.errors import ConfigError
from rights.ports import RegimeGateway

__all__ = ["GatewayRegistry"]


class GatewayRegistry:
    """Regime code → the gateway talking to that regime's service. Refuses duplicates."""

    def __init__(self) -> None:
        self._gateways: dict[str, RegimeGateway] = {}

    def add(self, regime_code: str, gateway: RegimeGateway) -> None:
        if regime_code in self._gateways:
            raise ConfigError(f"a gateway for regime {regime_code!r} is already registered")
        self._gateways[regime_code] = gateway

    def get(self, regime_code: str) -> RegimeGateway:
        try:
            return self._gateways[regime_code]
        except KeyError:
            raise ConfigError(f"no gateway registered for regime {regime_code!r}") from None

    def as_mapping(self) -> Mapping[str, RegimeGateway]:
        return dict(self._gateways)
