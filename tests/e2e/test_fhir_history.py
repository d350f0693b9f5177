"""vread and _history over HTTP (issue 21, judgement call): a response that a lookup completed
can still be read as it was first given."""

from __future__ import annotations

import time

import httpx

from tests.e2e.test_fhir_api import cer_for, fhir, first, outcome, post  # noqa: F401  (fixture)
from tests.unit.mapping.fhir_schema import assert_valid


def test_a_queued_answer_stays_readable_as_it_was_given(fhir) -> None:  # noqa: F811
    queued = post(fhir, cer_for(first("open")), Prefer="respond-async").json()
    assert queued["outcome"] == "queued"
    url = f"{fhir}/CoverageEligibilityResponse/{queued['id']}"
    deadline = time.monotonic() + 20
    done = httpx.get(url).json()
    while done["outcome"] == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)
        done = httpx.get(url).json()
    assert done["outcome"] == "complete" and done["meta"]["versionId"] == "2"
    first_version = httpx.get(f"{url}/_history/1")
    assert first_version.status_code == 200
    assert first_version.headers["ETag"] == 'W/"1"'
    assert first_version.json()["outcome"] == "queued"
    assert httpx.get(f"{url}/_history/2").json() == done
    assert httpx.get(f"{url}/_history/1", headers={"If-None-Match": 'W/"1"'}).status_code == 304
    history = httpx.get(f"{url}/_history").json()
    assert_valid(history)
    assert history["type"] == "history" and history["total"] == 2
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
    assert [e["request"]["method"] for e in history["entry"]] == ["PUT", "POST"]
    assert [e["response"]["etag"] for e in history["entry"]] == ['W/"2"', 'W/"1"']


def test_versions_that_never_were_are_404(fhir) -> None:  # noqa: F811
    answer = post(fhir, cer_for(first("open"))).json()
    url = f"{fhir}/CoverageEligibilityResponse/{answer['id']}"
    outcome(httpx.get(f"{url}/_history/9"), 404)
    outcome(httpx.get(f"{url}/_history/one"), 404)
    outcome(httpx.get(f"{fhir}/CoverageEligibilityResponse/nobody/_history"), 404)
    outcome(httpx.get(f"{fhir}/Nonsense/x/_history/1"), 404)
