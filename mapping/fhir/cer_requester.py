"""Who asks: the structure's FINESS and the professional's RPPS named by a
CoverageEligibilityRequest's ``provider``, ``facility`` or ``enterer``, else the gateway's
default. Pure.

FR Core identifier systems (reference/fhir.md §2): an Organization's FINESS comes bare under
``https://finess.esante.gouv.fr`` or as idNatSt (``urn:oid:1.2.250.1.71.4.2.2``, value "1" +
FINESS; 0 ADELI, 2 SIREN, 3 SIRET, 4 RPPS-rang name a structure otherwise); a Practitioner's
RPPS bare under ``https://rpps.esante.gouv.fr`` or as idNatPs (``urn:oid:1.2.250.1.71.4.2.1``,
value "8" + RPPS; 0 ADELI, 3 FINESS + local number otherwise).

The requester is never substituted: an identifier under one of these systems that we cannot
read is a fault, and so is a structure (or professional) named only by identifiers that are not
a FINESS (an RPPS). The default structure asks only when the request names no structure.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from mapping.fhir.cer_submission import References
from mapping.fhir.common import SYSTEM_FINESS
from mapping.fhir.read import Faults, Node
from mapping.fhir.terms import SYSTEM_ID_NAT_PS, SYSTEM_RPPS
from rights.errors import IdentifierError
from rights.identifiers import parse_finess
from rights.model import Requester

__all__ = ["SYSTEM_ID_NAT_PS", "SYSTEM_ID_NAT_ST", "SYSTEM_RPPS", "RequesterRead", "read_requester"]

SYSTEM_ID_NAT_ST = "urn:oid:1.2.250.1.71.4.2.2"
_REQUESTER_SYSTEMS = frozenset({SYSTEM_FINESS, SYSTEM_ID_NAT_ST, SYSTEM_RPPS, SYSTEM_ID_NAT_PS})
# idNatSt / idNatPs prefix the number with the kind of identifier it is.
_FINESS_PREFIX = "1"
_RPPS_PREFIX = "8"
_RPPS = re.compile(r"[0-9]{11}")
_PROVIDERS = ("Organization", "Practitioner", "PractitionerRole")
_ENTERERS = ("Practitioner", "PractitionerRole")
# The kinds of identifier idNatSt and idNatPs values start with (ANS, FR Core identifiers).
_ID_NAT_ST_KINDS = {"0": "ADELI", "1": "FINESS", "2": "SIREN", "3": "SIRET", "4": "RPPS-rang"}
_ID_NAT_PS_KINDS = {"0": "ADELI", "3": "FINESS + local number", "8": "RPPS"}


@dataclass(frozen=True, slots=True)
class RequesterRead:
    requester: Requester
    organizations: tuple[Node, ...]  # the provider-side Organizations that were sent


def read_requester(
    cer: Node, refs: References, default: Requester, faults: Faults
) -> RequesterRead:
    """FINESS from the provider Organization (or the PractitionerRole's organization), else from
    the facility Location (or its managing Organization); RPPS from a provider (or enterer)
    Practitioner. The provider, facility and enterer may be external (not sent): their logical
    identifiers count."""
    # Resources, or logical references, that may name the requester, in order of preference.
    sources: list[Node] = []
    for name, kinds in (("provider", _PROVIDERS), ("enterer", _ENTERERS)):
        ref, provider = refs.follow(cer, name, cer, kinds, external_ok=True)
        if provider is not None and provider.resource_type == "PractitionerRole":
            sources += [provider, *_followed(refs, provider, ("practitioner", "organization"))]
        elif provider is not None:
            sources.append(provider)
        elif ref is not None:
            sources.append(ref)
        if name == "provider":
            ref, facility = refs.follow(cer, "facility", cer, ("Location",), external_ok=True)
            if facility is not None:
                sources += [facility, *_followed(refs, facility, ("managingOrganization",))]
            elif ref is not None:
                sources.append(ref)
    found = _Found()
    for source in sources:
        _sort(source, found, faults)
    organizations = tuple(s for s in sources if s.resource_type == "Organization")
    if not found.finess and found.other_structure:
        where = found.other_structure[0]
        faults.add(
            where.path,
            "the requesting structure must be named by its FINESS (system "
            f"{SYSTEM_FINESS}, or {SYSTEM_ID_NAT_ST} with value '1' + FINESS): the gateway "
            "never asks in its own name for a structure the request names",
            "requester",
        )
    if not found.rpps and found.other_professional:
        faults.add(
            found.other_professional[0].path,
            f"the requesting professional must be named by an RPPS number (system {SYSTEM_RPPS}"
            f", or {SYSTEM_ID_NAT_PS} with value '8' + RPPS)",
            "requester",
        )
    if not found.finess and not found.rpps:
        return RequesterRead(default, organizations)
    rpps = found.rpps[0][1] if found.rpps else None
    if not found.finess:
        # A professional named without a structure works for the gateway's own structure.
        return RequesterRead(Requester(default.finess, rpps, default.label), organizations)
    identifier, finess = found.finess[0]
    holder = next(s for s in sources if identifier.path.startswith(f"{s.path}."))
    label = holder.value.get("name") or holder.value.get("display")
    requester = Requester(finess=finess, rpps=rpps, label=label if isinstance(label, str) else "")
    return RequesterRead(requester, organizations)


_KINDS = {
    "practitioner": ("Practitioner",),
    "organization": ("Organization",),
    "managingOrganization": ("Organization",),
}


def _followed(refs: References, resource: Node, names: tuple[str, ...]) -> Iterator[Node]:
    """What ``resource`` points at under ``names``: the resource sent, else the reference."""
    for name in names:
        ref, found = refs.follow(resource, name, resource, _KINDS[name], external_ok=True)
        if found is not None:
            yield found
        elif ref is not None:
            yield ref


def _identifiers(source: Node) -> Iterator[Node]:
    """A resource's identifiers, or the identifier of a logical Reference."""
    if source.resource_type is not None:
        yield from source.objects("identifier")
    else:
        identifier = source.obj("identifier")
        if identifier is not None:
            yield identifier


@dataclass(slots=True)
class _Found:
    """The requester identifiers read, each with the identifier it came from, and those that
    name a structure or a professional by anything else."""

    finess: list[tuple[Node, str]] = field(default_factory=list)
    rpps: list[tuple[Node, str]] = field(default_factory=list)
    other_structure: list[Node] = field(default_factory=list)
    other_professional: list[Node] = field(default_factory=list)


def _sort(source: Node, found: _Found, faults: Faults) -> None:
    kind = _kind_of(source)
    identifiers = list(_identifiers(source))
    if not identifiers and _type_of(source) == "Organization":
        # An organisation named by its name alone: asking as the gateway's own structure would
        # substitute it. (A Location without identifiers is a place, not a structure: it names
        # nobody, and its managing organisation or the provider may.)
        found.other_structure.append(source)
    for identifier in identifiers:
        system = identifier.value.get("system")
        value = identifier.value.get("value")
        where = identifier.child_path("value")
        if not isinstance(value, str):
            if system in _REQUESTER_SYSTEMS:
                faults.add(where, f"an identifier under {system} needs a value", "required")
            continue
        value = value.strip()
        if system == SYSTEM_FINESS:
            _add(found.finess, identifier, _check_finess(value, where, faults))
        elif system == SYSTEM_ID_NAT_ST:
            prefix, rest = value[:1], value[1:]
            if prefix == _FINESS_PREFIX:
                _add(found.finess, identifier, _check_finess(rest, where, faults))
            elif prefix in _ID_NAT_ST_KINDS:
                found.other_structure.append(identifier)
            else:
                faults.add(where, _unprefixed(SYSTEM_ID_NAT_ST, value, _ID_NAT_ST_KINDS), "format")
        elif system == SYSTEM_RPPS:
            _add(found.rpps, identifier, _check_rpps(value, where, faults))
        elif system == SYSTEM_ID_NAT_PS:
            prefix, rest = value[:1], value[1:]
            if prefix == _RPPS_PREFIX:
                _add(found.rpps, identifier, _check_rpps(rest, where, faults))
            elif prefix in _ID_NAT_PS_KINDS:
                found.other_professional.append(identifier)
            else:
                faults.add(where, _unprefixed(SYSTEM_ID_NAT_PS, value, _ID_NAT_PS_KINDS), "format")
        elif kind == "structure":
            found.other_structure.append(identifier)
        elif kind == "professional":
            found.other_professional.append(identifier)
        # A PractitionerRole's own identifiers, or a logical reference of no stated type,
        # under a system of no requester: nothing to read and nothing it could stand for.


def _type_of(source: Node) -> str | None:
    """The resource type of ``source``: a resource's own, or a logical Reference's ``type``."""
    if source.resource_type is not None:
        return source.resource_type
    stated = source.value.get("type")
    return stated if isinstance(stated, str) else None


def _kind_of(source: Node) -> str | None:
    """Whether ``source`` is a structure or a professional."""
    kind = _type_of(source)
    if kind in ("Organization", "Location"):
        return "structure"
    return "professional" if kind == "Practitioner" else None


def _add(into: list[tuple[Node, str]], identifier: Node, value: str | None) -> None:
    if value is not None:
        into.append((identifier, value))


def _unprefixed(system: str, value: str, kinds: Mapping[str, str]) -> str:
    known = ", ".join(f"{k} {name}" for k, name in kinds.items())
    return (
        f"a value under {system} starts with the kind of identifier it is ({known}), got {value!r}"
    )


def _check_finess(value: str, where: str, faults: Faults) -> str | None:
    try:
        return parse_finess(value, location=where).value
    except IdentifierError as exc:
        faults.add(where, exc.message, exc.check)
        return None


def _check_rpps(value: str, where: str, faults: Faults) -> str | None:
    if _RPPS.fullmatch(value) is None:
        faults.add(
            where,
            f"an RPPS number has 11 digits, got {value!r}",
            "length" if value.isdigit() else "format",
        )
        return None
    return value
