"""The composition root: the only place adapters are chosen and wired together."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import httpx
from starlette.applications import Starlette

from cdr.clock import SystemClock
from cdr.ids import time_ordered_id
from cdr.logs import LookupEvents, with_entry
from cdr.metrics import GatewayMetrics
from cdr.service import LookupService
from cdr.settings import Settings
from cdr.storage import Database, SqlLookupStore
from cdr.storage.answers import SqlAnswerStore
from cdr.storage.fhir_store import SqlFhirStore
from cdr.storage.strategy import SQLALCHEMY_WRITES, SQLITE_DRIVER_WRITES, WriteStrategy
from cdr.storage.writer import SingleWriter
from fhir_server.search_params import index_entries
from fhir_server.submit import SubmitService
from mapping.fhir.codesystems import all_conformance_resources
from regimes.cnam import CnamGateway
from regimes.msa import MsaGateway
from regimes.registry import GatewayRegistry
from regimes.slm import SlmGateway
from regimes.special import SpecialGateway
from regimes.transport import FastClient, FastTransport
from rights.catalogue import RegimeCatalogue, default_catalogue
from rights.lookup import RightsLookup
from rights.model import Requester
from rights.ports import RegimeGateway
from rights.resilience import ResiliencePolicy
from rights.result import LookupReport
from sandbox.app import create_app as create_sandbox_app
from sandbox.faults import FaultBook
from sandbox.population import Population, build_population
from sandbox.wire import cnam as cnam_wire
from sandbox.wire import msa as msa_wire
from sandbox.wire import slm as slm_wire
from sandbox.wire import special as special_wire

__all__ = [
    "Gateway",
    "build_gateway",
    "build_population_for",
    "build_sandbox",
    "build_submit_service",
    "prepare_storage",
    "publish_conformance",
    "write_strategy",
]


@dataclass
class Gateway:
    """Everything an entry point needs, built once per process."""

    settings: Settings
    catalogue: RegimeCatalogue
    database: Database
    store: SqlLookupStore
    lookup: RightsLookup
    service: LookupService
    registry: GatewayRegistry
    http_clients: list[httpx.AsyncClient]
    clock: SystemClock
    fhir_store: SqlFhirStore
    writer: SingleWriter
    metrics: GatewayMetrics
    writes: WriteStrategy  # how the hot writes reach the database (``write_strategy``)

    @property
    def default_requester(self) -> Requester:
        return Requester(finess=self.settings.requester_finess, label="CDR Gateway")

    async def aclose(self) -> None:
        for client in self.http_clients:
            await client.aclose()
        self.writer.close()
        self.database.dispose()
        self.metrics.close()


_GATEWAYS: dict[str, Callable[[httpx.AsyncClient, str], RegimeGateway]] = {
    "cnam": CnamGateway,
    "msa": MsaGateway,
    "slm": SlmGateway,
    "special": SpecialGateway,
}


def policy_from(settings: Settings) -> ResiliencePolicy:
    return ResiliencePolicy(
        timeout_s=settings.regime_timeout_s,
        max_attempts=settings.regime_max_attempts,
        backoff_s=settings.regime_backoff_s,
        breaker_failures=settings.breaker_failures,
        breaker_reset_s=settings.breaker_reset_s,
        cache_ttl_s=settings.cache_ttl_s,
        cache_size=settings.cache_size,
    )


def build_http_client(settings: Settings, ssl_context: ssl.SSLContext) -> httpx.AsyncClient:
    """A client for one regime service, on our lean HTTP/1.1 transport (decision 0004).

    The lookup use case owns the time budget; the client's own timeout is only a backstop.
    """
    transport = FastTransport(max_connections=settings.http_pool_size, ssl_context=ssl_context)
    return FastClient(transport, timeout=httpx.Timeout(settings.regime_timeout_s + 1))


def build_regime_gateways(
    settings: Settings, catalogue: RegimeCatalogue
) -> tuple[GatewayRegistry, list[httpx.AsyncClient]]:
    """A gateway per regime of ``catalogue`` and the HTTP clients to close after use."""
    base_url = settings.effective_regimes_url
    registry = GatewayRegistry()
    clients: list[httpx.AsyncClient] = []
    # Building a TLS context costs milliseconds: one for all the regime clients.
    ssl_context = ssl.create_default_context()
    for regime in catalogue:
        # One client per regime service: each regime is its own host (and, in production,
        # its own client certificate) with its own connection pool.
        client = build_http_client(settings, ssl_context)
        clients.append(client)
        registry.add(regime.code, _GATEWAYS[regime.family](client, base_url))
    return registry, clients


def write_strategy(database: Database) -> WriteStrategy:
    """The hot writes (`$submit` answers, the HL7 intake) of a SQLite database on the sqlite3
    driver itself: measured under load, SQLAlchemy's statement machinery held the GIL the
    event loop needs (BENCHMARKS.md). Any other database through SQLAlchemy."""
    return SQLITE_DRIVER_WRITES if database.is_sqlite else SQLALCHEMY_WRITES


def build_gateway(settings: Settings, *, migrate: bool = True) -> Gateway:
    catalogue = default_catalogue()
    database = Database(
        settings.effective_database_url,
        durable_commits=settings.sqlite_synchronous == "full",
    )
    if migrate:
        database.migrate()
    store = SqlLookupStore(database.engine)
    registry, clients = build_regime_gateways(settings, catalogue)
    clock = SystemClock(settings.zone)
    lookup = RightsLookup(catalogue, registry.as_mapping(), clock, policy_from(settings))
    writer = SingleWriter()
    metrics = GatewayMetrics(lookup)
    if settings.metrics_dir is not None:
        metrics.share(settings.metrics_dir)
    return Gateway(
        settings=settings,
        catalogue=catalogue,
        database=database,
        store=store,
        lookup=lookup,
        service=LookupService(
            lookup, store, observe=_observer(metrics, LookupEvents(lookup)), blocking=writer.run
        ),
        registry=registry,
        http_clients=clients,
        clock=clock,
        fhir_store=SqlFhirStore(database.engine, search_timeout_s=settings.search_timeout_s),
        writer=writer,
        metrics=metrics,
        writes=write_strategy(database),
    )


def _observer(metrics: GatewayMetrics, events: LookupEvents) -> Callable[[LookupReport], None]:
    """Each lookup report counted in the metrics and told in the logs."""

    def observe(report: LookupReport) -> None:
        metrics.observe_report(report)
        events(report)

    return observe


def build_submit_service(gateway: Gateway) -> SubmitService:
    """`$submit` wired to the lookup service, the FHIR store and the clock. Each answer is
    stored with its lookup record in one transaction, concurrent answers in one commit."""
    answers = SqlAnswerStore(
        gateway.database.engine,
        now=gateway.clock.now,
        run=gateway.writer.run,
        write=gateway.writes.answers,
        quick_engine=gateway.database.shared_no_wait_engine(),
    )
    return SubmitService(
        catalogue=gateway.catalogue,
        answers=answers,
        run_lookup=with_entry("fhir", gateway.service.run_unsaved),
        now=gateway.clock.now,
        today=gateway.clock.today,
        default_requester=gateway.default_requester,
        base_url=gateway.settings.effective_fhir_base_url,
        new_id=time_ordered_id,
    )


def publish_conformance(gateway: Gateway) -> None:
    """Our CodeSystems and StructureDefinitions, readable under /fhir like any resource."""
    _publish(gateway.fhir_store, gateway.clock.now())


def prepare_storage(settings: Settings) -> str:
    """Migrate and publish the conformance resources once, before worker processes start (they
    build their gateway with ``migrate=False``); returns the database URL without password."""
    database = Database(
        settings.effective_database_url,
        durable_commits=settings.sqlite_synchronous == "full",
    )
    try:
        database.migrate()
        _publish(SqlFhirStore(database.engine), SystemClock(settings.zone).now())
        return database.engine.url.render_as_string(hide_password=True)
    finally:
        database.dispose()


def _publish(store: SqlFhirStore, now: datetime) -> None:
    for resource in all_conformance_resources():
        store.upsert(resource, index_entries(resource), now)


def build_population_for(settings: Settings, catalogue: RegimeCatalogue, today: date) -> Population:
    return build_population(
        catalogue, seed=settings.sandbox_seed, today=today, per_regime=settings.sandbox_per_regime
    )


def build_sandbox(settings: Settings, *, today: date | None = None) -> Starlette:
    """The embedded regime sandbox app, with its population and the configured faults."""
    catalogue = default_catalogue()
    population = build_population_for(
        settings, catalogue, today or SystemClock(settings.zone).today()
    )
    faults = FaultBook.from_config(settings.sandbox_faults, catalogue.codes)
    return create_sandbox_app(
        catalogue,
        population,
        faults,
        families={
            "cnam": cnam_wire.routes,
            "msa": msa_wire.routes,
            "slm": slm_wire.routes,
            "special": special_wire.routes,
        },
    )
