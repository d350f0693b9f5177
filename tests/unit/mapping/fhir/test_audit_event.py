"""The audit trail's AuditEvents: valid R4, in the IHE BALP / DICOM vocabulary, naming who asked
(client, structure, professional), about whom and how it went."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

from mapping.fhir.audit_event import (
    SYSTEM_CLIENT,
    client_device_id,
    lookup_audit_event,
    refusal_audit_event,
)
from mapping.fhir.ids import practitioner_id, structure_id
from mapping.fhir.patient import person_id
from mapping.fhir.terms import SYSTEM_ID_NAT_PS, SYSTEM_RPPS
from rights.caller import Caller, Entry, Person
from rights.model import Requester
from rights.result import RegimeStatus
from tests.unit.mapping.fhir_invariants import assert_invariants
from tests.unit.mapping.fhir_schema import assert_valid
from tests.unit.mapping.rights_reports import failed, member, report_for

OBSERVER = "cdr-gateway@test"
CLIENT = Caller(Entry.FHIR, "his-east", "10.1.2.3")


def _asked_by(report, requester):
    return replace(report, query=replace(report.query, requester=requester))


def _down(regime):
    return failed(regime, RegimeStatus.UNAVAILABLE, date(2026, 12, 7), "connection refused")


def _agent(event, code):
    return [a for a in event["agent"] if a["type"]["coding"][0]["code"] == code]


def test_a_lookup_is_a_dicom_query_executed_for_the_structure_by_the_client_about_the_patient():
    who = member("Martin", "Manon")
    report = _asked_by(report_for(who), Requester("750712184"))
    event = lookup_audit_event(report, CLIENT, lookup_id="L1", observer=OBSERVER)
    assert_valid(event)
    assert_invariants(event)
    assert event["type"] == {
        "system": "http://dicom.nema.org/resources/ontology/DCM",
        "code": "110112",
        "display": "Query",
    }
    assert [c["code"] for c in event["subtype"]] == ["fhir-submit", "operation"]
    assert (event["action"], event["outcome"]) == ("E", "0")
    [client] = _agent(event, "110153")
    assert client["requestor"] is True
    assert client["who"]["identifier"] == {"system": SYSTEM_CLIENT, "value": "his-east"}
    assert client["who"]["reference"] == "Device/fhir-his-east"
    assert client["network"] == {"address": "10.1.2.3", "type": "2"}
    [structure] = _agent(event, "IRCP")
    finess = report.query.requester.finess
    assert structure["who"]["reference"] == f"Organization/{structure_id(finess)}"
    assert structure["who"]["identifier"]["value"] == finess
    [gateway] = _agent(event, "110152")
    assert gateway["who"]["display"] == OBSERVER
    patient, query = event["entity"]
    # The same Patient id the FHIR answer of this lookup uses: searchable with patient=.
    found = [r.rights for r in report.found if r.rights is not None]
    assert patient["what"]["reference"] == f"Patient/{person_id(report.query, found)}"
    assert patient["what"]["identifier"]["value"] == report.query.nir.value
    assert patient["role"]["code"] == "1"
    assert query["what"]["identifier"]["value"] == "L1"
    assert query["role"]["code"] == "24"
    assert event["period"]["start"] <= event["recorded"] == event["period"]["end"]


def test_a_partial_lookup_is_a_minor_failure_naming_the_regimes_that_did_not_answer():
    who = member("Martin", "Manon")
    report = report_for(who, extra=(_down("msa"),))
    event = lookup_audit_event(report, CLIENT, lookup_id="L2", observer=OBSERVER)
    assert event["outcome"] == "4"
    assert "no answer from msa" in event["outcomeDesc"]


def test_a_lookup_that_no_regime_answered_is_a_serious_failure():
    who = member("Martin", "Manon")
    report = report_for(who)
    report = replace(report, results=(_down(who.regime),))
    event = lookup_audit_event(report, CLIENT, lookup_id="L3", observer=OBSERVER)
    assert event["outcome"] == "8"


def test_the_professional_is_an_agent_when_the_lookup_names_one():
    who = member("Martin", "Manon")
    report = report_for(who)
    report = _asked_by(report, Requester("750712184", rpps="10001234567"))
    event = lookup_audit_event(
        report, Caller(Entry.PORTAL, "dr-house"), lookup_id="L4", observer=OBSERVER
    )
    assert_valid(event)
    [professional] = _agent(event, "PROV")
    assert professional["who"]["reference"] == f"Practitioner/{practitioner_id('10001234567')}"
    assert professional["requestor"] is True
    assert [c["code"] for c in event["subtype"]] == ["portal-lookup"]


def test_the_card_holder_who_asks_is_the_professional_named_once():
    report = _asked_by(report_for(member("Martin", "Manon")), Requester("750100018"))
    doctor = Person("810100234567", "CLAIRE MEDECIN-TEST", "Médecin")
    event = lookup_audit_event(
        report, Caller(Entry.CLI, "admission", person=doctor), lookup_id="L5", observer=OBSERVER
    )
    assert_valid(event)
    [professional] = _agent(event, "PROV")
    assert professional["who"]["identifier"] == {"system": SYSTEM_RPPS, "value": "10100234567"}
    assert professional["who"]["display"] == "CLAIRE MEDECIN-TEST"
    assert professional["role"] == [{"text": "Médecin"}] and professional["requestor"] is True
    # Asked with the same RPPS in the query as well: still one professional agent.
    again = lookup_audit_event(
        _asked_by(report, Requester("750100018", rpps="10100234567")),
        Caller(Entry.CLI, "admission", person=doctor),
        lookup_id="L6",
        observer=OBSERVER,
    )
    assert len(_agent(again, "PROV")) == 1
    # A nurse's card names her by ADELI, a CPE's by its structure: idNatPs, prefix kept.
    nurse = Person("00B6087510", "OLIVIER INFIRMIER-TEST", "Infirmier")
    event = lookup_audit_event(
        report, Caller(Entry.PORTAL, person=nurse), lookup_id="L7", observer=OBSERVER
    )
    assert_valid(event)
    [professional] = _agent(event, "PROV")
    assert professional["who"]["identifier"] == {"system": SYSTEM_ID_NAT_PS, "value": "00B6087510"}


def test_every_entry_has_its_subtype_and_hl7_senders_become_fhir_ids():
    who = member("Martin", "Manon")
    report = report_for(who)
    codes = {}
    for entry in Entry:
        event = lookup_audit_event(
            report, Caller(entry, "HIS^CHU LYON"), lookup_id="L", observer=OBSERVER
        )
        assert_valid(event)
        codes[entry] = event["subtype"][0]["code"]
        [client] = _agent(event, "110153")
        assert client["who"]["identifier"]["value"] == "HIS^CHU LYON"  # exactly as sent
    assert len(set(codes.values())) == len(Entry)


def test_client_ids_are_fhir_ids_and_tell_look_alike_names_apart():
    plain = client_device_id(Caller(Entry.FHIR, "his-east"))
    assert plain == "fhir-his-east"
    a = client_device_id(Caller(Entry.HL7, "HIS^CHU"))
    b = client_device_id(Caller(Entry.HL7, "HIS.CHU"))
    long = client_device_id(Caller(Entry.FHIR, "x" * 128))
    assert a != b
    for made in (a, b, long, client_device_id(Caller(Entry.FHIR, ""))):
        assert 1 <= len(made) <= 64
        assert all(c.isalnum() or c in "-." for c in made), made


def test_refusals_are_audited_as_failed_interactions_logins_or_node_alerts():
    at = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    kinds = {
        "operation": ("rest", "operation"),
        "login": ("110114", "110122"),
        None: ("110113", "110126"),
    }
    for interaction, (event_type, subtype) in kinds.items():
        event = refusal_audit_event(
            Caller(Entry.FHIR, "", "192.0.2.7"),
            recorded=at,
            reason="no bearer token",
            structure_finess="750712184",
            observer=OBSERVER,
            interaction=interaction,
            target="POST /fhir/CoverageEligibilityRequest/$submit",
        )
        assert_valid(event)
        assert_invariants(event)
        assert (event["type"]["code"], event["subtype"][0]["code"]) == (event_type, subtype)
        assert event["outcome"] == "4"
        assert event["outcomeDesc"] == "no bearer token"
        assert event["recorded"] == "2026-12-07T10:00:00.000Z"
        [client] = _agent(event, "110153")
        assert client["who"]["display"] == "anonymous"
        assert client["network"]["address"] == "192.0.2.7"
