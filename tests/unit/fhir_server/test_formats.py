from __future__ import annotations

import pytest

from fhir_server.errors import FhirRequestError
from fhir_server.formats import check_content_type, response_media_type
from fhir_server.search import parse_search


@pytest.mark.parametrize(
    ("accept", "fmt", "expected"),
    [
        (None, None, "application/fhir+json"),
        ("*/*", None, "application/fhir+json"),
        ("application/json", None, "application/json"),
        ("application/fhir+json;q=0.9, application/json", None, "application/json"),
        ("application/fhir+json, application/json", None, "application/fhir+json"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", None, "application/fhir+json"),
        ("application/fhir+xml", "json", "application/fhir+json"),
        ("application/fhir+xml", None, "application/fhir+xml"),
        ("application/xml+fhir", None, "application/fhir+xml"),
        ("application/xml", None, "application/xml"),
        ("application/fhir+json;q=0.5, application/fhir+xml", None, "application/fhir+xml"),
        ("application/fhir+xml;q=0, application/json", None, "application/json"),
        (None, "xml", "application/fhir+xml"),
        (None, "text/xml", "text/xml"),
        ("application/fhir+json", "application/fhir+xml", "application/fhir+xml"),
    ],
)
def test_negotiation(accept, fmt, expected):
    assert response_media_type(accept, fmt) == expected


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [("text/html", None), (None, "ttl"), ("application/fhir+xml;q=0", None), (None, "html")],
)
def test_unsupported_formats_are_406(accept, fmt):
    with pytest.raises(FhirRequestError) as err:
        response_media_type(accept, fmt)
    assert err.value.status == 406


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "json", "xml", "application/fhir+xml; charset=iso-8859-1"],
)
def test_posted_other_types_are_415(content_type):
    with pytest.raises(FhirRequestError) as err:
        check_content_type(content_type)
    assert err.value.status == 415


def test_json_and_xml_content_types_pass():
    assert check_content_type("application/fhir+json; charset=utf-8") is False
    assert check_content_type("application/json") is False
    assert check_content_type("application/fhir+xml;charset=UTF-8") is True
    assert check_content_type("text/xml") is True


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([("colour", "red")], "not supported"),
        ([("_count", "many")], "whole number"),
        ([("created", "yesterday")], "not a FHIR date"),
        ([("created", "2024-01-01T25:00")], "not a FHIR date"),
        ([("created", "ge2024-01-01T::")], "not a FHIR date"),
        ([("patient", "")], "no value"),
    ],
)
def test_bad_search_parameters_are_400(params, message):
    with pytest.raises(FhirRequestError) as err:
        parse_search("CoverageEligibilityResponse", params)
    assert err.value.status == 400
    assert message in err.value.message


def test_count_is_capped():
    _, count, offset = parse_search("Coverage", [("_count", "1000"), ("_offset", "5")])
    assert (count, offset) == (100, 5)
