"""What the gateway and codec tests of every wire family share: the committed fixtures of a family,
hand-written ``httpx.MockTransport`` handlers, and one gateway call over such a handler."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx

from rights.catalogue import Regime
from rights.model import RegimeRights, RightsQuery
from rights.ports import RegimeGateway

Handler = Callable[[httpx.Request], httpx.Response]
GatewayType = Callable[[httpx.AsyncClient, str], RegimeGateway]


class Fixtures:
    """The committed answers and requests of a wire family: ``tests/fixtures/regimes/<family>``."""

    def __init__(self, family: str) -> None:
        self.path = Path(__file__).parents[2] / "fixtures" / "regimes" / family

    def read(self, name: str) -> bytes:
        return (self.path / name).read_bytes()

    def load(self, name: str) -> object:
        return json.loads((self.path / name).read_text(encoding="utf-8"))

    def names(self, pattern: str) -> list[str]:
        names = sorted(p.name for p in self.path.glob(pattern))
        assert names, f"no fixture matches {pattern}"
        return names


def respond(status: int, content: bytes = b"", headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers=headers)

    return handler


def failing(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


def recording(handler: Handler) -> tuple[Handler, list[httpx.Request]]:
    """``handler`` that also keeps every request it answers, in the list returned with it."""
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    return record, seen


async def fetch(
    gateway: GatewayType, base_url: str, handler: Handler, regime: Regime, query: RightsQuery
) -> RegimeRights | None:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await gateway(client, base_url).fetch(regime, query)


async def health(gateway: GatewayType, base_url: str, handler: Handler, regime: Regime) -> bool:
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        return await gateway(client, base_url).health(regime)
