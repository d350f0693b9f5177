"""The lookup use case: route a query to one regime or discover across all, with resilience.

Each regime is asked through the gateway of its wire family, inside a time budget that covers
retries; transient faults are retried with exponential backoff; a per-regime circuit breaker
stops hammering a regime that keeps failing; answers are cached for a TTL. Discovery asks every
regime concurrently, so its latency is bounded by the slowest regime (or the budget), never the
sum. One regime failing never fails the others: it yields its own status.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from rights.catalogue import Regime, RegimeCatalogue
from rights.errors import (
    ConfigError,
    RegimeError,
    RegimeRejected,
    RegimeTimeout,
    RequesterRefused,
)
from rights.evaluation import evaluate, query_warnings
from rights.model import RegimeRights, RightsQuery
from rights.ports import Clock, RegimeGateway
from rights.resilience import (
    BreakerState,
    CacheKey,
    CircuitBreaker,
    ResiliencePolicy,
    ResultCache,
)
from rights.result import InForceReason, LookupReport, RegimeStatus, RightsResult

__all__ = ["RightsLookup"]

Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class _Attempts:
    count: int = 0
    last_error: RegimeError | None = field(default=None)


class RightsLookup:
    """Answers a ``RightsQuery`` with a ``LookupReport``; never raises for a regime's fault.

    ``gateways`` maps each regime code to the gateway of its service: one per regime, since
    each regime is its own service (host, certificate, connection pool).
    """

    def __init__(
        self,
        catalogue: RegimeCatalogue,
        gateways: Mapping[str, RegimeGateway],
        clock: Clock,
        policy: ResiliencePolicy | None = None,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        missing = [code for code in catalogue.codes if code not in gateways]
        if missing:
            raise ConfigError(f"no regime gateway for regimes: {', '.join(missing)}")
        self.catalogue = catalogue
        self.policy = policy or ResiliencePolicy()
        self._gateways = dict(gateways)
        self._clock = clock
        self._sleep = sleep
        self.cache = ResultCache(clock, ttl_s=self.policy.cache_ttl_s, size=self.policy.cache_size)
        self._breakers = {
            r.code: CircuitBreaker(
                clock,
                failures=self.policy.breaker_failures,
                reset_s=self.policy.breaker_reset_s,
            )
            for r in catalogue
        }

    def regimes_for(self, query: RightsQuery) -> tuple[Regime, ...]:
        """The regime asked for, or every regime that can hold this kind of number."""
        if query.regime is not None:
            return (self.catalogue.get(query.regime),)
        return self.catalogue.serving(query.nir.kind)

    def breaker_states(self) -> dict[str, BreakerState]:
        return {code: breaker.state for code, breaker in self._breakers.items()}

    async def lookup(self, query: RightsQuery) -> LookupReport:
        regimes = self.regimes_for(query)
        started_at = self._clock.now()
        t0 = self._clock.monotonic()
        if len(regimes) == 1:
            # A validation query: no fan-out, so no task to create and schedule.
            results = [await self._ask(regimes[0], query)]
        else:
            results = await asyncio.gather(*(self._ask(regime, query) for regime in regimes))
        return LookupReport(
            query=query,
            results=tuple(results),
            started_at=started_at,
            elapsed_ms=(self._clock.monotonic() - t0) * 1000,
            warnings=query_warnings(query),
        )

    async def _ask(self, regime: Regime, query: RightsQuery) -> RightsResult:
        key = CacheKey(
            regime.code,
            query.nir.value,
            query.birth_date,
            query.rang,
            query.date_of_care,
            query.requester.finess,
        )
        cached = self.cache.get(key)
        if cached is not None:
            status, rights = cached
            return self._result(regime, query, status, rights, from_cache=True)

        breaker = self._breakers[regime.code]
        if not breaker.allow():
            return self._result(
                regime,
                query,
                RegimeStatus.UNAVAILABLE,
                None,
                detail=f"{regime.code}: circuit open after repeated failures",
            )

        t0 = self._clock.monotonic()
        attempts = _Attempts()
        try:
            async with asyncio.timeout(self.policy.timeout_s):
                rights = await self._fetch_with_retries(regime, query, attempts)
        except TimeoutError:
            breaker.record_failure()
            return self._failed(regime, query, RegimeStatus.TIMEOUT, attempts, t0, timed_out=True)
        except asyncio.CancelledError:
            # Our caller went away: no verdict on the regime, but a half-open trial must end
            # here or the breaker would refuse every later call.
            breaker.record_neutral()
            raise
        except RegimeRejected as exc:
            breaker.record_neutral()
            attempts.last_error = exc
            refusal = (
                InForceReason.REQUESTER_REFUSED
                if isinstance(exc, RequesterRefused)
                else InForceReason.REQUEST_REJECTED
            )
            return self._failed(regime, query, RegimeStatus.REJECTED, attempts, t0, refusal=refusal)
        except RegimeError as exc:
            breaker.record_failure()
            attempts.last_error = exc
            status = (
                RegimeStatus.TIMEOUT if isinstance(exc, RegimeTimeout) else RegimeStatus.UNAVAILABLE
            )
            return self._failed(regime, query, status, attempts, t0)
        except Exception as exc:  # an adapter bug must not sink the other regimes' answers
            breaker.record_failure()
            attempts.last_error = RegimeError(
                f"{regime.code}: internal error {type(exc).__name__}", regime=regime.code
            )
            return self._failed(regime, query, RegimeStatus.UNAVAILABLE, attempts, t0)

        breaker.record_success()
        status = RegimeStatus.UNKNOWN if rights is None else RegimeStatus.FOUND
        self.cache.put(key, status, rights)
        return self._result(
            regime,
            query,
            status,
            rights,
            elapsed_ms=(self._clock.monotonic() - t0) * 1000,
            attempts=attempts.count,
        )

    async def _fetch_with_retries(
        self, regime: Regime, query: RightsQuery, attempts: _Attempts
    ) -> RegimeRights | None:
        gateway = self._gateways[regime.code]
        while True:
            attempts.count += 1
            try:
                return await gateway.fetch(regime, query)
            except RegimeError as exc:
                attempts.last_error = exc
                if not exc.transient or attempts.count >= self.policy.max_attempts:
                    raise
            await self._sleep(self.policy.backoff_s * 2 ** (attempts.count - 1))

    def _failed(
        self,
        regime: Regime,
        query: RightsQuery,
        status: RegimeStatus,
        attempts: _Attempts,
        t0: float,
        *,
        timed_out: bool = False,
        refusal: InForceReason | None = None,
    ) -> RightsResult:
        if timed_out:
            detail = f"{regime.code}: no answer within {self.policy.timeout_s:g} s"
            if attempts.last_error is not None:
                detail += f" (last error: {attempts.last_error.message})"
        else:
            detail = attempts.last_error.message if attempts.last_error else status.value
        return self._result(
            regime,
            query,
            status,
            None,
            detail=detail,
            elapsed_ms=(self._clock.monotonic() - t0) * 1000,
            attempts=attempts.count,
            refusal=refusal,
        )

    @staticmethod
    def _result(
        regime: Regime,
        query: RightsQuery,
        status: RegimeStatus,
        rights: RegimeRights | None,
        *,
        detail: str = "",
        elapsed_ms: float = 0.0,
        attempts: int = 0,
        from_cache: bool = False,
        refusal: InForceReason | None = None,
    ) -> RightsResult:
        return RightsResult(
            regime=regime.code,
            status=status,
            evaluation=evaluate(status, rights, query.date_of_care, refusal=refusal),
            rights=rights,
            detail=detail,
            elapsed_ms=elapsed_ms,
            attempts=attempts,
            from_cache=from_cache,
        )
