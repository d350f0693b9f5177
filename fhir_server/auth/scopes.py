"""SMART system scopes: what a scope string grants, and what a token request is granted.

A scope reads as a set of grants, each a resource type (or ``*``, every type) with one
permission letter of ``cruds`` (SMART App Launch v2 §3.3, "Scopes for requesting FHIR
resources"): ``system/Coverage.rs`` is {(Coverage, r), (Coverage, s)}. The v1 forms stay
accepted as their v2 equivalents (v2 §3.3.1): ``read`` is ``rs``, ``write`` is ``cud``, ``*``
is ``cruds``. Pure: no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence

from fhir_server.search_params import SEARCH_PARAMS
from rights.errors import InputError

__all__ = [
    "PERMISSIONS",
    "SERVED_TYPES",
    "Grant",
    "allows",
    "granted_scopes",
    "grants_of",
    "parse_scope",
    "scope_text",
]

PERMISSIONS = "cruds"
SERVED_TYPES: tuple[str, ...] = tuple(SEARCH_PARAMS)
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
# v2 §3.3: the permission letters appear in the order c, r, u, d, s; no query (``?...``):
# finer-grained scopes are not enforced here, so they are refused rather than widened.
_SCOPE = re.compile(r"system/(?P<type>\*|[A-Z][A-Za-z]{0,63})\.(?P<perms>read|write|\*|c?r?u?d?s?)")

Grant = tuple[str, str]  # (resource type or "*", one of PERMISSIONS)


def parse_scope(text: str, *, types: Collection[str] | None = SERVED_TYPES) -> frozenset[Grant]:
    """The grants of one system scope; ``InputError`` (location ``scope``) for anything else,
    or a resource type not in ``types`` (None: any type)."""
    match = _SCOPE.fullmatch(text)
    if match is None or not match["perms"]:
        raise InputError(
            f"{text[:80]!r} is not a SMART system scope such as system/Coverage.rs, "
            "system/*.read or system/CoverageEligibilityRequest.c",
            location="scope",
        )
    resource_type = match["type"]
    if types is not None and resource_type != "*" and resource_type not in types:
        raise InputError(
            f"{text!r}: {resource_type} is not served here; served: {', '.join(types)} or *",
            location="scope",
        )
    letters = _V1.get(match["perms"], match["perms"])
    return frozenset((resource_type, letter) for letter in letters)


def grants_of(scopes: Iterable[str]) -> frozenset[Grant]:
    """Every grant of ``scopes``, those that are no system scope of ours left out (a token of
    an external server may carry ``openid`` or scopes for other servers)."""
    grants: set[Grant] = set()
    for text in scopes:
        try:
            grants |= parse_scope(text, types=None)
        except InputError:
            continue
    return frozenset(grants)


def allows(grants: Collection[Grant], resource_type: str, permission: str) -> bool:
    return (resource_type, permission) in grants or ("*", permission) in grants


def scope_text(resource_type: str, letters: Iterable[str]) -> str:
    """The v2 scope of ``letters`` on ``resource_type``, letters in their order (``cruds``)."""
    given = set(letters)
    return f"system/{resource_type}." + "".join(p for p in PERMISSIONS if p in given)


def granted_scopes(requested: Sequence[str], registered: Iterable[str]) -> list[str]:
    """What a client asking ``requested`` is granted from its ``registered`` scopes: their
    intersection, grant by grant. A scope asked and wholly allowed is answered as it was
    written (v1 or v2); one partly allowed, as the v2 scope of the allowed part
    (``system/*.rs`` asked with ``system/Coverage.rs`` registered gives the latter).
    ``InputError`` for a requested scope that is not one of ours."""
    allowed = grants_of(registered)
    answer: list[str] = []
    for text in requested:
        asked = parse_scope(text)
        kept = {m for g in asked for a in allowed if (m := _meet(g, a)) is not None}
        if kept == asked:
            answer.append(text)
            continue
        by_type: dict[str, set[str]] = {}
        for resource_type, letter in sorted(kept):
            by_type.setdefault(resource_type, set()).add(letter)
        answer.extend(scope_text(t, letters) for t, letters in by_type.items())
    return list(dict.fromkeys(answer))  # each once, in the order asked


def _meet(asked: Grant, allowed: Grant) -> Grant | None:
    """The grant both allow, if any: the same permission on the same type, or on a type
    either names and the other covers with ``*``."""
    if asked[1] != allowed[1]:
        return None
    if asked[0] == allowed[0] or allowed[0] == "*":
        return asked
    if asked[0] == "*":
        return allowed
    return None
