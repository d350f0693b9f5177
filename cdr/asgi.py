"""The gateway's HTTP application, wired from a Gateway; and its factory for uvicorn workers.

`cdr serve --workers N` runs ``create_gateway_app`` in each of N worker processes
(``uvicorn.run("cdr.asgi:create_gateway_app", factory=True, workers=N)``). The parent process has
already migrated the database, published the conformance resources and started the embedded
sandbox; it hands its command-line options down as ``CDR_*`` environment variables.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI

from cdr.bootstrap import Gateway, build_gateway, build_submit_service
from cdr.heap import settle_heap
from cdr.logs import configure_logging
from cdr.settings import Settings
from cdr.version import version
from fhir_server.app import create_app

__all__ = ["FACTORY", "create_gateway_app", "gateway_http_app"]

FACTORY = "cdr.asgi:create_gateway_app"


def gateway_http_app(gateway: Gateway, *, tune_gc: bool = True) -> FastAPI:
    """The FHIR API and health endpoints over ``gateway``; closing the app closes the gateway.

    ``tune_gc``: settle the process's garbage collector once the server has started
    (``cdr.heap``); False when the app runs inside another program, such as a test session.
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

    async def shut_down() -> None:
        await submit.drain()
        await gateway.aclose()

    return create_app(
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
    )


def create_gateway_app() -> FastAPI:
    """One worker's app: settings from the environment, no migration (the parent ran it)."""
    settings = Settings()  # type: ignore[call-arg]  # every field from CDR_* variables
    configure_logging(json_lines=settings.log_format == "json", level=settings.log_level)
    return gateway_http_app(build_gateway(settings, migrate=False))
