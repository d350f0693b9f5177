"""Which requests need a token, and what each interaction needs of it (SMART v2 §3.3: ``r``
read, vread and history; ``s`` search; ``c`` the `$submit` operation, which creates)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PUBLIC_PATHS",
    "SMART_CONFIGURATION_PATHS",
    "TOKEN_PATH",
    "Interaction",
    "interaction_of",
    "needs_token",
]

TOKEN_PATH = "/auth/token"
# SMART v2 §2.1: at [base]/.well-known/smart-configuration; at the root as well for clients
# that look there.
SMART_CONFIGURATION_PATHS = frozenset(
    {"/fhir/.well-known/smart-configuration", "/.well-known/smart-configuration"}
)
# What a client reads before it has a token (how to get one), and what load balancers probe.
PUBLIC_PATHS = frozenset(
    {"/fhir/metadata", TOKEN_PATH, "/healthz", "/readyz", *SMART_CONFIGURATION_PATHS}
)
_SUBMIT_TYPE = "CoverageEligibilityRequest"


@dataclass(frozen=True, slots=True)
class Interaction:
    name: str  # as the CapabilityStatement names it
    resource_type: str
    permission: str  # one letter of "cruds"


def needs_token(path: str) -> bool:
    """Everything under the FHIR base but its public documents."""
    return (path == "/fhir" or path.startswith("/fhir/")) and path not in PUBLIC_PATHS


def interaction_of(method: str, path: str) -> Interaction | None:
    """The interaction ``method path`` is, or None when it is none the API serves (refused:
    a request no scope was written for is not let through to find out what it does)."""
    reading = method in ("GET", "HEAD")
    if (reading and path in ("/fhir", "/fhir/")) or (method == "POST" and path == "/fhir/_search"):
        # A whole-system search reads every type: it needs the search scope of all of them.
        return Interaction("search-system", "*", "s")
    parts = path.removeprefix("/fhir/").split("/")
    if not parts[0]:
        return None
    resource_type = parts[0]
    if len(parts) == 1 and reading:
        return Interaction("search-type", resource_type, "s")
    if len(parts) == 2 and method == "POST" and parts[1] == "_search":
        return Interaction("search-type", resource_type, "s")
    if len(parts) == 2 and method == "POST" and parts[1] == "$submit":
        return Interaction("$submit", resource_type, "c") if resource_type == _SUBMIT_TYPE else None
    if len(parts) == 2 and reading:
        return Interaction("read", resource_type, "r")
    if len(parts) == 3 and reading and parts[2] == "_history":
        return Interaction("history-instance", resource_type, "r")
    if len(parts) == 4 and reading and parts[2] == "_history":
        return Interaction("vread", resource_type, "r")
    return None
