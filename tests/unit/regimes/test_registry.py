from __future__ import annotations

import pytest

from regimes.registry import GatewayRegistry
from rights.errors import ConfigError
from tests.unit.rights.fakes import FakeGateway


def test_registry_refuses_a_second_gateway_for_a_regime():
    registry = GatewayRegistry()
    registry.add("cnam", FakeGateway("cnam", {}))
    with pytest.raises(ConfigError, match="already registered"):
        registry.add("cnam", FakeGateway("cnam", {}))


def test_registry_names_a_missing_regime():
    registry = GatewayRegistry()
    gateway = FakeGateway("msa", {})
    registry.add("msa", gateway)
    assert registry.get("msa") is gateway
    assert dict(registry.as_mapping()) == {"msa": gateway}
    with pytest.raises(ConfigError, match="'senat'"):
        registry.get("senat")
