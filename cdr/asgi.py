"""The factory of the gateway's HTTP application for uvicorn workers (the wiring itself is
the composition root's: ``cdr.bootstrap.build_http_app``).

`cdr serve --workers N` runs ``create_gateway_app`` in each of N worker processes
(``uvicorn.run("cdr.asgi:create_gateway_app", factory=True, workers=N)``). The parent process has
already migrated the database, published the conformance resources and started the embedded
sandbox; it hands its command-line options down as ``CDR_*`` environment variables.
"""

from __future__ import annotations

from fastapi import FastAPI

from cdr.bootstrap import build_gateway, build_http_app
from cdr.demo_security import with_demo_security
from cdr.logs import configure_logging
from cdr.settings import Settings

__all__ = ["FACTORY", "create_gateway_app"]

FACTORY = "cdr.asgi:create_gateway_app"


def create_gateway_app() -> FastAPI:
    """One worker's app: settings from the environment, no migration (the parent ran it)."""
    # Every field from CDR_* variables; the demo's test PKI as the parent made it.
    settings = with_demo_security(Settings(), create=False)  # type: ignore[call-arg]
    configure_logging(json_lines=settings.log_format == "json", level=settings.log_level)
    return build_http_app(build_gateway(settings, migrate=False))
