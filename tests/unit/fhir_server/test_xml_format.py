"""FHIR XML both ways (issue 21.7): our resources become R4 XML and come back unchanged, a committed
XML request reads as its JSON twin, and hostile or wrong XML is a 400 naming the fault."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from fhir_server.errors import FhirRequestError
from fhir_server.xml_format import resource_to_xml, xml_to_resource
from tests.unit.mapping.fhir_schema import assert_valid

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "fhir"
NS = "{http://hl7.org/fhir}"


def _resources(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for item in node:
            yield from _resources(item)
    elif isinstance(node, dict) and "resourceType" in node:
        yield node


def _answers() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in sorted((FIXTURES / "eligibility").glob("*.json")):
        for group in json.loads(path.read_text(encoding="utf-8")).values():
            out.extend(_resources(group))
    return out


def _utc_as_z(node: Any) -> Any:
    # XML instants come back with "Z" for UTC where we wrote "+00:00": the same instant.
    if isinstance(node, dict):
        return {k: _utc_as_z(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_utc_as_z(v) for v in node]
    if isinstance(node, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+\+00:00", node):
        return node.removesuffix("+00:00") + "Z"
    return node


@pytest.mark.parametrize(
    "resource", _answers(), ids=lambda r: f"{r['resourceType']}/{r.get('id', '')[:12]}"
)
def test_every_resource_we_answer_goes_to_xml_and_back_unchanged(resource: dict[str, Any]) -> None:
    xml = resource_to_xml(resource)
    root = etree.fromstring(xml)
    # R4 xml.html: the root is the resource type in the FHIR namespace, primitives are value
    # attributes, and resourceType is no element.
    assert root.tag == f"{NS}{resource['resourceType']}"
    assert root.find(f"{NS}resourceType") is None
    if "id" in resource:
        assert root[0].tag == f"{NS}id" and root[0].get("value") == resource["id"]
    back = xml_to_resource(xml)
    assert back == _utc_as_z(resource)
    assert_valid(back)


def test_a_committed_xml_request_reads_as_its_json_twin() -> None:
    xml = (FIXTURES / "xml" / "validation-known-regime.xml").read_bytes()
    twin = json.loads((FIXTURES / "examples" / "validation-known-regime.json").read_text())
    assert xml_to_resource(xml) == twin


def _refused(body: bytes) -> FhirRequestError:
    with pytest.raises(FhirRequestError) as caught:
        xml_to_resource(body)
    assert caught.value.status == 400 and caught.value.code == "structure"
    return caught.value


def test_a_document_type_declaration_is_refused_before_parsing() -> None:
    billion_laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
        b'<Patient xmlns="http://hl7.org/fhir"><id value="&lol2;"/></Patient>'
    )
    assert "document type declaration" in str(_refused(billion_laughs))
    xxe = (
        b'<!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b'<Patient xmlns="http://hl7.org/fhir"><id value="&x;"/></Patient>'
    )
    assert "document type declaration" in str(_refused(xxe))


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<Patient xmlns='http://hl7.org/fhir'><id value='x'/>", "not well-formed"),
        (b"not xml at all", "not well-formed"),
        (b"<Patient><id value='x'/></Patient>", "FHIR namespace"),
        (b"<Patient xmlns='urn:other'><id value='x'/></Patient>", "FHIR namespace"),
        (b"<Nothing xmlns='http://hl7.org/fhir'/>", "not a FHIR R4 resource"),
    ],
)
def test_xml_that_is_no_fhir_resource_is_a_400_saying_why(body: bytes, says: str) -> None:
    assert says in str(_refused(body))


def test_an_invalid_value_names_the_element() -> None:
    body = (
        b"<CoverageEligibilityRequest xmlns='http://hl7.org/fhir'>"
        b"<status value='active'/><purpose value='validation'/>"
        b"<created value='not-a-date'/></CoverageEligibilityRequest>"
    )
    error = _refused(body)
    assert "created" in str(error) and "created" in error.location


def test_a_resource_type_without_an_xml_form_is_406() -> None:
    with pytest.raises(FhirRequestError) as caught:
        resource_to_xml({"resourceType": "NoSuchThing"})
    assert caught.value.status == 406
