"""Unwrapping a ``$submit`` body to its CoverageEligibilityRequest, and resolving the references
the request makes to the resources sent with it.

Accepted bodies (R4 ``CoverageEligibilityRequest/$submit``, IHE FAIS ITI-124): a bare request; a
``Parameters`` whose one ``resource`` parameter holds the request or a Bundle; a Bundle of type
collection or batch holding the request and the resources it references. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from mapping.fhir.read import Faults, Node

__all__ = ["CER", "References", "Submission", "unwrap_submission"]

CER = "CoverageEligibilityRequest"

# FAIS ITI-124 sends a collection; batch is what generic FHIR clients build. A message Bundle
# belongs to FHIR messaging ($process-message), not to $submit; a transaction asks the server to
# run its entries' requests all or none and answer a transaction-response
# (http://hl7.org/fhir/R4/http.html#transaction), which $submit does not do: refused, not read
# as a collection.
_BUNDLE_TYPES = ("collection", "batch")
# http://hl7.org/fhir/R4/references.html: Type/id, optionally with a version.
_RELATIVE = re.compile(r"([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(/_history/[A-Za-z0-9\-.]{1,64})?")
_ABSOLUTE_TAIL = re.compile(r"^(.*)/[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}$")


@dataclass(slots=True)
class References:
    """Resolves a reference made inside ``host`` (the entry or request it appears in) to a
    contained resource (``#id``) or to a Bundle entry (by ``fullUrl``, or ``Type/id``)."""

    by_url: dict[str, Node] = field(default_factory=dict)
    by_type_id: dict[str, Node] = field(default_factory=dict)
    full_urls: dict[str, str] = field(default_factory=dict)  # resource path -> its fullUrl
    hosts: dict[str, Node] = field(default_factory=dict)  # contained path -> its container

    def add_entry(self, full_url: str | None, resource: Node) -> None:
        if full_url:
            self.by_url.setdefault(full_url, resource)
            self.full_urls[resource.path] = full_url
        kind, rid = resource.resource_type, resource.value.get("id")
        if kind and isinstance(rid, str):
            self.by_type_id.setdefault(f"{kind}/{rid}", resource)

    def host_of(self, resource: Node) -> Node:
        """The resource whose ``contained`` a ``#id`` written inside ``resource`` points into."""
        return self.hosts.get(resource.path, resource)

    def follow(
        self,
        holder: Node,
        name: str,
        host: Node,
        kinds: tuple[str, ...],
        *,
        required: bool = False,
        external_ok: bool = False,
    ) -> tuple[Node | None, Node | None]:
        """The Reference element ``holder.name`` and the resource it resolves to, if any.

        A reference that resolves to nothing is a fault unless ``external_ok`` (a server may
        legitimately point at resources it does not send, like the insurer); a resolved
        resource of another type than ``kinds`` is always a fault.
        """
        ref = holder.obj(name, required=required)
        if ref is None:
            return None, None
        return ref, self.resolve(ref, host, kinds, external_ok=external_ok)

    def resolve(
        self, ref: Node, host: Node, kinds: tuple[str, ...], *, external_ok: bool = False
    ) -> Node | None:
        """The resource the Reference element ``ref`` (written inside ``host``) points at."""
        target = ref.text("reference")
        if target is None:
            return None  # a logical reference (identifier) or a display only
        found = self._resolve(target, self.host_of(host))
        where = ref.child_path("reference")
        if found is None:
            if not external_ok:
                ref.faults.add(
                    where,
                    f"reference {target!r} matches no contained resource nor Bundle entry",
                    "reference",
                )
            return None
        if found.resource_type not in kinds:
            ref.faults.add(
                where,
                f"must reference {' or '.join(kinds)}, but {target!r} is a {found.resource_type}",
            )
            return None
        return found

    def resolve_target(self, target: str, host: Node) -> Node | None:
        """The resource a reference text written inside ``host`` points at, if it was sent."""
        return self._resolve(target, self.host_of(host))

    def _resolve(self, target: str, host: Node) -> Node | None:
        if target.startswith("#"):
            return self._contained(host, target[1:])
        if target in self.by_url:
            return self.by_url[target]
        relative = _RELATIVE.fullmatch(target)
        if relative is None:
            return None
        # http://hl7.org/fhir/R4/bundle.html#references: a relative reference inside an entry
        # with a RESTful fullUrl resolves against that fullUrl's base.
        base = _ABSOLUTE_TAIL.match(self.full_urls.get(host.path, ""))
        if base is not None:
            absolute = f"{base.group(1)}/{relative.group(1)}/{relative.group(2)}"
            if absolute in self.by_url:
                return self.by_url[absolute]
        return self.by_type_id.get(f"{relative.group(1)}/{relative.group(2)}")

    def _contained(self, host: Node, rid: str) -> Node | None:
        contained = host.value.get("contained") if isinstance(host.value, (dict, Mapping)) else None
        if not isinstance(contained, list):
            return None
        for i, item in enumerate(contained):
            if isinstance(item, (dict, Mapping)) and item.get("id") == rid:
                node = Node(item, f"{host.path}.contained[{i}]", host.faults)
                self.hosts[node.path] = host
                return node
        return None


@dataclass(frozen=True, slots=True)
class Submission:
    cer: Node
    references: References
    is_bundle: bool


def unwrap_submission(body: object, faults: Faults) -> Submission | None:
    """The request inside ``body``; None (with faults) when there is no single one to read."""
    if not isinstance(body, Mapping):
        faults.add("resourceType", "the body must be a JSON object holding a FHIR resource")
        return None
    root = Node(body, str(body.get("resourceType")), faults)
    kind = root.resource_type
    if kind == "Parameters":
        return _from_parameters(root)
    if kind in (CER, "Bundle"):
        return _from_resource(root)
    faults.add(
        "resourceType",
        f"expected a {CER}, a Parameters or a Bundle, got resourceType {_shown(body)}",
    )
    return None


def _shown(resource: Mapping[str, object]) -> str:
    """What ``resourceType`` holds, as sent (a number, null, missing), for a message."""
    if "resourceType" not in resource:
        return "(none)"
    return repr(resource["resourceType"])[:80]


def _from_resource(node: Node) -> Submission | None:
    if node.resource_type == CER:
        return Submission(node, References(), is_bundle=False)
    if node.resource_type == "Bundle":
        return _from_bundle(node)
    node.faults.add(
        node.child_path("resourceType"),
        f"$submit takes a {CER} or a Bundle, got resourceType {_shown(node.value)}",
    )
    return None


def _from_parameters(root: Node) -> Submission | None:
    # R4 $submit: one input parameter, "resource" 1..1.
    named = [p for p in root.objects("parameter") if p.value.get("name") == "resource"]
    if not named:
        root.faults.add(
            root.child_path("parameter"),
            "$submit takes one parameter named 'resource' holding the request or a Bundle",
            "required",
        )
        return None
    for extra in named[1:]:
        root.faults.add(extra.path, "$submit takes one 'resource' parameter, not several")
    resource = named[0].obj("resource", required=True)
    if resource is None or len(named) > 1:
        return None
    return _from_resource(resource)


def _from_bundle(bundle: Node) -> Submission | None:
    kind = bundle.text("type", required=True)
    if kind is not None and kind not in _BUNDLE_TYPES:
        bundle.faults.add(
            bundle.child_path("type"),
            f"Bundle type {kind!r} is not accepted by $submit; use {' or '.join(_BUNDLE_TYPES)}"
            + (
                " ($submit does not run a transaction's entries as one; it reads the request "
                "and the resources it references)"
                if kind == "transaction"
                else ""
            ),
        )
    references = References()
    requests: list[Node] = []
    for entry in bundle.objects("entry"):
        resource = entry.obj("resource")
        if resource is None:
            continue  # batch/transaction entries may carry only a request (e.g. DELETE)
        references.add_entry(entry.text("fullUrl"), resource)
        if resource.resource_type == CER:
            requests.append(resource)
    if not requests:
        bundle.faults.add(
            bundle.child_path("entry"),
            f"the Bundle holds no {CER}",
            "required",
        )
        return None
    for extra in requests[1:]:
        bundle.faults.add(extra.path, f"the Bundle must hold one {CER}, this is another one")
    if len(requests) > 1 or (kind is not None and kind not in _BUNDLE_TYPES):
        return None
    return Submission(requests[0], references, is_bundle=True)
