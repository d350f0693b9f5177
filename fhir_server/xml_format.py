"""FHIR XML (http://hl7.org/fhir/R4/xml.html), the second format of every FHIR interaction.

The gateway thinks in JSON; XML is a translation at the edge, both ways, done by the maintained
fhir.resources models (R4B, identical to R4 for the resources we serve) rather than by hand. The
JSON path never pays for it: lxml and the models are imported the first time XML is asked for.

Parsing is closed to what XML allows beyond FHIR: a document type declaration (and so any
entity: XXE, "billion laughs") is refused before lxml sees the bytes, and the parser itself
resolves no entity, loads no DTD and reaches no network.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from fhir_server.errors import FhirRequestError

__all__ = ["FHIR_XML", "resource_to_xml", "xml_to_resource"]

FHIR_XML = "application/fhir+xml"
_FHIR_NS = "http://hl7.org/fhir"


@functools.cache
def _model_class(resource_type: str) -> Any:
    from fhir.resources.R4B import get_fhir_model_class

    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return None


@functools.cache
def _parser() -> Any:
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def resource_to_xml(resource: Mapping[str, Any]) -> bytes:
    """The XML form of a resource we built as JSON (UTF-8, with its XML declaration)."""
    model = _model_class(str(resource.get("resourceType", "")))
    if model is None:
        raise FhirRequestError(
            406,
            "not-supported",
            f"{resource.get('resourceType')!r} has no XML form here: ask for JSON",
            location="_format",
        )
    xml: bytes = model.model_validate(resource).model_dump_xml()
    return xml


def xml_to_resource(body: bytes) -> dict[str, Any]:
    """The JSON form of a posted FHIR XML resource, or a 400 saying what is wrong with it."""
    from lxml import etree
    from pydantic import ValidationError

    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise _bad("a document type declaration is not allowed in FHIR XML")
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise _bad(f"the body is not well-formed XML: {exc.msg}") from exc
    name = etree.QName(root)
    if name.namespace != _FHIR_NS:
        raise _bad(f"<{name.localname}> is not in the FHIR namespace {_FHIR_NS}")
    model = _model_class(name.localname)
    if model is None:
        raise _bad(f"<{name.localname}> is not a FHIR R4 resource")
    try:
        parsed = model.model_validate_xml(body, xmlparser=_parser())
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ()))
        raise _bad(f"{name.localname}.{where}: {first.get('msg')}", where) from exc
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # fhir_core's XML reader raises these for elements it cannot place.
        raise _bad(f"the XML is not a valid {name.localname}: {exc}") from exc
    dumped: dict[str, Any] = parsed.model_dump(mode="json", exclude_none=True)
    return dumped


def _bad(message: str, where: str = "") -> FhirRequestError:
    return FhirRequestError(400, "structure", message, location=where)
