"""The write plan of a batch of resources: a placeholder written only where nothing is stored."""

from __future__ import annotations

from datetime import UTC, datetime

from cdr.storage.fhir_batch import StoredVersion, plan_writes
from fhir_server import json_text
from fhir_server.store import ResourceWrite

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
RICH = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Lefèvre"}], "gender": "male"}
ASKED = {"resourceType": "Patient", "id": "p1", "name": [{"family": "LEFEVRE"}]}


def test_a_placeholder_is_written_where_nothing_is_stored() -> None:
    plan = plan_writes([ResourceWrite(ASKED, if_absent=True)], {}, T1)
    assert [(p.resource_id, p.version_id) for p in plan.new] == [("p1", 1)]
    assert plan.results[0].resource["name"] == ASKED["name"]


def test_a_placeholder_leaves_the_stored_version_and_returns_it() -> None:
    stored = {("Patient", "p1"): StoredVersion(3, json_text.dumps(RICH).decode(), T0)}
    plan = plan_writes([ResourceWrite(ASKED, if_absent=True)], stored, T1)
    assert plan.new == [] and plan.changed == [] and plan.indexed == []
    result = plan.results[0]
    assert result.version_id == 3 and result.resource["gender"] == "male"
    assert result.resource["meta"]["versionId"] == "3"
    # The same write without the flag replaces it, as any changed resource.
    plan = plan_writes([ResourceWrite(ASKED)], stored, T1)
    assert [(p.resource_id, p.version_id) for p in plan.changed] == [("p1", 4)]


def test_a_change_hands_the_stored_version_to_the_history() -> None:
    text = json_text.dumps(RICH, sort_keys=True).decode()  # as the store compares contents
    stored = {("Patient", "p1"): StoredVersion(3, text, T0)}
    plan = plan_writes([ResourceWrite(ASKED), ResourceWrite(RICH)], stored, T1)
    # Changed twice in the batch: only the version stored before it is kept.
    assert [(row["id"], row["version_id"]) for row in plan.history_rows()] == [("p1", 3)]
    assert plan.history_rows()[0]["last_updated"] == T0
    unchanged = plan_writes([ResourceWrite(RICH)], stored, T1)
    assert unchanged.history_rows() == []
