"""The embedded regime sandbox: simulated regime services over real HTTP, a synthetic
population of test beneficiaries, and fault injection per regime. The names below are the
entry points."""

from sandbox.app import create_app
from sandbox.population import Population, build_population
from sandbox.server import RunningServer, SandboxTls, start_in_thread

__all__ = [
    "Population",
    "RunningServer",
    "SandboxTls",
    "build_population",
    "create_app",
    "start_in_thread",
]
