"""What each ``cdr`` command does (argument parsing lives in ``cli``)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from typing import Any

import uvicorn

from cdr.bootstrap import (
    build_gateway,
    build_population_for,
    build_sandbox,
    build_submit_service,
    publish_conformance,
)
from cdr.cli import EXIT_FAILED, EXIT_INPUT, EXIT_OK, print_json, version
from cdr.clock import SystemClock
from cdr.render import format_nir, lookup_table, table
from cdr.report_json import report_to_dict
from cdr.settings import Settings
from cdr.storage import Database
from fhir_server.app import create_app
from rights.catalogue import default_catalogue
from rights.errors import ConfigError
from rights.model import Requester
from rights.queries import build_query, parse_date_of_care

__all__ = ["db_upgrade", "lookup", "regimes", "sandbox_list", "sandbox_serve", "serve"]

log = logging.getLogger("cdr")


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    # Alembic narrates every migration step at INFO; the start-up banner is enough.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def _uvicorn(app: Any, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    return uvicorn.Server(config)


def _listen(host: str, port: int, setting: str) -> socket.socket:
    """Bind before starting, so that a busy port is a clear error naming the setting."""
    try:
        return socket.create_server((host, port), reuse_port=False)
    except OSError as exc:
        raise ConfigError(
            f"cannot listen on {host}:{port} ({setting}): {exc.strerror or exc}"
        ) from exc


def serve(settings: Settings) -> int:
    """Run the whole system: the embedded sandbox (unless CDR_REGIMES_URL is set) and the HTTP
    API, in one process."""
    _logging()
    return asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> int:
    servers: list[tuple[uvicorn.Server, socket.socket]] = []
    if settings.uses_embedded_sandbox:
        sandbox_socket = _listen(
            settings.sandbox_host, settings.sandbox_port, "CDR_SANDBOX_PORT / --sandbox-port"
        )
        servers.append(
            (
                _uvicorn(build_sandbox(settings), settings.sandbox_host, settings.sandbox_port),
                sandbox_socket,
            )
        )
        log.info(
            "regime sandbox   http://%s:%d  (17 regimes, seed %d)",
            settings.sandbox_host,
            settings.sandbox_port,
            settings.sandbox_seed,
        )
    gateway = build_gateway(settings)

    async def database_ready() -> bool:
        return await asyncio.to_thread(gateway.database.ping)

    async def regimes_ready() -> bool:
        regime = gateway.catalogue.get("cnam")
        return await gateway.registry.get(regime.code).health(regime)

    await asyncio.to_thread(publish_conformance, gateway)
    app = create_app(
        {"database": database_ready, "regimes": regimes_ready},
        version=version(),
        store=gateway.fhir_store,
        submit=build_submit_service(gateway),
        base_url=settings.effective_fhir_base_url,
        max_body_bytes=settings.fhir_max_body_bytes,
        on_shutdown=gateway.aclose,
    )
    http_socket = _listen(settings.http_host, settings.http_port, "CDR_HTTP_PORT / --http-port")
    servers.append((_uvicorn(app, settings.http_host, settings.http_port), http_socket))
    log.info(
        "FHIR API         %s  (metadata, CoverageEligibilityRequest/$submit)",
        settings.effective_fhir_base_url,
    )
    log.info(
        "database         %s", gateway.database.engine.url.render_as_string(hide_password=True)
    )
    log.info("try: cdr sandbox list, then cdr lookup --nir <NIR>   (Ctrl-C stops)")
    await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in servers))
    return EXIT_OK


def sandbox_serve(settings: Settings) -> int:
    _logging()
    sock = _listen(settings.sandbox_host, settings.sandbox_port, "CDR_SANDBOX_PORT / --port")
    app = build_sandbox(settings)
    log.info("regime sandbox   http://%s:%d", settings.sandbox_host, settings.sandbox_port)
    asyncio.run(_uvicorn(app, settings.sandbox_host, settings.sandbox_port).serve(sockets=[sock]))
    return EXIT_OK


def sandbox_list(
    settings: Settings, *, as_json: bool, scenario: str | None, regime: str | None
) -> int:
    catalogue = default_catalogue()
    if regime:
        regime = catalogue.get(regime, location="--regime").code
    population = build_population_for(settings, catalogue, SystemClock().today())
    members = [
        m
        for m in population.to_json()
        if (scenario is None or scenario in m["scenarios"])
        and (regime is None or m["regime"] == regime)
    ]
    if scenario and not members:
        tags = sorted({t for m in population.to_json() for t in m["scenarios"]})
        print(f"cdr: no member tagged {scenario!r}; tags: {', '.join(tags)}", file=sys.stderr)
        return EXIT_INPUT
    if as_json:
        print_json(members)
        return EXIT_OK
    print(
        table(
            ["NIR", "Birth date", "Rang", "Regime", "Date of care", "Name", "Scenarios"],
            [
                [
                    format_nir(m["nir"]),
                    m["birth_date"],
                    str(m["rang"]),
                    m["regime"],
                    m["date_of_care"],
                    f"{m['family_name']} {m['given_name']}",
                    ",".join(m["scenarios"]),
                ]
                for m in members
            ],
        )
    )
    print(f"\n{len(members)} members (synthetic test data, seed {settings.sandbox_seed})")
    return EXIT_OK


async def lookup(settings: Settings, args: argparse.Namespace) -> int:
    gateway = build_gateway(settings)
    try:
        date_of_care = (
            parse_date_of_care(args.date, location="--date") if args.date else gateway.clock.today()
        )
        query = build_query(
            args.nir,
            date_of_care=date_of_care,
            catalogue=gateway.catalogue,
            requester=Requester(finess=settings.requester_finess, rpps=args.rpps),
            birth_date=args.birth_date,
            rang=args.rang,
            regime=args.regime,
        )
        stored = await gateway.service.run(query)
    finally:
        await gateway.aclose()
    report = stored.report
    if args.json:
        print_json(report_to_dict(report, lookup_id=stored.lookup_id))
    else:
        print(lookup_table(report, gateway.catalogue, stored.lookup_id))
        if report.outcome == "error" and settings.uses_embedded_sandbox:
            print(
                f"\nNo regime answered. Is the system running (`make run` or `cdr serve`)? "
                f"Expected the sandbox at {settings.effective_regimes_url}.",
                file=sys.stderr,
            )
    return EXIT_FAILED if report.outcome == "error" else EXIT_OK


async def regimes(settings: Settings, *, as_json: bool) -> int:
    gateway = build_gateway(settings, migrate=False)
    try:
        catalogue = gateway.catalogue
        health = await asyncio.gather(*(gateway.registry.get(r.code).health(r) for r in catalogue))
    finally:
        await gateway.aclose()
    rows = [
        {
            "code": r.code,
            "label": r.label,
            "name": r.name,
            "grand_regimes": list(r.grand_regimes),
            "example_caisse": r.example_caisse,
            "example_centre": r.example_centre,
            "family": r.family,
            "returns_atmp": r.returns_atmp,
            "up": up,
        }
        for r, up in zip(catalogue, health, strict=True)
    ]
    if as_json:
        print_json({"catalogue_version": catalogue.version, "regimes": rows})
        return EXIT_OK
    print(
        table(
            ["Code", "Regime", "Régime codes", "Caisse/centre", "Wire", "AT/MP", "Health"],
            [
                [
                    r.code,
                    r.label,
                    ",".join(r.grand_regimes),
                    f"{r.example_caisse}/{r.example_centre}",
                    r.family,
                    "yes" if r.returns_atmp else "no",
                    "up" if up else "DOWN",
                ]
                for r, up in zip(catalogue, health, strict=True)
            ],
        )
    )
    print(f"\ncatalogue version {catalogue.version}; regimes at {settings.effective_regimes_url}")
    return EXIT_OK


def db_upgrade(settings: Settings) -> int:
    database = Database(settings.effective_database_url)
    database.migrate()
    print(f"database at {database.engine.url.render_as_string(hide_password=True)} is up to date")
    database.dispose()
    return EXIT_OK
