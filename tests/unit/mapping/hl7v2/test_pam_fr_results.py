"""The results of the committed good HL7 fixtures, as a receiving GAM files them: every one
parses with hl7apy's strict v2.5 structure (our Z segment aside) and passes our PAM FR 2.11.2
checker; and each deviation issue 20 names is pinned on the emitted segment, section cited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from mapping.hl7v2.adt_to_query import admission_from_message
from mapping.hl7v2.charset import encode_result
from mapping.hl7v2.er7 import Message
from mapping.hl7v2.pam_fr_check import pam_fr_violations
from mapping.hl7v2.rights_to_in1 import rights_update_message
from rights.evaluation import query_warnings
from rights.model import Requester, RightsQuery
from rights.result import LookupReport, RegimeStatus
from tests.hl7_fixtures import MANIFEST, fixture_bytes
from tests.unit.mapping.rights_reports import CREATED, catalogue, failed, found, population

NOW = datetime(2026, 11, 24, 9, 31, tzinfo=UTC)
_GOOD_ADT = [
    e["file"]
    for e in MANIFEST
    if e["file"].startswith("good/") and e["ack"] == "AA" and e["message_type"] != "RQI^I01"
]


def _report(query: RightsQuery, *, extra: tuple[Any, ...] = ()) -> LookupReport:
    """What the sandbox answers for the fixture's identity (Valéry Noé: nobody)."""
    members = [
        m
        for m in population().members
        if m.nir == query.nir.value and m.rang == query.rang and m.rights is not None
    ]
    results = tuple(found(m.regime, m.rights, query.date_of_care) for m in members[:1])
    results = results or (found("cnam", None, query.date_of_care),)
    return LookupReport(query, results + extra, CREATED, 42.0, query_warnings(query))


def _result(
    name: str, *, kind: str = "Z99", extra: tuple[Any, ...] = (), **options: Any
) -> tuple[Message, str]:
    entry = next(e for e in MANIFEST if e["file"] == name)
    inbound = Message.parse(fixture_bytes(name).decode(entry["charset"]))
    admission = admission_from_message(
        inbound,
        catalogue=catalogue(),
        requester=Requester("750712184"),
        today=NOW.date(),
    )
    text = rights_update_message(
        inbound,
        admission,
        _report(admission.query, extra=extra),
        kind="Z99" if kind == "Z99" else "A31",
        control_id="OUT-1",
        now=NOW,
        sending_application="CDR-GATEWAY",
        sending_facility="CDR",
        catalogue=catalogue(),
        **options,
    )
    return inbound, text


def _segments(text: str, segment_id: str) -> list[str]:
    return [s for s in text.split("\r") if s.startswith(segment_id + "|")]


@pytest.mark.parametrize("kind", ["Z99", "A31"])
@pytest.mark.parametrize("name", _GOOD_ADT)
def test_every_good_fixture_result_is_strict_v25_and_pam_fr(name: str, kind: str) -> None:
    _, text = _result(name, kind=kind)
    assert pam_fr_violations(text) == []
    ours = [s for s in text.split("\r") if s and not s.startswith("Z")]
    # The structure, with every segment as sent, tolerant of the sender's own values in the PID
    # and PV1 we copy (an HL7 null "" in a numeric field, a lunar PID-7, which PAM FR allows).
    whole = parse_message("\r".join(ours), validation_level=VALIDATION_LEVEL.TOLERANT)
    expected = "ADT_A01" if _segments(text, "ZBE") else "ADT_A05"
    assert whole.name == expected
    # Strict v2.5, structure and data types, of every segment we write ourselves.
    copied = {"PID": "PID|1||1^^^X^PI||N^P", "PV1": "PV1|1|N"}
    strict = "\r".join(copied.get(s[:3], s) for s in ours) + "\r"
    parsed = parse_message(strict, validation_level=VALIDATION_LEVEL.STRICT, find_groups=True)
    assert parsed.validate()
    assert parsed.name == expected
    assert [c.name for c in parsed.children][-1].endswith("INSURANCE") or "IN1" not in text


def test_the_checker_catches_what_the_gateway_used_to_send() -> None:
    in1 = [""] * 50
    in1[:4] = ["IN1", "1", "AMO^A^L", "017510000"]
    in1[15], in1[17], in1[31] = "13", "00^a^L", "10"
    in1[49] = "287103306315044^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^NH"
    old = (
        "MSH|^~\\&|CDR|GW|GAM|HOP|20261124||ADT^Z99^ADT_A01|1|P|2.5^FRA^2.11||||||8859/1\r"
        "PID|1||1\rROL|1|UP|FHCP^Family^HL70443|401001326^Rossi^Giulia\rPV1|1|N\r"
        + "|".join(in1)
        + "\rIN1|2|AME^A^L|75500017|||||||||||||||00^a^L\r"
    )
    found_rules = " ".join(pam_fr_violations(old))
    for rule in ("§6.5: MSH-21", "§6.5: MSH-17", "IN1-15 '13'", "CX-5 'NH'", "as an INS"):
        assert rule in found_rules
    for rule in ("§6.8.2", "§N.8: ROL-4 identifier", "IN1-3 '75500017'", "§5: a Z99"):
        assert rule in found_rules


def test_msh_declares_pam_fr_2_11_and_the_charset_written() -> None:
    # PAM FR 2.11.2 §6.5: MSH-12 2.5^FRA^2.11, MSH-17 FRA, MSH-19 FR, MSH-21 the profile;
    # §6.1: 8859/15 by default, and MSH-18 says so even for an ASCII sender.
    inbound, text = _result("good/adt-a01-in1-msa-ascii.hl7")
    assert inbound.msh.field(18) == ""
    msh = text.split("\r")[0].split("|")
    assert msh[11:21] == [
        "2.5^FRA^2.11", "", "", "", "", "FRA", "8859/15", "FR", "", "2.11^IHE_FRANCE-2.11-PAM",
    ]  # fmt: skip


def test_in1_49_is_the_billing_nir_typed_ss_not_an_ins() -> None:
    # PAM FR 2.11.2 §6.6.1 (IN1-49 CX-5 SS, "ne pas confondre le NIR de facturation avec
    # l'INS-NIR"), data types §N.1 (ASIP-SANTE-NIR): the twin's mother is no INS of the child.
    _, text = _result("good/adt-a04-twin-rang1-ipp-in1-49.hl7")
    for in1 in _segments(text, "IN1"):
        if in1.split("|")[2].startswith("AMO"):
            assert in1.split("|")[49].endswith("^^^ASIP-SANTE-NIR&1.2.250.1.213.1.4.8&ISO^SS")


def test_a_provisional_ame_number_is_typed_like_a_billing_nir() -> None:
    _, text = _result("good/adt-a01-ame-provisional-apostrophe-latin1.hl7")
    in1 = [s.split("|") for s in _segments(text, "IN1")]
    # §6.20.1/§6.20.4: the base slot is AME, IN1-3 the caisse's régime+caisse+centre; §6.20.2:
    # AMEC after it with IN1-31 02; §6.6.1: the number billed is typed SS, not INS.
    assert [(f[2].split("^")[0], f[3], f[31]) for f in in1] == [
        ("AME", "019310000", "10"),
        ("AMEC", "75500017", "02"),
    ]
    assert in1[0][49].endswith("^^^ASIP-SANTE-NIR&1.2.250.1.213.1.4.8&ISO^SS")
    assert in1[1][49:] == [] or in1[1][49] == ""


def test_c2s_is_a_cmuc_complement_with_contract_89() -> None:
    # PAM FR 2.11.2 §6.20.2: CMUC after the AMO group, IN1-31 89 "bénéficiaire CMUC en cours".
    _, text = _result("good/adt-a01-in1-cnam-c2s.hl7")
    in1 = [s.split("|") for s in _segments(text, "IN1")]
    payers = [(f[2].split("^")[0], f[31] if len(f) > 31 else "") for f in in1]
    assert payers[0][0] == "AMO" and ("CMUC", "89") in payers[1:]


def test_the_medecin_traitant_is_odrp_with_no_untyped_number() -> None:
    # PAM FR 2.11.2 §6.8.2/§6.8.6: ROL-3 ODRP; data types §N.8: a CDRi n° assurance maladie is
    # no RPPS, ADELI or IDNPS, so XCN-1 stays empty rather than untyped.
    _, text = _result("good/adt-a01-ins-nir-latin1.hl7")
    (rol,) = _segments(text, "ROL")
    fields = rol.split("|")
    assert fields[3] == "ODRP^Médecin traitant^HL70443"
    xcn = fields[4].split("^")
    assert xcn[0] == "" and xcn[1] and xcn[9] == "D"


def test_in1_15_never_carries_a_two_character_cdri_code() -> None:
    # PAM FR 2.11.2 §6.20.1: IN1-15 is 1 character, B2 annexe 9. The détenu's CDRi ETM 1 is
    # kept in ZRD-9, since no reference gives its B2 code (mapping.hl7v2.b2_exoneration).
    _, text = _result("good/adt-a04-escapes-in-name-latin1.hl7")
    (in1,) = _segments(text, "IN1")
    assert in1.split("|")[15] == ""
    (zrd,) = _segments(text, "ZRD")
    assert zrd.split("|")[9] == "1^1"


def test_a_message_without_movement_gets_no_invented_zbe() -> None:
    # PAM FR 2.11.2 §5 remarque 2: Z99 never inserts a movement. An A28 has none: A31 answers.
    _, text = _result("good/adt-a28-ins-nia-utf8.hl7")
    assert _segments(text, "ZBE") == []
    assert text.split("\r")[0].split("|")[8] == "ADT^A31^ADT_A05"
    # A PAM FR A01 with its ZBE: the movement is copied, updated.
    _, text = _result("good/adt-a01-ins-nir-latin1.hl7")
    (zbe,) = _segments(text, "ZBE")
    inbound_zbe = Message.parse(
        fixture_bytes("good/adt-a01-ins-nir-latin1.hl7").decode("latin-1")
    ).first("ZBE")
    assert inbound_zbe is not None
    assert zbe.split("|")[1] == inbound_zbe.field(1) and zbe.split("|")[4] == "UPDATE"


def test_could_not_ask_is_unknown_and_not_final_not_no_rights() -> None:
    # Issue 18.5: a regime down and nobody found is "unknown", preliminary; not "N".
    name = "good/adt-a01-unknown-person-utf8.hl7"
    _, complete = _result(name)
    (obx,) = _segments(complete, "OBX")
    assert obx.split("|")[5].startswith("not-in-force^") and obx.split("|")[11] == "F"
    assert _segments(complete, "ZRD")[0].split("|")[2] == "N"
    down = failed("msa", RegimeStatus.UNAVAILABLE, NOW.date(), "msa: cannot reach the service")
    _, partial = _result(name, extra=(down,))
    (obx,) = _segments(partial, "OBX")
    assert obx.split("|")[5].startswith("unknown^") and obx.split("|")[11] == "P"
    (zrd,) = _segments(partial, "ZRD")
    assert zrd.split("|")[1:3] == ["partial", "U"] and zrd.split("|")[8] == "P"


def test_zrd_is_a_per_destination_choice_and_obx_still_says_the_state() -> None:
    # TF-2 Appendix C: Z segments only where the profile provides for them.
    _, text = _result("good/adt-a01-ins-nir-latin1.hl7", zrd=False)
    assert _segments(text, "ZRD") == []
    (obx,) = _segments(text, "OBX")
    assert obx.split("|")[5].startswith("in-force^")


@pytest.mark.parametrize(
    ("charset", "codec", "written"),
    [
        ("8859/15", "iso8859_15", "Bézier".encode("iso8859_15")),
        ("UNICODE UTF-8", "utf-8", "Bézier".encode()),
        ("ASCII", "ascii", b"B\\XC3A9\\zier"),
    ],
)
def test_names_keep_their_letters_in_every_destination_charset(
    charset: str, codec: str, written: bytes
) -> None:
    # PAM FR 2.11.2 §6.1; HL7 v2.5 §2.7.2 hex escapes where the destination insists on ASCII.
    inbound, text = _result("good/adt-a01-in1-msa-ascii.hl7", charset_field=charset)
    payload = encode_result(text, charset, inbound.delimiters)
    assert "?" not in payload.decode(codec)  # no letter silently replaced
    assert text.split("\r")[0].split("|")[17] == charset
    back = Message.parse(payload.decode(codec))
    (rol,) = back.all("ROL")
    assert written in payload
    assert rol.value(4, 2) == "Bézier"
