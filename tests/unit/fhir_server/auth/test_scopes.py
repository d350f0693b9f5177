"""SMART system scopes (v2 syntax, v1 forms accepted) and what each interaction needs."""

from __future__ import annotations

import pytest

from fhir_server.auth.access import interaction_of, needs_token
from fhir_server.auth.scopes import allows, granted_scopes, grants_of, parse_scope
from rights.errors import InputError


@pytest.mark.parametrize(
    ("scope", "grants"),
    [
        ("system/Coverage.rs", {("Coverage", "r"), ("Coverage", "s")}),
        ("system/Coverage.r", {("Coverage", "r")}),
        ("system/Coverage.read", {("Coverage", "r"), ("Coverage", "s")}),
        ("system/Coverage.write", {("Coverage", "c"), ("Coverage", "u"), ("Coverage", "d")}),
        ("system/*.s", {("*", "s")}),
        ("system/CoverageEligibilityRequest.c", {("CoverageEligibilityRequest", "c")}),
        ("system/Patient.*", {("Patient", p) for p in "cruds"}),
    ],
)
def test_scopes_read_as_grants(scope: str, grants: set[tuple[str, str]]) -> None:
    assert parse_scope(scope) == grants


@pytest.mark.parametrize(
    "scope",
    [
        "patient/Coverage.rs",  # backend services act for no patient
        "system/Coverage.sr",  # v2: letters in the order c, r, u, d, s
        "system/Coverage.",
        "system/Coverage.rs?status=active",  # finer scopes are not enforced: not granted
        "system/Observation.rs",  # a type not served
        "openid",
    ],
)
def test_other_scopes_are_refused_naming_them(scope: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_scope(scope)
    assert refused.value.location == "scope"


def test_a_token_s_grants_skip_scopes_that_are_not_ours() -> None:
    grants = grants_of(["openid", "system/Coverage.read", "system/Observation.rs"])
    assert allows(grants, "Coverage", "s") and allows(grants, "Observation", "r")
    assert not allows(grants, "Coverage", "c")
    assert allows(grants_of(["system/*.rs"]), "Patient", "r")


@pytest.mark.parametrize(
    ("requested", "registered", "granted"),
    [
        (["system/Coverage.rs"], ["system/*.rs"], ["system/Coverage.rs"]),
        (["system/*.rs"], ["system/Coverage.rs"], ["system/Coverage.rs"]),
        (["system/Coverage.read"], ["system/Coverage.read"], ["system/Coverage.read"]),
        (["system/Coverage.cruds"], ["system/Coverage.r"], ["system/Coverage.r"]),
        (
            ["system/*.rs", "system/CoverageEligibilityRequest.c"],
            ["system/CoverageEligibilityRequest.c"],
            ["system/CoverageEligibilityRequest.c"],
        ),
        (["system/Patient.rs"], ["system/Coverage.rs"], []),
    ],
)
def test_the_grant_is_what_was_asked_and_registered(
    requested: list[str], registered: list[str], granted: list[str]
) -> None:
    assert granted_scopes(requested, registered) == granted


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("POST", "/fhir/CoverageEligibilityRequest/$submit", ("CoverageEligibilityRequest", "c")),
        ("GET", "/fhir/Coverage", ("Coverage", "s")),
        ("POST", "/fhir/Coverage/_search", ("Coverage", "s")),
        ("GET", "/fhir/Coverage/c1", ("Coverage", "r")),
        ("HEAD", "/fhir/Coverage/c1", ("Coverage", "r")),
        ("GET", "/fhir/Coverage/c1/_history", ("Coverage", "r")),
        ("GET", "/fhir/Coverage/c1/_history/2", ("Coverage", "r")),
        ("POST", "/fhir/Coverage/$submit", None),
        ("DELETE", "/fhir/Coverage/c1", None),
        ("GET", "/fhir/", ("*", "s")),  # a whole-system search: every type's search
        ("POST", "/fhir/_search", ("*", "s")),
        ("PUT", "/fhir/", None),
    ],
)
def test_each_interaction_needs_its_permission(
    method: str, path: str, needed: tuple[str, str] | None
) -> None:
    interaction = interaction_of(method, path)
    got = None if interaction is None else (interaction.resource_type, interaction.permission)
    assert got == needed


@pytest.mark.parametrize(
    ("path", "guarded"),
    [
        ("/fhir/metadata", False),
        ("/fhir/.well-known/smart-configuration", False),
        ("/.well-known/smart-configuration", False),
        ("/auth/token", False),
        ("/healthz", False),
        ("/readyz", False),
        ("/fhir", True),
        ("/fhir/Coverage", True),
        ("/fhir/metadata/x", True),
    ],
)
def test_what_needs_a_token(path: str, guarded: bool) -> None:
    assert needs_token(path) is guarded
