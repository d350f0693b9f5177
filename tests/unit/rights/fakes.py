"""Hand-written fakes for the rights ports (no mocks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, date, datetime

from rights.catalogue import Regime
from rights.identifiers import nir_key, parse_nir
from rights.model import (
    AmoPeriod,
    Beneficiary,
    ManagingOrganisation,
    OuvrantDroit,
    Period,
    Qualite,
    RegimeRights,
    RightsQuery,
)

Behaviour = Callable[[Regime, RightsQuery], RegimeRights | None]


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def now(self) -> datetime:
        return datetime(2026, 11, 24, 9, 0, tzinfo=UTC)

    def monotonic(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


class InFlight:
    """Counts calls in progress across gateways, to observe concurrency without timing."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0


class FakeGateway:
    """Answers by regime code from ``behaviours``; records every call."""

    def __init__(
        self,
        family: str,
        behaviours: dict[str, Behaviour],
        delay: float = 0.0,
        in_flight: InFlight | None = None,
    ) -> None:
        self.family = family
        self.behaviours = behaviours
        self.delay = delay
        self.calls: list[str] = []
        self.in_flight = in_flight or InFlight()

    async def fetch(self, regime: Regime, query: RightsQuery) -> RegimeRights | None:
        self.calls.append(regime.code)
        self.in_flight.now += 1
        self.in_flight.peak = max(self.in_flight.peak, self.in_flight.now)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight.now -= 1
        behaviour = self.behaviours.get(regime.code)
        if behaviour is None:
            return None
        return behaviour(regime, query)

    async def health(self, regime: Regime) -> bool:
        return True


BODY = "1850575056123"
NIR = parse_nir(BODY + nir_key(BODY))


def query(regime: str | None = "cnam", day: date = date(2026, 11, 24)) -> RightsQuery:
    return RightsQuery(nir=NIR, date_of_care=day, birth_date="1985-05-12", regime=regime)


def rights_for(regime: Regime, *periods: Period) -> RegimeRights:
    return RegimeRights(
        beneficiary=Beneficiary("DUPONT", ("Marie",), "1985-05-12", 1, Qualite.ASSURE, NIR.value),
        ouvrant_droit=OuvrantDroit("DUPONT", ("Marie",), NIR.value),
        organisation=ManagingOrganisation(
            regime.grand_regimes[0], regime.example_caisse, regime.example_centre, "10", regime.code
        ),
        amo=tuple(AmoPeriod(p) for p in periods) or (AmoPeriod(Period(date(2024, 1, 1), None)),),
    )
