"""The composition root: the only place adapters are chosen and wired together."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.middleware import Middleware

from cdr.api_auth import build_api_auth
from cdr.audit import Auditor, observer_name
from cdr.audit_syslog import AuditForwarder, client_context, parse_syslog_url
from cdr.clock import SystemClock
from cdr.heap import settle_heap
from cdr.ids import time_ordered_id
from cdr.logs import LookupEvents, with_entry
from cdr.metrics import GatewayMetrics
from cdr.portal_card import build_card_login, build_card_signatures
from cdr.portal_wiring import build_portal
from cdr.regime_trust import build_assertion_checker, build_structure_signer
from cdr.regime_wiring import (
    build_regime_gateways,
    policy_from,
)
from cdr.service import LookupService
from cdr.settings import Settings
from cdr.storage import Database, SqlLookupStore
from cdr.storage.answers import SqlAnswerStore
from cdr.storage.audit import SqlAuditTrail
from cdr.storage.fhir_store import SqlFhirStore
from cdr.storage.fhir_with_audit import FhirStoreWithAudit
from cdr.storage.strategy import SQLALCHEMY_WRITES, SQLITE_DRIVER_WRITES, WriteStrategy
from cdr.storage.writer import SingleWriter
from cdr.version import version
from fhir_server.app import create_app as create_fhir_app
from fhir_server.portal import PSC_CALLBACK_PATH, PortalMount
from fhir_server.search_params import index_entries
from fhir_server.submit import SubmitService
from mapping.fhir.codesystems import all_conformance_resources
from regimes.port import AssertionSigner, RegimePort
from regimes.registry import GatewayRegistry
from rights.catalogue import RegimeCatalogue, default_catalogue
from rights.lookup import RightsLookup
from rights.model import Requester
from rights.result import LookupReport
from sandbox.app import create_app as create_sandbox_app
from sandbox.faults import FaultBook
from sandbox.population import Population, build_population
from sandbox.psc import PscClient, create_psc_app
from sandbox.server import SandboxTls
from sandbox.wire import cnam as cnam_wire
from sandbox.wire import msa as msa_wire
from sandbox.wire import slm as slm_wire
from sandbox.wire import special as special_wire

__all__ = [
    "Gateway",
    "build_gateway",
    "build_http_app",
    "build_population_for",
    "build_psc_provider",
    "build_sandbox",
    "build_submit_service",
    "prepare_storage",
    "publish_conformance",
    "sandbox_tls",
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
    regime_ports: list[RegimePort]
    clock: SystemClock
    fhir_store: FhirStoreWithAudit
    audit: Auditor | None  # None: CDR_AUDIT=off
    writer: SingleWriter
    metrics: GatewayMetrics
    writes: WriteStrategy  # how the hot writes reach the database (``write_strategy``)

    @property
    def default_requester(self) -> Requester:
        return Requester(finess=self.settings.requester_finess, label="CDR Gateway")

    async def aclose(self) -> None:
        for port in self.regime_ports:
            await port.aclose()
        self.writer.close()
        self.database.dispose()
        self.metrics.close()


def write_strategy(database: Database) -> WriteStrategy:
    """The hot writes (`$submit` answers, the HL7 intake) of a SQLite database on the sqlite3
    driver itself: measured under load, SQLAlchemy's statement machinery held the GIL the
    event loop needs (BENCHMARKS.md). Any other database through SQLAlchemy."""
    return SQLITE_DRIVER_WRITES if database.is_sqlite else SQLALCHEMY_WRITES


def build_gateway(
    settings: Settings, *, migrate: bool = True, signer: AssertionSigner | None = None
) -> Gateway:
    catalogue = default_catalogue()
    database = Database(
        settings.effective_database_url,
        durable_commits=settings.sqlite_synchronous == "full",
    )
    if migrate:
        database.migrate()
    clock = SystemClock(settings.zone)
    writer = SingleWriter()
    trail = SqlAuditTrail(database.engine, search_timeout_s=settings.search_timeout_s)
    auditor = (
        None
        if settings.audit == "off"
        else Auditor(
            trail,
            observer=observer_name(),
            structure_finess=settings.requester_finess,
            now=clock.now,
            run=writer.run,
        )
    )
    store = SqlLookupStore(database.engine, audit=None if auditor is None else auditor.lookup)
    if signer is None:
        signer = build_structure_signer(settings, clock.now)
    registry, ports = build_regime_gateways(settings, catalogue, signer)
    lookup = RightsLookup(catalogue, registry.as_mapping(), clock, policy_from(settings))
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
        regime_ports=ports,
        clock=clock,
        fhir_store=FhirStoreWithAudit(
            SqlFhirStore(database.engine, search_timeout_s=settings.search_timeout_s), trail
        ),
        audit=auditor,
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
        audit=None if gateway.audit is None else gateway.audit.lookup,
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
    _publish(gateway.fhir_store.resources, gateway.clock.now())


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
        assertions=build_assertion_checker(settings, SystemClock(settings.zone).now),
        families={
            "cnam": cnam_wire.routes,
            "msa": msa_wire.routes,
            "slm": slm_wire.routes,
            "special": special_wire.routes,
        },
    )


def build_psc_provider(settings: Settings) -> Starlette:
    """The sandbox's Pro Santé Connect look-alike, with the portal as its client."""
    return create_psc_app({settings.portal_psc_client_id: psc_client_for(settings)})


def psc_client_for(settings: Settings) -> PscClient:
    """The portal as a client of the sandbox's Pro Santé Connect look-alike. Any loopback
    port is accepted for the redirect (RFC 8252 §7.3): tests serve the portal on port 0."""
    return PscClient(
        client_id=settings.portal_psc_client_id,
        secret=settings.portal_psc_client_secret,
        redirect_uris=(
            f"{settings.http_scheme}://{settings.http_host}:{settings.http_port}"
            f"{PSC_CALLBACK_PATH}",
        ),
        loopback_redirects=True,
    )


def build_http_app(
    gateway: Gateway, *, tune_gc: bool = True, middleware: Sequence[Middleware] = ()
) -> FastAPI:
    """The FHIR API and health endpoints over ``gateway``; closing the app closes the gateway.

    ``tune_gc``: settle the process's garbage collector once the server has started
    (``cdr.heap``); False when the app runs inside another program, such as a test session.
    ``middleware`` (outermost first) sees every request, `$submit` included, inside the edge
    and inside the API's authentication (``CDR_AUTH=on``: ``cdr.api_auth``).
    """

    async def database_ready() -> bool:
        return await asyncio.to_thread(gateway.database.ping)

    async def regimes_ready() -> bool:
        # Ready while the regime backend answers at all: one regime down makes lookups partial,
        # not impossible, and must not take the whole gateway out of a load balancer.
        health = await asyncio.gather(
            *(gateway.registry.get(r.code).health(r) for r in gateway.catalogue)
        )
        return any(health)

    settings = gateway.settings
    submit = build_submit_service(gateway)
    auth = build_api_auth(
        settings,
        gateway.database.engine,
        audit=None if gateway.audit is None else gateway.audit.refused,
    )

    async def shut_down() -> None:
        await submit.drain()
        if auth is not None:
            await auth.aclose()
        await gateway.aclose()

    app = create_fhir_app(
        {"database": database_ready, "regimes": regimes_ready},
        version=version(),
        store=gateway.fhir_store,
        submit=submit,
        base_url=settings.effective_fhir_base_url,
        max_body_bytes=settings.fhir_max_body_bytes,
        on_startup=settle_heap if tune_gc else None,
        on_shutdown=shut_down,
        metrics=gateway.metrics.render,
        observe_http=gateway.metrics.observe_http,
        middleware=[*(auth.middleware if auth else ()), *middleware],
        security=auth.security if auth else None,
    )
    # The staff portal's pages at / (DESIGN §9), after the API's routes: what the API does not
    # serve, outside its own paths, is the portal's.
    app.router.routes.append(
        PortalMount(
            build_portal(
                settings,
                catalogue=gateway.catalogue,
                service=gateway.service,
                engine=gateway.database.engine,
                clock=gateway.clock,
                card=build_card_login(settings, gateway.clock.now),
                signatures=build_card_signatures(settings, gateway.clock.now),
            )
        )
    )
    return app


def sandbox_tls(settings: Settings) -> SandboxTls | None:
    """How the embedded sandbox serves TLS (``CDR_SANDBOX_TLS_*``), or None: plain HTTP."""
    if settings.sandbox_tls_cert_file is None:
        return None
    return SandboxTls(
        settings.sandbox_tls_cert_file,
        settings.sandbox_tls_key_file,
        settings.sandbox_tls_client_ca_file,
    )


def build_audit_forwarder(settings: Settings, engine: Engine) -> AuditForwarder | None:
    """The audit trail's copy to a syslog collector (``CDR_AUDIT_SYSLOG_URL``), or None."""
    if settings.audit_syslog_url is None or settings.audit == "off":
        return None
    target = parse_syslog_url(settings.audit_syslog_url)
    context = (
        client_context(
            settings.audit_syslog_ca_file,
            settings.audit_syslog_cert_file,
            settings.audit_syslog_key_file,
        )
        if target.tls
        else None
    )
    return AuditForwarder(
        SqlAuditTrail(engine), target, hostname=socket.gethostname(), context=context
    )
