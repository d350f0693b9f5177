"""The conformance kit for interface testers (issue 16): nothing is built here yet, so nothing
is exported."""

__all__: list[str] = []
