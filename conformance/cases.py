"""The kit's cases: what each one sends, which clause it checks and what it expects back.

The manifest is ``conformance/fixtures/cases.json``, shipped in the package with the input files
it names (the project's own HL7 and FHIR fixtures, which the test suite reads through links to
this directory). Expectations are plain values, so a tester can read them as the interface
documents state them: MSA-1, MSA-2, ERR-3 and ERR-2 of an ACK; the HTTP status, the resource type
and the OperationOutcome issues of a FHIR answer.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Literal

from rights.errors import InputError

__all__ = [
    "Case",
    "FhirExpectation",
    "Hl7Expectation",
    "IssueExpectation",
    "Member",
    "load_cases",
    "manifest_text",
    "manifest_version",
    "select",
]


@dataclass(frozen=True, slots=True)
class Hl7Expectation:
    reply: str  # MSH-9 of the reply: ACK, or RPI^I01 answering an RQI^I01
    msa_1: str  # AA, AE or AR (of the ACK, or of the RPI for an RQI^I01)
    msa_2: str  # the message's MSH-10, "" when it has none to echo
    err_3: str | None  # HL7 table 0357 code, None: no ERR at all
    err_2: str | None  # location as SEG[#n]-field[(rep)][.comp], written ERL in the ACK


@dataclass(frozen=True, slots=True)
class IssueExpectation:
    code: str  # OperationOutcome.issue.code (R4 IssueType)
    expression: str | None  # FHIRPath of the element at fault, None: not checked


@dataclass(frozen=True, slots=True)
class FhirExpectation:
    status: int
    resource_type: str
    outcome: str | None = None  # CoverageEligibilityResponse.outcome
    inforce: bool | None = None  # some insurance[].inforce is this value
    issues: tuple[IssueExpectation, ...] = ()


@dataclass(frozen=True, slots=True)
class Member:
    """The person an answer case asks about, as the sandbox lists them."""

    nir: str
    rang: int


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    kind: Literal["hl7", "fhir"]
    title: str
    clause: str
    tags: tuple[str, ...]
    input: str  # path under conformance/fixtures
    expect: Hl7Expectation | FhirExpectation
    member: Member | None = None  # who must exist in the target for the case to mean something

    def payload(self) -> bytes:
        """The input file's bytes, exactly as committed (HL7 files hold real CR and charsets)."""
        return _fixtures().joinpath(self.input).read_bytes()


def _fixtures() -> Traversable:
    return resources.files("conformance").joinpath("fixtures")


@cache
def _manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        _fixtures().joinpath("cases.json").read_text(encoding="utf-8")
    )
    return data


def manifest_text() -> str:
    """The manifest as shipped, for a tester's copy (``conformance.export``)."""
    return _fixtures().joinpath("cases.json").read_text(encoding="utf-8")


def manifest_version() -> str:
    return str(_manifest()["version"])


@cache
def load_cases() -> tuple[Case, ...]:
    """Every case of the manifest, in its order."""
    return tuple(_case(entry) for entry in _manifest()["cases"])


def _case(entry: dict[str, Any]) -> Case:
    raw = entry["expect"]
    expect: Hl7Expectation | FhirExpectation
    if entry["kind"] == "hl7":
        expect = Hl7Expectation(
            raw["reply"], raw["msa_1"], raw["msa_2"], raw["err_3"], raw["err_2"]
        )
    else:
        expect = FhirExpectation(
            status=raw["status"],
            resource_type=raw["resourceType"],
            outcome=raw.get("outcome"),
            inforce=raw.get("inforce"),
            issues=tuple(
                IssueExpectation(i["code"], i["expression"]) for i in raw.get("issues", [])
            ),
        )
    member = entry.get("member")
    return Case(
        member=None if member is None else Member(member["nir"], member["rang"]),
        id=entry["id"],
        kind=entry["kind"],
        title=entry["title"],
        clause=entry["clause"],
        tags=tuple(entry["tags"]),
        input=entry["input"],
        expect=expect,
    )


def select(cases: Sequence[Case], only: Sequence[str]) -> tuple[Case, ...]:
    """The cases carrying one of the ``only`` tags or ids (all of them when ``only`` is empty);
    ``InputError`` naming ``--only`` when a value matches no case."""
    if not only:
        return tuple(cases)
    known = {tag for case in cases for tag in case.tags} | {case.id for case in cases}
    unknown = [value for value in only if value not in known]
    if unknown:
        tags = ", ".join(sorted({tag for case in cases for tag in case.tags}))
        raise InputError(
            f"{', '.join(unknown)} is no tag nor case id (tags: {tags})", location="--only"
        )
    wanted = set(only)
    return tuple(c for c in cases if c.id in wanted or wanted.intersection(c.tags))
