"""RightsResult → HL7 v2: IN1/IN2/IN3 groups per AMO (or AME) period and per complementary C2S/AME
situation, in ADT^Z99, ADT^A31 and RPI^I01, as IHE PAM France 2.11.2 §6.20 codes them; every
sandbox member's message re-parses with our parser, python-hl7 and hl7apy."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from mapping.hl7v2.adt_to_query import Admission
from mapping.hl7v2.er7 import Delimiters, Message
from mapping.hl7v2.pam_fr_check import pam_fr_violations
from mapping.hl7v2.rights_to_in1 import insurance_segments, rights_update_message, rpi_message
from rights.errors import MappingError, MessageError
from rights.identifiers import NIR_TEST_OID
from rights.model import (
    Exoneration,
    MedecinTraitant,
    OuvrantDroit,
    Period,
)
from rights.result import LookupReport, RegimeStatus
from sandbox.members import Member
from tests.unit.mapping.rights_reports import (
    TODAY,
    catalogue,
    failed,
    found,
    member,
    population,
    report_for,
    rights_of,
)

NOW = datetime(2026, 11, 24, 9, 31, tzinfo=UTC)
STAMP = "20261124093100+0000"
_MEMBERS = population().members
# PAM FR 2.11.2 §6.6.1, data types §N.1: the billing NIR, CX-5 SS, never the INS-NIR authority.
_NIR = "^^^ASIP-SANTE-NIR&1.2.250.1.213.1.4.8&ISO^SS"
_AMO = "AMO^Assurance maladie obligatoire^L"
_ASSURE = "00^assuré^L"
_STANDARD = Delimiters()


def _inbound(
    who: Member,
    *,
    trigger: str = "A01",
    zbe: str | None = "ZBE|MVT-1^GAM^1.2.3^ISO|20261124080000||INSERT|N||^^^^^^UF^^^4201",
    d: Delimiters = _STANDARD,
) -> Message:
    """An admission as a GAM writes it, for ``who``."""
    lines = [
        f"MSH|^~\\&|GAM|HOPITAL|CDR|GW|20261124080000||ADT^{trigger}^ADT_A01|MSG-1|P|"
        "2.5^FRA^2.11|||||FRA|8859/1",
        "EVN||20261124080000",
        f"PID|1||{who.nir}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||"
        f"{who.family_name}^{who.given_name}^^^^^L||{who.birth_date.replace('-', '')}|M",
        "PV1|1|I|CARDIO^^^^^^^^^^4201||||||||||||||||V-77^^^HOP&1.2.3&ISO^VN",
    ]
    if zbe is not None:
        lines.append(zbe)
    text = "\r".join(lines) + "\r"
    if d != _STANDARD:
        table = {"|": d.field, "^": d.component, "~": d.repetition, "\\": d.escape}
        table["&"] = d.subcomponent
        text = "".join(table.get(c, c) for c in text)
    return Message.parse(text)


def _admission(report: LookupReport, trigger: str = "A01") -> Admission:
    query = report.query
    return Admission(trigger, "MSG-1", query.nir.value, query, "PID-3", "V-77", "MVT-1")


def _update(
    report: LookupReport,
    who: Member,
    *,
    kind: str = "Z99",
    inbound: Message | None = None,
    final: bool | None = None,
) -> str:
    assert kind in ("Z99", "A31")
    return rights_update_message(
        inbound or _inbound(who),
        _admission(report),
        report,
        kind="Z99" if kind == "Z99" else "A31",
        control_id="OUT-1",
        now=NOW,
        sending_application="CDR",
        sending_facility="GW",
        catalogue=catalogue(),
        final=final,
    )


def _lines(text: str, segment_id: str | None = None) -> list[str]:
    assert text.endswith("\r") and "\n" not in text
    lines = text[:-1].split("\r")
    return [s for s in lines if segment_id is None or s.startswith(segment_id + "|")]


def _in1(report: LookupReport) -> list[str]:
    return insurance_segments(report, Delimiters(), catalogue=catalogue())


def _filled(segment: str) -> dict[int, str]:
    """The non-empty fields of a segment (not MSH) by number."""
    return {n: v for n, v in enumerate(segment.split("|")) if v and n > 0}


def _expected_groups(report: LookupReport) -> int:
    """One base group per AMO period, one complementary group per situation kind in force."""
    day = report.query.date_of_care
    return sum(
        len(r.rights.amo) + len({s.kind for s in r.rights.situations if s.period.covers(day)})
        for r in report.found
        if r.rights is not None
    )


def test_open_rights_make_the_whole_z99_the_gam_expects() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    text = _update(report_for(who), who)
    assert _lines(text) == [
        f"MSH|^~\\&|CDR|GW|GAM|HOPITAL|{STAMP}||ADT^Z99^ADT_A01|OUT-1|P|2.5^FRA^2.11|||||FRA|"
        "8859/15|FR||2.11^IHE_FRANCE-2.11-PAM",
        f"EVN||{STAMP}",
        "PID|1||162047511412341^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||"
        "Lefèvre^Jean-Baptiste^^^^^L||19620417|M",
        "ROL|1|UP|ODRP^Médecin traitant^HL70443|^Ndiaye^Abdoulaye^^^^^^^D|20211124",
        "PV1|1|I|CARDIO^^^^^^^^^^4201||||||||||||||||V-77^^^HOP&1.2.3&ISO^VN",
        "ZBE|MVT-1^GAM^1.2.3^ISO|20261124080000||UPDATE|N|A01|^^^^^^UF^^^4201||C",
        "OBX|1|CE|CDR-RIGHTS^Droits AMO à la date de soins^L||in-force^Droits AMO en vigueur^L"
        f"||||||F|||{STAMP}",
        f"IN1|1|{_AMO}|017510000|CPAM 751||||||||20241124||||Lefèvre^Jean-Baptiste|{_ASSURE}"
        f"||||||||||||||10||||10||||||||||||||162047511412341{_NIR}",
        "IN2",
        "IN3|1",
        "ZRD|complete|Y|20261124|cnam^found|Rights in force with CNAM on 2026-11-24.||MSG-1|F",
    ]


def test_each_amo_period_is_a_group_the_one_in_force_first() -> None:
    segments = _in1(report_for(member("Blanc", "Aurélien")))
    in1 = [s for s in segments if s.startswith("IN1|")]
    periods = [Message.parse("MSH|^~\\&\r" + s).segments[1] for s in in1]
    assert [(p.value(1), p.value(12), p.value(13)) for p in periods] == [
        ("1", "20260508", ""),
        ("2", "20201124", "20221124"),
        ("3", "20231124", "20251124"),
    ]
    assert [s.split("|")[0] for s in segments] == ["IN1", "IN2", "IN3"] * 3
    # PAM FR 2.11.2 §6.20.1: IN3-5 is RE and CDR returns no rate: left empty.
    assert [s for s in segments if s.startswith("IN3")] == ["IN3|1"] * 3


def test_c2s_is_a_cmuc_group_with_contract_89_after_the_amo_group() -> None:
    # PAM FR 2.11.2 §6.20.2: complementary CMUC group after the AMO one, IN1-31 type de contrat
    # 89 (bénéficiaire CMUC en cours); IN1-49 would be the member number there, unknown.
    managed = _in1(report_for(member("Martin", "Manon")))
    assert _filled(managed[0])[2] == _AMO
    assert _filled(managed[3]) == {
        1: "2",
        2: "CMUC^Complémentaire santé solidaire^L",
        3: "99999997",
        4: "C2S gérée par la caisse",
        12: "20260826",
        13: "20270825",
        16: "Martin^Manon",
        17: _ASSURE,
        31: "89",
    }
    assert managed[5] == "IN3|1"
    complementary = _filled(_in1(report_for(member("Perrin", "Océane")))[3])
    assert (complementary[3], complementary[4]) == (
        "88888888",
        "C2S gérée par un organisme complémentaire",
    )


def test_ame_is_an_ame_base_group_and_an_amec_complement() -> None:
    # PAM FR 2.11.2 §6.20.1/§6.20.4: base slot AME with IN1-3 régime+caisse+centre; §6.20.2:
    # complementary AMEC with IN1-31 02 (AME complémentaire). No rate is made up (IN3-5 empty).
    segments = _in1(report_for(member("N'Diaye", "Fatoumata")))
    base = _filled(segments[0])
    assert (base[2], base[3], base[49]) == (
        "AME^Aide médicale de l'État^L",
        "019310000",
        "819312025041720" + _NIR,
    )
    assert _filled(segments[3]) == {
        1: "2",
        2: "AMEC^Aide médicale de l'État complémentaire^L",
        3: "75500017",
        4: "AME",
        12: "20260508",
        13: "20270507",
        16: "N'Diaye^Fatoumata",
        17: _ASSURE,
        31: "02",
    }
    assert segments[2] == segments[5] == "IN3|1"


def test_a_cdri_etm_is_not_an_in1_15_code_it_goes_to_zrd_9() -> None:
    # PAM FR 2.11.2 §6.20.1: IN1-15 is a B2 annexe 9 code (1 character); no reference gives the
    # B2 code of CDRi ETM 8 (mapping.hl7v2.b2_exoneration): IN1-15 stays empty, ZRD-9 keeps it.
    who = member("Thomas", "Monique")
    text = _update(report_for(who), who)
    (in1,) = _lines(text, "IN1")
    assert in1.split("|")[15] == ""
    (zrd,) = _lines(text, "ZRD")
    assert zrd.split("|")[9] == "1^8"
    assert _lines(text, "IN3") == ["IN3|1"]


def test_the_etm_of_a_period_is_the_one_in_force_on_the_date_of_care() -> None:
    who = member("Blanc", "Aurélien")
    rights = dataclasses.replace(
        rights_of(who),
        exonerations=(
            Exoneration("14", Period(date(2021, 1, 1), date(2026, 6, 30))),
            Exoneration("8", Period(date(2026, 7, 1), None)),
            Exoneration("6", Period(date(2022, 3, 1), date(2022, 6, 1))),
        ),
    )
    report = dataclasses.replace(
        report_for(who), results=(found("cnam", rights, who.date_of_care),)
    )
    text = _update(report, who)
    # Open period: 14 and 8 overlap it, 8 holds on the date of care. 2020-2022: 14 and 6 overlap
    # it, neither holds on the date of care, 6 started last. 2023-2025: only 14.
    (zrd,) = _lines(text, "ZRD")
    assert zrd.split("|")[9] == "1^8~2^6~3^14"
    assert all(s.split("|")[15] == "" for s in _lines(text, "IN1"))


def test_declared_accidents_are_listed_in_zrd_10_not_made_groups() -> None:
    # PAM FR 2.11.2 §6.20.1: IN1-31 41 and IN1-36 qualify the cover of a visit for the accident,
    # which only the GAM knows; the declarations go to ZRD-10.
    who = member("Fournier", "Philippe")
    text = _update(report_for(who), who)
    fields = [s.split("|") for s in _lines(text, "IN1")]
    assert [(f[1], f[2], f[3], f[31], f[36]) for f in fields] == [
        ("1", _AMO, "017510000", "10", ""),
    ]
    (zrd,) = _lines(text, "ZRD")
    assert zrd.split("|")[10] == (
        "240751032^017510000^20251020^20260128~250753183^017510000^20261025"
    )


def test_a_child_carries_the_ouvrant_droit_and_qualite_enfant() -> None:
    (in1, _, _) = _in1(report_for(member("Lambert", "Léo")))
    fields = in1.split("|")
    assert fields[16:18] == ["Lambert^Céline", "06^enfant^L"]
    # PAM FR 2.11.2 §6.6.1: the mother's billing NIR, typed SS, not an INS a GAM would file.
    assert fields[49] == "287103306315044" + _NIR


def test_the_alsace_moselle_local_scheme_is_nature_13() -> None:
    (in1, _, _) = _in1(report_for(member("Muller", "Marcel")))
    assert in1.split("|")[31] == "13"
    assert in1.split("|")[4] == "CPAM 671"


def test_a_test_nir_keeps_the_test_authority_for_the_ouvrant_droit() -> None:
    report = report_for(member("Lefèvre", "Jean-Baptiste"), oid=NIR_TEST_OID)
    (in1, _, _) = _in1(report)
    assert in1.split("|")[49] == f"162047511412341^^^&{NIR_TEST_OID}&ISO^SS"


def test_without_a_catalogue_in1_4_names_the_cdr_regime() -> None:
    report = report_for(member("Fournier", "Philippe"))
    fields = [s.split("|") for s in insurance_segments(report, Delimiters()) if "IN1|" in s]
    assert [f[4] for f in fields] == ["CNAM"]


def test_an_unknown_person_has_no_group_and_says_so_in_zrd() -> None:
    who = member("Valéry", "Noé")
    text = _update(report_for(who), who)
    assert _lines(text, "IN1") == [] and _lines(text, "ROL") == []
    assert _lines(text, "ZRD") == [
        "ZRD|complete|N|20261124|cnam^unknown|No regime knows this person.||MSG-1|F"
    ]


def test_a_regime_down_makes_zrd_partial_and_keeps_the_groups_found() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    down = failed("msa", RegimeStatus.UNAVAILABLE, TODAY, "msa: cannot reach the regime service")
    text = _update(report_for(who, extra=(down, found("cnmss", None, TODAY))), who)
    assert len(_lines(text, "IN1")) == 1
    assert _lines(text, "ZRD") == [
        "ZRD|partial|Y|20261124|cnam^found~msa^unavailable~cnmss^unknown|"
        "Rights in force with CNAM on 2026-11-24. "
        "MSA could not answer (unavailable): cannot reach the regime service.||MSG-1|P"
    ]


@pytest.mark.parametrize("kind", ["Z99", "A31"])
def test_a_result_an_update_will_follow_says_preliminary_in_zrd_8(kind: str) -> None:
    # Issue 18 item 5: a receiver must tell "MSA could not be asked, more to come" from the
    # final word; HL7 table 0085 P (preliminary) / F (final).
    who = member("Lefèvre", "Jean-Baptiste")
    down = failed("msa", RegimeStatus.UNAVAILABLE, TODAY, "msa: cannot reach the regime service")
    report = report_for(who, extra=(down,))
    (preliminary,) = _lines(_update(report, who, kind=kind, final=False), "ZRD")
    (final,) = _lines(_update(report, who, kind=kind, final=True), "ZRD")
    (derived,) = _lines(_update(report, who, kind=kind), "ZRD")
    assert preliminary.split("|")[8] == "P"
    # The window ended (or re-lookups are off): final, though MSA is still unknown.
    assert final.split("|")[8] == "F" and final.split("|")[2] == "Y"
    # Not said by the caller: final only when every regime answered.
    assert derived.split("|")[8] == "P"


def test_a_closed_period_is_not_in_force_and_zrd_lists_the_warning() -> None:
    who = member("Robert", "Claude")
    text = _update(report_for(who), who)
    (in1,) = _lines(text, "IN1")
    assert in1.split("|")[12:14] == ["20231124", "20261013"]
    (zrd,) = _lines(text, "ZRD")
    assert zrd.startswith("ZRD|complete|N|20261124|cnam^found|CNAM knows this person: ")
    assert zrd.endswith("|outside-periods^cnam|MSG-1|F")  # ZRD-7: the message answered


def test_a_change_of_regime_puts_the_regime_in_force_first() -> None:
    cnam, msa = member("Mercier", "Yannick", "cnam"), member("Mercier", "Yannick", "msa")
    report = report_for(cnam, extra=(found("msa", msa.rights, cnam.date_of_care),))
    organisations = [s.split("|")[3] for s in _in1(report) if s.startswith("IN1|")]
    assert organisations == ["024710000", "017510000"]


_NASTY = "O'Brien|Smith^Jr&Co~2\\x"


def _nasty_report() -> LookupReport:
    who = member("Lefèvre", "Jean-Baptiste")
    rights = rights_of(who)
    rights = dataclasses.replace(
        rights,
        ouvrant_droit=OuvrantDroit(_NASTY, ("Anne|Marie", "Line^2"), rights.ouvrant_droit.nir),
        medecin_traitant=MedecinTraitant(_NASTY, "Jo&Jo", "751001017", Period(date(2020, 1, 1))),
    )
    return dataclasses.replace(report_for(who), results=(found("cnam", rights, who.date_of_care),))


@pytest.mark.parametrize(
    "d",
    [Delimiters(), Delimiters("#", "$", "*", "@", "%")],
    ids=["standard", "unusual-delimiters"],
)
def test_names_holding_delimiters_are_escaped_and_read_back(d: Delimiters) -> None:
    report = _nasty_report()
    who = member("Lefèvre", "Jean-Baptiste")
    text = _update(report, who, inbound=_inbound(who, d=d))
    assert text.startswith(f"MSH{d.field}{d.encoding_characters}{d.field}CDR")
    parsed = Message.parse(text)
    in1 = parsed.first("IN1")
    assert in1 is not None
    assert in1.value(16, 1) == _NASTY
    assert (in1.value(16, 2), in1.value(16, 3)) == ("Anne|Marie", "Line^2")
    rol = parsed.first("ROL")
    assert rol is not None and (rol.value(4, 2), rol.value(4, 3)) == (_NASTY, "Jo&Jo")
    assert in1.value(49, 4, subcomponent=2) == "1.2.250.1.213.1.4.8"
    assert [s.id for s in parsed.segments].count("IN1") == 1


def test_escape_sequences_use_the_message_escape_character() -> None:
    d = Delimiters("#", "$", "*", "@", "%")
    who = member("Lefèvre", "Jean-Baptiste")
    od = OuvrantDroit("A#B$C*D@E%F|G^H", ("Jo",), rights_of(who).ouvrant_droit.nir)
    rights = dataclasses.replace(rights_of(who), ouvrant_droit=od)
    report = dataclasses.replace(report_for(who), results=(found("cnam", rights, TODAY),))
    (in1, _, _) = insurance_segments(report, d)
    assert "#A@F@B@S@C@R@D@E@E@T@F|G^H$Jo#" in in1


def test_a31_is_an_identity_update_without_movement() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    text = _update(report_for(who), who, kind="A31")
    assert [s.split("|")[0] for s in _lines(text)] == [
        "MSH", "EVN", "PID", "ROL", "PV1", "OBX", "IN1", "IN2", "IN3", "ZRD",
    ]  # fmt: skip
    assert Message.parse(text).msh.field(9) == "ADT^A31^ADT_A05"
    assert _lines(text, "PV1") == ["PV1|1|N"]


def test_a_message_without_a_movement_gets_an_a31_not_an_invented_movement() -> None:
    # PAM FR 2.11.2 §5 (remarque 2): Z99 corrects the movement ZBE-1 names, never inserts one;
    # without an inbound ZBE (A28, a non-PAM A04) the result is the ITI-30 update, A31.
    who = member("Lefèvre", "Jean-Baptiste")
    for trigger in ("A04", "A28"):
        text = _update(report_for(who), who, inbound=_inbound(who, trigger=trigger, zbe=None))
        assert _lines(text, "ZBE") == []
        assert Message.parse(text).msh.field(9) == "ADT^A31^ADT_A05"
        assert _lines(text, "PV1") == ["PV1|1|N"]


def test_z99_updating_a_z99_keeps_its_original_trigger() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    zbe = 'ZBE|MVT-1|20261124080000|""|UPDATE|N|A05|""'
    text = _update(report_for(who), who, inbound=_inbound(who, trigger="Z99", zbe=zbe))
    assert _lines(text, "ZBE") == ["ZBE|MVT-1|20261124080000||UPDATE|N|A05|||C"]


_QUERY = (
    "MSH|^~\\&|ENGINE|HOPITAL|CDR|GW|20261124080000||RQI^I01^RQI_I01|Q-9|T|2.5|||||FRA|"
    "UNICODE UTF-8\rPRD|RP|MARTIN^PAUL\rPID|1||{nir}^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8"
    "&ISO^INS||LEFÈVRE^JEAN-BAPTISTE||19620417\r"
)


def _rpi(report: LookupReport | None, error: MessageError | None = None) -> str:
    who = member("Lefèvre", "Jean-Baptiste")
    return rpi_message(
        Message.parse(_QUERY.format(nir=who.nir)),
        report,
        control_id="R-1",
        now=NOW,
        sending_application="CDR",
        sending_facility="GW",
        error=error,
        catalogue=catalogue(),
    )


def test_rpi_answers_the_query_with_the_groups() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    lines = _lines(_rpi(report_for(who)))
    assert lines[:4] == [
        f"MSH|^~\\&|CDR|GW|ENGINE|HOPITAL|{STAMP}||RPI^I01^RPI_I01|R-1|T|2.5||||||UNICODE UTF-8",
        "MSA|AA|Q-9",
        "PRD|RP|MARTIN^PAUL",
        "PID|1||162047511412341^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||"
        "LEFÈVRE^JEAN-BAPTISTE||19620417",
    ]
    assert [s.split("|")[0] for s in lines[4:]] == ["IN1", "IN2", "IN3", "NTE", "ZRD"]
    assert lines[7] == "NTE|1|L|Rights in force with CNAM on 2026-11-24."


def test_rpi_carries_the_error_when_the_query_is_unusable() -> None:
    error = MappingError(
        "PID-3(2).1: NIR key 99 is wrong, expected 41", code=103, location="PID-3(2).1"
    )
    text = _rpi(None, error)
    lines = _lines(text)
    assert lines[1:3] == [
        "MSA|AE|Q-9",
        "ERR||PID^1^3^2^1|103^Table value not found^HL70357|E||||"
        "PID-3(2).1: NIR key 99 is wrong, expected 41",
    ]
    assert [s.split("|")[0] for s in lines] == ["MSH", "MSA", "ERR", "PRD", "PID", "NTE"]
    assert lines[-1] == "NTE|1|L|No lookup: PID-3(2).1: NIR key 99 is wrong, expected 41"
    assert str(hl7.parse(text).segment("ERR")[2]) == "PID^1^3^2^1"
    parsed = parse_message(text, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT)
    assert [c.name for c in parsed.children] == ["MSH", "MSA", "ERR", "PRD", "PID", "NTE"]


def test_rpi_rejection_and_internal_errors() -> None:
    rejected = _lines(_rpi(None, MessageError("no", code=207, acknowledgment="AR")))
    assert rejected[1:3] == ["MSA|AR|Q-9", "ERR|||207^Application internal error^HL70357|E||||no"]
    with pytest.raises(ValueError, match="report or with an error"):
        _rpi(None)


def _member_id(who: Member) -> str:
    tags = "+".join(t for t in who.scenarios if t != "open") or "plain"
    return f"{who.regime}-{who.family_name}-{who.rang}-{tags}"


@pytest.mark.parametrize("who", _MEMBERS, ids=[_member_id(m) for m in _MEMBERS])
def test_every_member_re_parses_with_three_parsers(who: Member) -> None:
    report = report_for(who)
    groups = _expected_groups(report)
    texts = [_update(report, who), _update(report, who, kind="A31"), _rpi_for(who, report)]
    # PAM FR 2.11.2 rules (mapping.hl7v2.pam_fr_check) hold for every shape of rights.
    assert pam_fr_violations(texts[0]) == pam_fr_violations(texts[1]) == []
    for text in texts:
        ours = Message.parse(text)
        in1 = ours.all("IN1")
        assert [s.value(1) for s in in1] == [str(n) for n in range(1, groups + 1)]
        assert len(ours.all("IN2")) == len(ours.all("IN3")) == groups
        assert len(ours.all("ZRD")) == 1
        theirs = hl7.parse(text)
        assert [str(s[0]) for s in theirs] == [s.id for s in ours.segments]
        other_in1 = [s for s in theirs if str(s[0]) == "IN1"]
        assert [(str(s[3]), str(s[49]) if len(s) > 49 else "") for s in other_in1] == [
            (s.field(3), s.field(49)) for s in in1
        ]
        if not who.note.startswith("Random "):
            # hl7apy takes ~20 ms a message: the scenario members are enough to cover every shape.
            parsed = parse_message(
                text, find_groups=False, validation_level=VALIDATION_LEVEL.TOLERANT
            )
            assert [c.name for c in parsed.children] == [s.id for s in ours.segments]
            in1_apy = [c for c in parsed.children if c.name == "IN1"]
            assert [c.in1_3.to_er7() for c in in1_apy] == [s.field(3) for s in in1]


def _rpi_for(who: Member, report: LookupReport) -> str:
    query = Message.parse(_QUERY.format(nir=who.nir))
    return rpi_message(
        query,
        report,
        control_id="R-1",
        now=NOW,
        sending_application="CDR",
        sending_facility="GW",
        catalogue=catalogue(),
    )
