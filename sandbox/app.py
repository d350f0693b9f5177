"""The sandbox HTTP service: every regime's wire routes, health, and the admin endpoints.

The composition root passes the wire modules in ``families`` (family → ``routes``), so this
module never imports them and a regime family can be served, or left out, by configuration.
Middleware order matters: faults run first (a regime that is down cannot check anybody), then
the requester's eligibility.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from rights.catalogue import Regime, RegimeCatalogue
from rights.errors import ConfigError, InputError
from sandbox.assertion_check import AssertionChecker, AssertionMiddleware
from sandbox.directory import Directory
from sandbox.eligibility import EligibilityMiddleware, StructureTable
from sandbox.faults import ALL_REGIMES, FaultBook, FaultMiddleware
from sandbox.members import SCENARIO_TAGS
from sandbox.population import Population

__all__ = ["WireRoutes", "create_app"]

WireRoutes = Callable[[Sequence[Regime], Directory], list[BaseRoute]]


def create_app(
    catalogue: RegimeCatalogue,
    population: Population,
    faults: FaultBook,
    *,
    families: Mapping[str, WireRoutes],
    structures: StructureTable | None = None,
    assertions: AssertionChecker | None = None,
) -> Starlette:
    """The sandbox app serving the catalogue's regimes of every family in ``families``."""
    unknown = sorted(set(families) - catalogue.families)
    if unknown:
        raise ConfigError(
            f"no regime of the catalogue speaks {', '.join(unknown)}; "
            f"families: {', '.join(sorted(catalogue.families))}"
        )
    missing = [code for code in catalogue.codes if code not in faults]
    if missing:
        raise ConfigError(f"the fault book has no settings for {', '.join(missing)}")
    admin = _Admin(catalogue, population, faults)
    routes: list[BaseRoute] = [
        Route("/health", admin.health, methods=["GET"]),
        Route("/regimes/{code}/health", admin.regime_health, methods=["GET"]),
        Route("/admin/faults", admin.list_faults, methods=["GET"]),
        Route("/admin/faults", admin.reset_faults, methods=["DELETE"]),
        Route("/admin/faults/{code}", admin.set_faults, methods=["PUT"]),
        Route("/admin/population", admin.list_population, methods=["GET"]),
    ]
    for family, make_routes in families.items():
        regimes = [r for r in catalogue if r.family == family]
        routes.extend(make_routes(regimes, population))
    middleware = [
        Middleware(FaultMiddleware, book=faults),
        Middleware(EligibilityMiddleware, structures=structures),
    ]
    if assertions is not None:  # outermost: nothing is served to a caller it refuses
        middleware.insert(0, Middleware(AssertionMiddleware, checker=assertions))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.catalogue = catalogue
    app.state.population = population
    app.state.faults = faults
    return app


def _error(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


class _Admin:
    """Handlers of the app-level endpoints, bound to the sandbox's state."""

    def __init__(
        self, catalogue: RegimeCatalogue, population: Population, faults: FaultBook
    ) -> None:
        self.catalogue = catalogue
        self.population = population
        self.book = faults

    async def health(self, request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "regimes": len(self.catalogue)})

    async def regime_health(self, request: Request) -> JSONResponse:
        code = request.path_params["code"]
        if code not in self.catalogue.codes:
            return self._unknown_regime(code)
        return JSONResponse({"status": "up", "regime": code})

    async def list_faults(self, request: Request) -> JSONResponse:
        return JSONResponse(self.book.to_json())

    async def reset_faults(self, request: Request) -> JSONResponse:
        self.book.reset()
        return JSONResponse(self.book.to_json())

    async def set_faults(self, request: Request) -> JSONResponse:
        code = request.path_params["code"]
        if code != ALL_REGIMES and code not in self.catalogue.codes:
            return self._unknown_regime(code)
        try:
            changes = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error(400, f"body is not JSON: {exc}")
        if not isinstance(changes, dict):
            return _error(400, "body must be a JSON object of fault settings")
        try:
            updated = self.book.update(code, changes)
        except InputError as exc:
            return _error(400, exc.message, field=exc.location)
        return JSONResponse({c: s.to_json() for c, s in updated.items()})

    async def list_population(self, request: Request) -> JSONResponse:
        scenario = request.query_params.get("scenario")
        if scenario is not None and scenario not in SCENARIO_TAGS:
            return _error(400, f"unknown scenario {scenario!r}", valid=list(SCENARIO_TAGS))
        return JSONResponse(self.population.to_json(scenario))

    def _unknown_regime(self, code: str) -> JSONResponse:
        valid = list(self.catalogue.codes)
        return _error(404, f"unknown regime {code!r}", valid=valid)
