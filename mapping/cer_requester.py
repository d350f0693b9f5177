"""Who asks: the structure's FINESS and the professional's RPPS named by a
CoverageEligibilityRequest's ``provider`` (or ``facility``), else the gateway's default. Pure.

FR Core identifier systems (reference/fhir.md §2): an Organization's FINESS comes bare under
``https://finess.esante.gouv.fr`` or as idNatSt (``urn:oid:1.2.250.1.71.4.2.2``, value "1" +
FINESS); a Practitioner's RPPS bare under ``https://rpps.esante.gouv.fr`` or as idNatPs
(``urn:oid:1.2.250.1.71.4.2.1``, value "8" + RPPS).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mapping.cer_submission import References
from mapping.fhir_common import SYSTEM_FINESS
from mapping.fhir_read import Faults, Node
from rights.errors import IdentifierError
from rights.identifiers import parse_finess
from rights.model import Requester

__all__ = ["SYSTEM_ID_NAT_PS", "SYSTEM_ID_NAT_ST", "SYSTEM_RPPS", "RequesterRead", "read_requester"]

SYSTEM_ID_NAT_ST = "urn:oid:1.2.250.1.71.4.2.2"
SYSTEM_ID_NAT_PS = "urn:oid:1.2.250.1.71.4.2.1"
SYSTEM_RPPS = "https://rpps.esante.gouv.fr"
# idNatSt / idNatPs prefix the number with the kind of identifier it is.
_FINESS_PREFIX = "1"
_RPPS_PREFIX = "8"
_RPPS = re.compile(r"[0-9]{11}")
_PROVIDERS = ("Organization", "Practitioner", "PractitionerRole")


@dataclass(frozen=True, slots=True)
class RequesterRead:
    requester: Requester
    organizations: tuple[Node, ...]  # the provider-side Organizations that were sent


def read_requester(
    cer: Node, refs: References, default: Requester, faults: Faults
) -> RequesterRead:
    """FINESS from the provider Organization (or the PractitionerRole's organization), else from
    the facility Location (or its managing Organization); RPPS from a provider Practitioner.
    The provider and facility may be external (not sent): their logical identifiers count."""
    # Resources, or logical references, that may name the requester, in order of preference.
    sources: list[Node] = []
    ref, provider = refs.follow(cer, "provider", cer, _PROVIDERS, external_ok=True)
    if provider is not None and provider.resource_type == "PractitionerRole":
        sources += [provider, *_followed(refs, provider, ("practitioner", "organization"))]
    elif provider is not None:
        sources.append(provider)
    elif ref is not None:
        sources.append(ref)
    ref, facility = refs.follow(cer, "facility", cer, ("Location",), external_ok=True)
    if facility is not None:
        sources += [facility, *_followed(refs, facility, ("managingOrganization",))]
    elif ref is not None:
        sources.append(ref)
    finess: list[Node] = []
    rpps: list[Node] = []
    for source in sources:
        _sort(_identifiers(source), finess, rpps)
    organizations = tuple(s for s in sources if s.resource_type == "Organization")
    if not finess and not rpps:
        return RequesterRead(default, organizations)
    if not finess:
        # A professional named without a structure works for the gateway's own structure.
        requester = Requester(default.finess, _check_rpps(rpps[0], faults), default.label)
        return RequesterRead(requester, organizations)
    holder = next(s for s in sources if finess[0].path.startswith(f"{s.path}."))
    label = holder.value.get("name") or holder.value.get("display")
    requester = Requester(
        finess=_check_finess(finess[0], faults) or "",
        rpps=_check_rpps(rpps[0], faults) if rpps else None,
        label=label if isinstance(label, str) else "",
    )
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


def _sort(identifiers: Iterable[Node], finess: list[Node], rpps: list[Node]) -> None:
    for identifier in identifiers:
        system = identifier.value.get("system")
        value = identifier.value.get("value")
        if not isinstance(value, str):
            continue
        if system == SYSTEM_FINESS or (
            system == SYSTEM_ID_NAT_ST and value.startswith(_FINESS_PREFIX)
        ):
            finess.append(identifier)
        elif system == SYSTEM_RPPS or (
            system == SYSTEM_ID_NAT_PS and value.startswith(_RPPS_PREFIX)
        ):
            rpps.append(identifier)


def _strip(identifier: Node, prefix: str) -> str:
    value = str(identifier.value["value"]).strip()
    nat = identifier.value.get("system") in (SYSTEM_ID_NAT_ST, SYSTEM_ID_NAT_PS)
    return value[len(prefix) :] if nat else value


def _check_finess(identifier: Node, faults: Faults) -> str | None:
    where = identifier.child_path("value")
    try:
        return parse_finess(_strip(identifier, _FINESS_PREFIX), location=where).value
    except IdentifierError as exc:
        faults.add(where, exc.message, exc.check)
        return None


def _check_rpps(identifier: Node, faults: Faults) -> str | None:
    value = _strip(identifier, _RPPS_PREFIX)
    if _RPPS.fullmatch(value) is None:
        faults.add(
            identifier.child_path("value"),
            f"an RPPS number has 11 digits, got {value!r}",
            "length" if value.isdigit() else "format",
        )
        return None
    return value
