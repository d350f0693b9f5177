"""RightsResult → HL7 v2: IN1/IN2/IN3 groups per AMO period, C2S/AME situation and AT/MP
declaration, in ADT^Z99, ADT^A31 and RPI^I01; every sandbox member's message re-parses with our
parser, python-hl7 and hl7apy."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

import hl7
import pytest
from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from mapping.adt_to_query import Admission
from mapping.er7 import Delimiters, Message
from mapping.rights_to_in1 import insurance_segments, rights_update_message, rpi_message
from regimes.sandbox.members import Member
from rights.errors import MappingError, MessageError
from rights.identifiers import NIR_TEST_OID
from rights.model import (
    Exoneration,
    MedecinTraitant,
    OuvrantDroit,
    Period,
)
from rights.result import LookupReport, RegimeStatus
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
_INS = "^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^NH"
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
    final: bool = True,
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
    return sum(
        len(r.rights.amo) + len(r.rights.situations) + len(r.rights.accidents)
        for r in report.found
        if r.rights is not None
    )


def test_open_rights_make_the_whole_z99_the_gam_expects() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    text = _update(report_for(who), who)
    assert _lines(text) == [
        f"MSH|^~\\&|CDR|GW|GAM|HOPITAL|{STAMP}||ADT^Z99^ADT_A01|OUT-1|P|2.5^FRA^2.11||||||8859/1",
        f"EVN||{STAMP}",
        "PID|1||162047511412341^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO^INS||"
        "Lefèvre^Jean-Baptiste^^^^^L||19620417|M",
        "ROL|1|UP|FHCP^Family Health Care Professional^HL70443|751001017^Ndiaye^Abdoulaye|20211124",
        "PV1|1|I|CARDIO^^^^^^^^^^4201||||||||||||||||V-77^^^HOP&1.2.3&ISO^VN",
        "ZBE|MVT-1^GAM^1.2.3^ISO|20261124080000||UPDATE|N|A01|^^^^^^UF^^^4201||C",
        f"IN1|1|{_AMO}|017510000|CPAM 751||||||||20241124||||Lefèvre^Jean-Baptiste|{_ASSURE}"
        f"||||||||||||||10||||10||||||||||||||162047511412341{_INS}",
        "IN2",
        "IN3|1||||PB^80",
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
    assert [s for s in segments if s.startswith("IN3")] == ["IN3|1||||PB^80"] * 3


def test_c2s_is_a_cmuc_group_with_its_complementary_body() -> None:
    managed = _in1(report_for(member("Martin", "Manon")))
    assert _filled(managed[3]) == {
        1: "2",
        2: "CMUC^Complémentaire santé solidaire^L",
        3: "99999997",
        4: "C2S gérée par la caisse",
        12: "20260826",
        13: "20270825",
        16: "Martin^Manon",
        17: _ASSURE,
        49: "298025935030102" + _INS,
    }
    assert managed[5] == "IN3|1", "C2S adds to the AMO rate, it has none of its own"
    complementary = _filled(_in1(report_for(member("Perrin", "Océane")))[3])
    assert (complementary[3], complementary[4]) == (
        "88888888",
        "C2S gérée par un organisme complémentaire",
    )


def test_ame_is_its_own_group_at_100_percent() -> None:
    segments = _in1(report_for(member("N'Diaye", "Fatoumata")))
    assert _filled(segments[3]) == {
        1: "2",
        2: "AME^Aide médicale de l'État^L",
        3: "75500017",
        4: "AME",
        12: "20260508",
        13: "20270507",
        16: "N'Diaye^Fatoumata",
        17: _ASSURE,
        49: "819312025041720" + _INS,
    }
    assert _filled(segments[0])[3] == "019310000"
    assert segments[5] == "IN3|1||||PB^100"


def test_an_etm_in_force_fills_in1_15_and_raises_the_rate_to_100() -> None:
    segments = _in1(report_for(member("Thomas", "Monique")))
    assert segments[0].split("|")[15] == "8"
    assert segments[2] == "IN3|1||||PB^100"


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
    segments = _in1(report)
    in1 = [s.split("|") for s in segments if s.startswith("IN1|")]
    # Open period: 14 and 8 overlap it, 8 holds on the date of care. 2020-2022: 14 and 6 overlap
    # it, neither holds on the date of care, 6 started last. 2023-2025: only 14.
    assert [(f[12], f[15]) for f in in1] == [
        ("20260508", "8"),
        ("20201124", "6"),
        ("20231124", "14"),
    ]
    rates = [s for s in segments if s.startswith("IN3")]
    assert rates == ["IN3|1||||PB^100"] * 3


def test_each_declared_accident_is_an_atmp_group_with_its_number() -> None:
    segments = _in1(report_for(member("Fournier", "Philippe")))
    fields = [s.split("|") for s in segments if s.startswith("IN1|")]
    assert [(f[1], f[2], f[3], f[12], f[13], f[31], f[36]) for f in fields] == [
        ("1", _AMO, "017510000", "20241124", "", "10", ""),
        ("2", _AMO, "017510000", "20251020", "20260128", "41", "240751032"),
        ("3", _AMO, "017510000", "20261025", "", "41", "250753183"),
    ]
    assert all(len(f) == 50 and f[49] == "174054410920583" + _INS for f in fields)
    assert [s for s in segments if s.startswith("IN3")] == [
        "IN3|1||||PB^80",
        "IN3|1||||PB^100",
        "IN3|1||||PB^100",
    ]


def test_a_child_carries_the_ouvrant_droit_and_qualite_enfant() -> None:
    (in1, _, _) = _in1(report_for(member("Lambert", "Léo")))
    fields = in1.split("|")
    assert fields[16:18] == ["Lambert^Céline", "06^enfant^L"]
    assert fields[49] == "287103306315044" + _INS


def test_the_alsace_moselle_local_scheme_is_nature_13() -> None:
    (in1, _, _) = _in1(report_for(member("Muller", "Marcel")))
    assert in1.split("|")[31] == "13"
    assert in1.split("|")[4] == "CPAM 671"


def test_a_test_nir_keeps_the_test_authority_for_the_ouvrant_droit() -> None:
    report = report_for(member("Lefèvre", "Jean-Baptiste"), oid=NIR_TEST_OID)
    (in1, _, _) = _in1(report)
    assert in1.split("|")[49] == f"162047511412341^^^&{NIR_TEST_OID}&ISO^NH"


def test_without_a_catalogue_in1_4_names_the_cdr_regime() -> None:
    report = report_for(member("Fournier", "Philippe"))
    fields = [s.split("|") for s in insurance_segments(report, Delimiters()) if "IN1|" in s]
    assert [f[4] for f in fields] == ["CNAM", "", ""]


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
        "MSA could not answer (unavailable): cannot reach the regime service.||MSG-1|F"
    ]


@pytest.mark.parametrize("kind", ["Z99", "A31"])
def test_a_result_an_update_will_follow_says_preliminary_in_zrd_8(kind: str) -> None:
    # Issue 18 item 5: a receiver must tell "MSA could not be asked, more to come" from the
    # final word; HL7 table 0085 P (preliminary) / F (final).
    who = member("Lefèvre", "Jean-Baptiste")
    down = failed("msa", RegimeStatus.UNAVAILABLE, TODAY, "msa: cannot reach the regime service")
    report = report_for(who, extra=(down,))
    (preliminary,) = _lines(_update(report, who, kind=kind, final=False), "ZRD")
    (final,) = _lines(_update(report, who, kind=kind), "ZRD")
    assert preliminary.split("|")[8] == "P"
    assert final.split("|")[8] == "F"


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
        "MSH", "EVN", "PID", "ROL", "PV1", "IN1", "IN2", "IN3", "ZRD",
    ]  # fmt: skip
    assert Message.parse(text).msh.field(9) == "ADT^A31^ADT_A05"
    assert _lines(text, "PV1") == ["PV1|1|N"]


def test_z99_without_inbound_zbe_names_the_movement_after_the_visit() -> None:
    who = member("Lefèvre", "Jean-Baptiste")
    text = _update(report_for(who), who, inbound=_inbound(who, trigger="A04", zbe=None))
    assert _lines(text, "ZBE") == [f"ZBE|V-77|{STAMP}||UPDATE|N|A04|||C"]


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
    for text in texts:
        ours = Message.parse(text)
        in1 = ours.all("IN1")
        assert [s.value(1) for s in in1] == [str(n) for n in range(1, groups + 1)]
        assert len(ours.all("IN2")) == len(ours.all("IN3")) == groups
        assert len(ours.all("ZRD")) == 1
        theirs = hl7.parse(text)
        assert [str(s[0]) for s in theirs] == [s.id for s in ours.segments]
        other_in1 = [s for s in theirs if str(s[0]) == "IN1"]
        assert [(str(s[3]), str(s[49])) for s in other_in1] == [
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
