"""`--population FILE`: the target's people; an answer case about someone else is skipped with
its reason, a malformed file is one clear line naming the option, the file and the item."""

from __future__ import annotations

import json

import httpx
import pytest

from conformance.cases import load_cases, select
from conformance.population import population_from_json
from conformance.report import summary_line
from conformance.runner import Endpoints, run_cases
from rights.errors import InputError

SUBMIT = select(load_cases(), ["submit"])
KNOWN = SUBMIT[0].member
assert KNOWN is not None


def answer(_request: httpx.Request) -> httpx.Response:
    response = {
        "resourceType": "CoverageEligibilityResponse", "status": "active",
        "purpose": ["validation"], "patient": {"reference": "Patient/p"},
        "created": "2026-12-07T10:00:00+01:00",
        "request": {"reference": "CoverageEligibilityRequest/r"},
        "outcome": "complete", "insurer": {"display": "CDR"},
        "insurance": [{"coverage": {"display": "AMO"}, "inforce": True}],
    }  # fmt: skip
    return httpx.Response(200, json=response)


async def test_cases_about_people_the_target_lacks_are_skipped_with_the_reason():
    people = population_from_json(json.dumps([{"nir": KNOWN.nir, "rang": KNOWN.rang}]), source="p")
    results = await run_cases(
        SUBMIT[:2],
        Endpoints(fhir="http://gateway.test/fhir"),
        population=people,
        transport=httpx.MockTransport(answer),
    )
    assert results[0].passed, results[0].diffs
    assert results[1].skipped.endswith("is not in the given population")
    assert not results[1].failed and not results[1].passed
    assert summary_line(results, 0.0).endswith("1 skipped, 1 passed, 0 failed")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "pop.json is not JSON"),
        ('{"nir": "1"}', "pop.json must be a JSON list of people"),
        ('[{"nir": "1"}, 3]', "pop.json: item 1 is not an object"),
        ('[{"rang": 1}]', "pop.json: item 0 has no nir"),
        ('[{"nir": "1", "rang": 0}]', "pop.json: item 0 has rang 0, expected 1-9"),
    ],
)
def test_a_malformed_population_is_one_clear_error(text, message):
    with pytest.raises(InputError) as err:
        population_from_json(text, source="pop.json")
    assert err.value.location == "--population"
    assert err.value.message.startswith(message)
