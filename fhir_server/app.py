"""The gateway's HTTP application. For now: liveness and readiness; the FHIR API comes next."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from fastapi import FastAPI
from fastapi.responses import JSONResponse

__all__ = ["ReadyCheck", "create_app"]

ReadyCheck = Callable[[], Awaitable[bool]]


def create_app(ready_checks: Mapping[str, ReadyCheck], *, version: str = "") -> FastAPI:
    app = FastAPI(title="CDR Gateway", version=version, docs_url=None, redoc_url=None)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        checks = {name: await check() for name, check in ready_checks.items()}
        ready = all(checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not-ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    return app
