"""The registry of regime gateways, one per wire family, filled by the composition root."""

from __future__ import annotations

from collections.abc import Mapping

from rights.errors import ConfigError
from rights.ports import RegimeGateway

__all__ = ["GatewayRegistry"]


class GatewayRegistry:
    def __init__(self) -> None:
        self._gateways: dict[str, RegimeGateway] = {}

    def add(self, gateway: RegimeGateway) -> None:
        if gateway.family in self._gateways:
            raise ConfigError(f"a gateway for wire family {gateway.family!r} is already registered")
        self._gateways[gateway.family] = gateway

    def get(self, family: str) -> RegimeGateway:
        try:
            return self._gateways[family]
        except KeyError:
            raise ConfigError(f"no gateway registered for wire family {family!r}") from None

    def as_mapping(self) -> Mapping[str, RegimeGateway]:
        return dict(self._gateways)
