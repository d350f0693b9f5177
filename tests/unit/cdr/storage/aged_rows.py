"""Rows written long ago and lately, through the stores' own write paths (the lookups' rows
directly), for the retention tests: what a purge must delete, and what it must keep."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select

from cdr.storage import SqlInbox, SqlOutbox
from cdr.storage.fhir_store import SqlFhirStore
from cdr.storage.relookups import SqlRelookups
from cdr.storage.tables import lookup_results, lookups
from fhir_server.search_params import index_entries
from hl7_listener.ports import InboundMessage, OutboundMessage, RelookupRequest
from hl7_listener.relookup_policy import RelookupStatus
from mapping.fhir.codesystems import all_conformance_resources

__all__ = [
    "BEFORE",
    "NEW",
    "OLD",
    "count_rows",
    "publish_conformance",
    "store_answer",
    "store_lookup",
    "store_message",
]

OLD = datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NEW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
DESTINATION = "127.0.0.1:6661"


def count_rows(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
        )


def store_lookup(engine: Engine, lookup_id: str, at: datetime, *, results: int = 2) -> None:
    with engine.begin() as connection:
        connection.execute(
            insert(lookups),
            {
                "id": lookup_id,
                "created_at": at,
                "requester_finess": "750100018",
                "requester_rpps": None,
                "nir": "185057505612345",
                "nir_kind": "nir",
                "birth_date": "1985-05-01",
                "rang": 1,
                "date_of_care": date(2026, 11, 24),
                "requested_regime": None,
                "mode": "discovery",
                "outcome": "complete",
                "in_force": True,
                "elapsed_ms": 12.5,
                "warnings": [],
            },
        )
        if results:
            connection.execute(
                insert(lookup_results),
                [
                    {
                        "lookup_id": lookup_id,
                        "regime": f"regime{n}",
                        "status": "found",
                        "in_force": True,
                        "reason": "in_force",
                        "attempts": 1,
                        "elapsed_ms": 3.0,
                        "from_cache": False,
                        "detail": "",
                        "rights": None,
                    }
                    for n in range(results)
                ],
            )


def _patient(patient: str, *, family: str = "MARTIN") -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient,
        "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.10", "value": f"1850575056{patient}"}],
        "name": [{"family": family}],
        "birthDate": "1985-05-01",
    }


def store_answer(
    store: SqlFhirStore, answer: str, patient: str, at: datetime, *, family: str = "MARTIN"
) -> None:
    """One `$submit` answer about ``patient``: response, request, the Patient and its Coverage
    (the same ids for every answer about that person), the caisse and the asking structure.
    A lookup finding the person unchanged leaves their rows as they were (``last_updated``
    included); another ``family`` makes a new version of the Patient."""
    patient_reference = {"reference": f"Patient/{patient}"}
    resources = [
        {
            "resourceType": "CoverageEligibilityResponse",
            "id": f"response-{answer}",
            "status": "active",
            "patient": patient_reference,
            "request": {"reference": f"CoverageEligibilityRequest/request-{answer}"},
            "requestor": {"reference": "Organization/structure-1"},
            "created": at.isoformat(),
            "outcome": "complete",
            "insurance": [{"coverage": {"reference": f"Coverage/coverage-{patient}"}}],
        },
        {
            "resourceType": "CoverageEligibilityRequest",
            "id": f"request-{answer}",
            "status": "active",
            "patient": patient_reference,
            "created": at.isoformat(),
        },
        _patient(patient, family=family),
        {
            "resourceType": "Coverage",
            "id": f"coverage-{patient}",
            "status": "active",
            "beneficiary": patient_reference,
            "payor": [{"reference": "Organization/caisse-1"}],
        },
        {"resourceType": "Organization", "id": "caisse-1", "name": "CPAM"},
        {"resourceType": "Organization", "id": "structure-1", "name": "CHU"},
    ]
    store.upsert_many([(r, index_entries(r)) for r in resources], at)


def publish_conformance(store: SqlFhirStore, at: datetime) -> None:
    """What ``cdr.bootstrap.publish_conformance`` writes, written at ``at``."""
    store.upsert_many([(r, index_entries(r)) for r in all_conformance_resources()], at)


@dataclass(frozen=True)
class Message:
    inbox_id: int
    outbox_id: int | None = None
    relookup_id: int | None = None


def store_message(
    engine: Engine,
    control_id: str,
    at: datetime,
    *,
    status: str = "done",
    delivery: str | None = "delivered",
    relookup: str | None = None,
) -> Message:
    """An admission received at ``at``. ``status``: pending (never processed), done, failed.
    Done, its result is queued for ``DESTINATION`` at ``at`` and ``delivery`` says what became
    of it (delivered, dead, or None: still to send); ``relookup`` (pending or final) records a
    re-lookup with the result."""
    inbox, outbox, relookups = SqlInbox(engine), SqlOutbox(engine), SqlRelookups(engine)
    (outcome,) = inbox.store_many(
        [
            InboundMessage(
                sender_key="LAB|HOSP",
                control_id=control_id,
                received_at=at,
                message_type="ADT^A01",
                patient_key=f"patient-{control_id}",
                charset="latin-1",
                raw=f"MSH|^~\\&|LAB|HOSP|||||ADT^A01|{control_id}|P|2.5\r".encode(),
                ack=b"MSA|AA\r",
            )
        ]
    )
    assert outcome.inbox_id is not None
    inbox_id = outcome.inbox_id
    if status == "failed":
        inbox.fail(inbox_id, "no regime", now=at)
    if status != "done":
        return Message(inbox_id)
    request = None
    if relookup is not None:
        request = RelookupRequest(
            f"patient-{control_id}", ("msa",), at + timedelta(seconds=30), at + timedelta(hours=1)
        )
    inbox.complete(
        inbox_id,
        [OutboundMessage(DESTINATION, f"OUT-{control_id}", b"MSH|Z99\r")],
        lookup_id=None,
        now=at,
        relookup=request,
    )
    [item] = [i for i in outbox.items(limit=1000) if i.inbox_id == inbox_id]
    if delivery == "delivered":
        outbox.delivered(item.id, ack_code="AA", now=at)
    elif delivery == "dead":
        outbox.dead(item.id, error="refused", now=at)
    relookup_id = None
    if relookup is not None:
        [row] = [r for r in relookups.items(limit=1000) if r.inbox_id == inbox_id]
        relookup_id = row.id
        if relookup == "final":
            assert relookups.close(
                row.id, attempts=0, status=RelookupStatus.FINAL, outbound=(), now=at
            )
    return Message(inbox_id, item.id, relookup_id)
