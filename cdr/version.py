"""The gateway's version, declared once in pyproject.toml.

Its own module so that the command line, the ASGI factory and the HTTP application can all
read it without importing each other.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

__all__ = ["version"]


def version() -> str:
    """The installed distribution's version, or ``0+source`` in a tree never installed."""
    try:
        return package_version("cdr-gateway")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+source"
