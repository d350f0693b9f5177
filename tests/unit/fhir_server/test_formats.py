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
        ("application/fhir+json;q=0.9, application/json", None, "application/fhir+json"),
        ("text/html,application/xhtml+xml,*/*;q=0.8", None, "application/fhir+json"),
        ("application/fhir+xml", "json", "application/fhir+json"),
    ],
)
def test_negotiation(accept, fmt, expected):
    assert response_media_type(accept, fmt) == expected


@pytest.mark.parametrize(("accept", "fmt"), [("application/fhir+xml", None), (None, "xml")])
def test_unsupported_formats_are_406(accept, fmt):
    with pytest.raises(FhirRequestError) as err:
        response_media_type(accept, fmt)
    assert err.value.status == 406


@pytest.mark.parametrize("content_type", [None, "text/xml", "application/fhir+xml", "text/plain"])
def test_posted_non_json_is_415(content_type):
    with pytest.raises(FhirRequestError) as err:
        check_content_type(content_type)
    assert err.value.status == 415


def test_json_content_types_pass():
    check_content_type("application/fhir+json; charset=utf-8")
    check_content_type("application/json")


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
