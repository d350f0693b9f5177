"""ADT (PAM FR) → rights query: the happy paths, then every fault rule with code and location."""

from __future__ import annotations

from datetime import date

import pytest

from mapping.hl7v2.adt_to_query import SUPPORTED_TRIGGERS, Admission, admission_from_message
from mapping.hl7v2.er7 import Message
from rights.catalogue import default_catalogue
from rights.errors import MappingError
from rights.identifiers import NirKind
from rights.model import Requester

CATALOGUE = default_catalogue()
REQUESTER = Requester("750712184", label="Hôpital test")
TODAY = date(2026, 11, 24)

# Sandbox identities.
LEFEVRE = "162047511412341"  # CNAM, born 1962-04-17
CORSICA = "180082A00405133"  # CNAM, born 1980-08-15
NIA = "290099913441272"  # born 1990-09-09
MSA_PROVISIONAL = "555555210457811"  # MSA, born 1995-04-11
MOTHER = "287103306315044"  # her child was born 2019-03-14
CPRPF = "168046912323017"  # CPRPF, born 1968-04-04

INS_NIR = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.8&ISO"
LOCAL_ID = "123456^^^HOPITAL&1.2.250.1.71.4.2.2&ISO^PI"


def seg(segment_id: str, fields: dict[int, str]) -> str:
    """A segment with the given fields (numbered as in HL7) and empty ones between."""
    last = max(fields, default=0)
    return "|".join([segment_id, *(fields.get(n, "") for n in range(1, last + 1))])


def msh(*, trigger: str = "A01", when: str = "20261124101500") -> str:
    fields = {
        2: "^~\\&",
        3: "GAM",
        4: "HOPITAL",
        5: "CDR",
        6: "GATEWAY",
        7: when,
        9: f"ADT^{trigger}^ADT_A01",
        10: "MSG00001",
        11: "P",
        12: "2.5^FRA^2.11",
        17: "FRA",
        18: "UNICODE UTF-8",
    }
    # MSH-1 is the separator itself: the text after "MSH|" is MSH-2.
    return seg("MSH", {n - 1: value for n, value in fields.items()})


def pid(
    *,
    ids: str = f"{LOCAL_ID}~{LEFEVRE}^^^{INS_NIR}^INS^^20200101",
    name: str = "LEFÈVRE^JEAN-BAPTISTE^^^^^L",
    birth: str = "19620417",
    ssn: str = "",
    rang: str = "",
) -> str:
    return seg("PID", {1: "1", 3: ids, 5: name, 7: birth, 8: "M", 19: ssn, 25: rang, 32: "VALI"})


def pv1(*, admitted: str = "20261120083000", visit: str = "V2026-0042^^^HOPITAL^VN") -> str:
    return seg("PV1", {1: "1", 2: "I", 3: "CARDIO^201^1", 19: visit, 44: admitted})


def zbe(when: str = "20261121101000") -> str:
    return seg("ZBE", {1: "MVT0001^HOPITAL", 2: when, 4: "INSERT", 5: "N"})


def evn(when: str = "20261122090000") -> str:
    return seg("EVN", {2: when})


def in1(
    *, payer: str = "AMO^Assurance maladie obligatoire^L", org: str = "", holder: str = ""
) -> str:
    return seg("IN1", {1: "1", 2: payer, 3: org, 49: holder})


def parse(*segments: str, line_end: str = "\r") -> Message:
    return Message.parse(line_end.join(segments) + line_end)


def read(*segments: str, line_end: str = "\r") -> Admission:
    return admission_from_message(
        parse(*segments, line_end=line_end), catalogue=CATALOGUE, requester=REQUESTER, today=TODAY
    )


def fault(*segments: str) -> MappingError:
    with pytest.raises(MappingError) as err:
        read(*segments)
    return err.value


def a01(**changes: str | None) -> list[str]:
    """A PAM FR A01: MSH EVN PID PV1 ZBE, with segments replaced (or dropped with None)."""
    parts: dict[str, str | None] = {
        "msh": msh(),
        "evn": evn(),
        "pid": pid(),
        "pv1": pv1(),
        "zbe": zbe(),
        "in1": None,
    }
    parts.update(changes)
    return [s for s in parts.values() if s is not None]


# --- The builder itself ------------------------------------------------------------------------


def test_test_messages_are_what_they_say():
    message = parse(*a01(in1=in1(org="017510000")))
    assert message.control_id == "MSG00001"
    assert message.trigger == "A01"
    assert message.all("PV1")[0].value(44) == "20261120083000"
    assert message.all("PID")[0].value(32) == "VALI"
    assert message.all("IN1")[0].value(3) == "017510000"


# --- Happy paths -------------------------------------------------------------------------------


def test_pam_fr_ins_nir():
    admission = read(*a01())
    query = admission.query
    assert admission.trigger == "A01"
    assert admission.control_id == "MSG00001"
    assert admission.patient_key == LEFEVRE
    assert admission.identifier_location == "PID-3(2).1"
    assert admission.visit_number == "V2026-0042"
    assert admission.movement_id == "MVT0001"
    assert query.nir.value == LEFEVRE
    assert not query.nir.is_nia and not query.nir.is_test
    assert query.birth_date == "1962-04-17"
    assert query.rang == 1
    assert query.regime is None and query.is_discovery
    assert query.requester == REQUESTER
    assert (query.family_name, query.given_name) == ("LEFÈVRE", "JEAN-BAPTISTE")
    assert query.date_of_care == date(2026, 11, 20)


@pytest.mark.parametrize(
    ("cx", "nir", "is_nia", "is_test"),
    [
        (f"{NIA}^^^ASIP-SANTE-INS-NIA&1.2.250.1.213.1.4.9&ISO^INS", NIA, True, False),
        (f"{NIA}^^^ASIP-SANTE-INS-NIA^INS", NIA, True, False),  # namespace without OID
        (f"{NIA}^^^&1.2.250.1.213.1.4.9&ISO", NIA, True, False),  # OID without type
        (f"{LEFEVRE}^^^&1.2.250.1.213.1.4.10&ISO^INS", LEFEVRE, False, True),  # test OID
        (f"{LEFEVRE}^^^&1.2.250.1.213.1.4.11&ISO^INS", LEFEVRE, False, True),  # demo OID
        (f"{LEFEVRE}^^^ASIP-SANTE-INS-NIR", LEFEVRE, False, False),  # namespace only
        (f"{LEFEVRE}^^^^INS-NIR", LEFEVRE, False, False),  # type only
        (f"{CORSICA}^^^{INS_NIR}^INS", CORSICA, False, False),
        (f"1 62 04 75 114 123 41^^^{INS_NIR}^INS", LEFEVRE, False, False),  # spaces
    ],
    ids=["nia", "nia-namespace", "nia-oid", "test", "demo", "namespace", "type", "corsica", "sp"],
)
def test_ins_forms(cx, nir, is_nia, is_test):
    admission = read(*a01(pid=pid(ids=f"{LOCAL_ID}~{cx}")))
    assert admission.query.nir.value == nir
    assert (admission.query.nir.is_nia, admission.query.nir.is_test) == (is_nia, is_test)
    assert admission.identifier_location == "PID-3(2).1"


@pytest.mark.parametrize("kind", ["NH", "SS", "NNFRA"])
def test_nss_by_identifier_type(kind):
    admission = read(*a01(pid=pid(ids=f"{CPRPF}^^^CPAM^{kind}~{LOCAL_ID}")))
    assert admission.query.nir.value == CPRPF
    assert admission.identifier_location == "PID-3.1"


def test_ins_is_preferred_to_an_nss_written_before_it():
    ids = f"{LOCAL_ID}~{CPRPF}^^^^NH~{LEFEVRE}^^^{INS_NIR}^INS"
    admission = read(*a01(pid=pid(ids=ids)))
    assert admission.query.nir.value == LEFEVRE
    assert admission.identifier_location == "PID-3(3).1"


def test_pid_19_when_pid_3_has_no_national_identifier():
    admission = read(*a01(pid=pid(ids=LOCAL_ID, ssn=CPRPF, birth="19680404")))
    assert admission.query.nir.value == CPRPF
    assert admission.identifier_location == "PID-19"


def test_in1_49_is_the_query_nir_for_a_child_on_the_mothers_card():
    child = pid(ids=LOCAL_ID, name="MARTIN^LÉA^^^^^L", birth="20190314", rang="1")
    admission = read(*a01(pid=child, in1=in1(org="01 751 0000", holder=f"{MOTHER}^^^{INS_NIR}^NH")))
    assert admission.query.nir.value == MOTHER
    assert admission.patient_key == MOTHER
    assert admission.identifier_location == "IN1-49"
    assert admission.query.birth_date == "2019-03-14"
    assert admission.query.regime == "cnam"
    assert (admission.query.family_name, admission.query.given_name) == ("MARTIN", "LÉA")


def test_in1_49_wins_over_a_valid_pid_3():
    admission = read(*a01(in1=in1(org="017510000", holder=MOTHER)))
    assert admission.query.nir.value == MOTHER
    assert admission.identifier_location == "IN1-49"


def test_first_in1_without_payer_type_is_the_amo_group():
    admission = read(*a01(in1=in1(payer="", org="024710000", holder=MSA_PROVISIONAL)))
    assert admission.query.regime == "msa"
    assert admission.query.nir.kind is NirKind.MSA_PROVISIONAL


def test_the_amo_group_is_found_after_a_complementary_one():
    amc = in1(payer="AMC", org="123456789", holder=CPRPF)
    amo = in1(payer="AMO", org="041100000", holder=CPRPF).replace("IN1|1", "IN1|2")
    admission = read(*a01(pid=pid(ids=LOCAL_ID), in1=f"{amc}\r{amo}"))
    assert admission.query.regime == "cprpf"
    assert admission.identifier_location == "IN1#2-49"


def test_only_complementary_insurance_means_discovery():
    admission = read(*a01(in1=in1(payer="AMC", org="123456789", holder=MOTHER)))
    assert admission.query.regime is None
    assert admission.query.nir.value == LEFEVRE


@pytest.mark.parametrize(
    ("org", "regime"),
    [
        ("017510000", "cnam"),
        ("01 751 0000", "cnam"),
        ("034710000", "cnam"),
        ("024710000", "msa"),
        ("041100000", "cprpf"),
        ("999390603", "camieg"),  # 99 is shared: the centre picks the regime
        ("995930604", "interiale"),
        ("", None),
        ('""', None),
    ],
)
def test_in1_3_routes_the_regime(org, regime):
    assert read(*a01(in1=in1(org=org))).query.regime == regime


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, date(2026, 11, 20)),  # PV1-44
        ({"pv1": pv1(admitted="")}, date(2026, 11, 21)),  # ZBE-2
        ({"pv1": pv1(admitted='""')}, date(2026, 11, 21)),
        ({"pv1": None}, date(2026, 11, 21)),
        ({"pv1": None, "zbe": None}, date(2026, 11, 22)),  # EVN-2
        ({"pv1": None, "zbe": zbe('""')}, date(2026, 11, 22)),
        ({"pv1": None, "zbe": None, "evn": None}, date(2026, 11, 24)),  # MSH-7
        ({"pv1": None, "zbe": None, "evn": evn(""), "msh": msh(when="")}, TODAY),
        ({"pv1": pv1(admitted="202611201030+0100")}, date(2026, 11, 20)),
        ({"pv1": pv1(admitted="20261120")}, date(2026, 11, 20)),
        ({"pv1": pv1(admitted="20261120103015.123")}, date(2026, 11, 20)),
    ],
    ids=[
        "pv1-44",
        "zbe-2",
        "pv1-44-null",
        "no-pv1",
        "evn-2",
        "zbe-2-null",
        "msh-7",
        "today",
        "timezone",
        "date-only",
        "fraction",
    ],
)
def test_date_of_care_precedence(changes, expected):
    assert read(*a01(**changes)).query.date_of_care == expected


def test_hl7_null_counts_as_absent():
    admission = read(
        *a01(
            pid=pid(ids=f'""~{LEFEVRE}^^^{INS_NIR}^INS', name='""', birth='""', rang='""'),
            pv1=pv1(visit='""'),
            in1=in1(org='""', holder='""'),
        )
    )
    query = admission.query
    assert admission.identifier_location == "PID-3(2).1"
    assert (query.birth_date, query.rang, query.regime) == (None, 1, None)
    assert (query.family_name, query.given_name) == (None, None)
    assert admission.visit_number == ""


@pytest.mark.parametrize(
    ("name", "family", "given"),
    [
        ("LEF\\XC8\\VRE^JEAN-BAPTISTE^^^^^L", "LEFÈVRE", "JEAN-BAPTISTE"),  # Latin-1 byte
        ("LEF\\XC388\\VRE^JEAN^^^^^L", "LEFÈVRE", "JEAN"),  # UTF-8 bytes
        ("D'ARC\\T\\MARTIN^JEANNE", "D'ARC&MARTIN", "JEANNE"),
        ("DUPONT\\S\\DURAND^ÉLOÏSE", "DUPONT^DURAND", "ÉLOÏSE"),
    ],
)
def test_names_are_unescaped(name, family, given):
    query = read(*a01(pid=pid(name=name))).query
    assert (query.family_name, query.given_name) == (family, given)


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("MARTIN^ANNE^^^^^D~DURAND^ANNE^^^^^L", "DURAND"),  # legal name preferred
        ("NOM^ANNE^^^^^S~MARTIN^ANNE^^^^^D", "MARTIN"),  # then display
        ("DURAND^ANNE~MARTIN^ANNE^^^^^S", "DURAND"),  # else the first
    ],
)
def test_name_repetition_choice(name, family):
    assert read(*a01(pid=pid(name=name))).query.family_name == family


@pytest.mark.parametrize("line_end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_line_ends(line_end):
    admission = read(*a01(in1=in1(org="017510000")), line_end=line_end)
    assert admission.query.nir.value == LEFEVRE
    assert admission.query.regime == "cnam"
    assert admission.query.date_of_care == date(2026, 11, 20)


@pytest.mark.parametrize(
    ("birth", "expected"),
    [
        ("19620417", "1962-04-17"),
        ("196204170830", "1962-04-17"),
        ("19620417083000+0100", "1962-04-17"),
        ("19620000", "1962-00-00"),  # lunar: kept as given
        ("19620231", "1962-02-31"),
        ("", None),
    ],
)
def test_birth_dates(birth, expected):
    assert read(*a01(pid=pid(birth=birth))).query.birth_date == expected


@pytest.mark.parametrize(("rang", "expected"), [("", 1), ("1", 1), ("2", 2), ("9", 9)])
def test_rang(rang, expected):
    assert read(*a01(pid=pid(rang=rang))).query.rang == expected


@pytest.mark.parametrize("trigger", sorted(SUPPORTED_TRIGGERS))
def test_trigger_is_copied(trigger):
    assert read(*a01(msh=msh(trigger=trigger))).trigger == trigger


def test_no_zbe_no_visit():
    admission = read(*a01(pv1=None, zbe=None))
    assert (admission.visit_number, admission.movement_id) == ("", "")


# --- Faults ------------------------------------------------------------------------------------

BAD_KEY = LEFEVRE[:13] + "42"


@pytest.mark.parametrize(
    ("segments", "code", "location", "words"),
    [
        pytest.param(a01(pid=None), 100, "PID", ["no PID"], id="no-pid"),
        pytest.param(
            a01(pid=pid(ids=LOCAL_ID)), 101, "PID-3", ["no patient identifier"], id="no-nir"
        ),
        pytest.param(
            a01(pid=pid(ids=f"{LOCAL_ID}~{BAD_KEY}^^^{INS_NIR}^INS")),
            103,
            "PID-3(2).1",
            ["key check", "expected key 41", "key 42"],
            id="ins-key",
        ),
        pytest.param(
            a01(pid=pid(ids=f"16204751141^^^{INS_NIR}^INS")),
            103,
            "PID-3.1",
            ["length check", "13 characters"],
            id="ins-length",
        ),
        pytest.param(
            a01(pid=pid(ids=f"9620475114123^^^{INS_NIR}^INS")),
            103,
            "PID-3.1",
            ["format check"],
            id="ins-format",
        ),
        pytest.param(
            a01(pid=pid(ids=f"1621375114123^^^{INS_NIR}^INS")),
            103,
            "PID-3.1",
            ["month check", "13"],
            id="ins-month",
        ),
        pytest.param(
            a01(pid=pid(ids=f"1620400114123^^^{INS_NIR}^INS")),
            103,
            "PID-3.1",
            ["department check", "00"],
            id="ins-department",
        ),
        pytest.param(
            a01(pid=pid(ids=f"{LOCAL_ID}~ABC^^^^NH")),
            103,
            "PID-3(2).1",
            ["length check"],
            id="nss",
        ),
        pytest.param(
            a01(pid=pid(ids=LOCAL_ID, ssn=BAD_KEY)),
            103,
            "PID-19",
            ["key check", "expected key 41"],
            id="pid-19",
        ),
        pytest.param(
            a01(in1=in1(org="017510000", holder=BAD_KEY)),
            103,
            "IN1-49",
            ["key check", "expected key 41"],
            id="in1-49",
        ),
        pytest.param(
            a01(in1=in1(payer="AMC") + "\r" + in1(payer="AMO", holder="12345")),
            103,
            "IN1#2-49",
            ["length check"],
            id="in1-2-49",
        ),
        pytest.param(
            a01(pid=pid(ids=f"{BAD_KEY}^^^{INS_NIR}^INS"), in1=in1(holder=MOTHER)),
            103,
            "PID-3.1",
            ["key check"],
            id="pid-checked-despite-in1-49",
        ),
        pytest.param(a01(pid=pid(birth="1962-04-17")), 102, "PID-7", ["YYYYMMDD"], id="birth-iso"),
        pytest.param(a01(pid=pid(birth="196204")), 102, "PID-7", ["YYYYMMDD"], id="birth-month"),
        pytest.param(a01(pid=pid(birth="1962041")), 102, "PID-7", ["YYYYMMDD"], id="birth-7"),
        pytest.param(a01(pid=pid(birth="17000417")), 102, "PID-7", ["plausible"], id="birth-1700"),
        pytest.param(a01(pid=pid(birth="20990101")), 102, "PID-7", ["future"], id="birth-future"),
        pytest.param(
            a01(pv1=pv1(admitted="00010101")), 102, "PV1-44", ["before 1945"], id="pv1-44-year-1"
        ),
        pytest.param(a01(pid=pid(rang="0")), 102, "PID-25", ["1-9"], id="rang-0"),
        pytest.param(a01(pid=pid(rang="10")), 102, "PID-25", ["1-9"], id="rang-10"),
        pytest.param(a01(pid=pid(rang="A")), 102, "PID-25", ["number"], id="rang-letter"),
        pytest.param(a01(in1=in1(org="75100")), 103, "IN1-3", ["9 digits"], id="org-short"),
        pytest.param(a01(in1=in1(org="01751000A")), 103, "IN1-3", ["9 digits"], id="org-alpha"),
        pytest.param(
            a01(in1=in1(org="097510000")), 103, "IN1-3", ["no CDR regime", "09"], id="org-09"
        ),
        pytest.param(
            a01(in1=in1(org="997510999")),
            103,
            "IN1-3",
            ["no CDR regime", "0999"],
            id="org-99-centre",
        ),
        pytest.param(
            a01(in1=in1(payer="AMC") + "\r" + in1(payer="AMO", org="0175")),
            103,
            "IN1#2-3",
            ["9 digits"],
            id="org-in1-2",
        ),
        pytest.param(a01(pv1=pv1(admitted="20261332")), 102, "PV1-44", ["calendar"], id="pv1-44"),
        pytest.param(a01(pv1=None, zbe=zbe("2026-11-21")), 102, "ZBE-2", ["YYYYMMDD"], id="zbe-2"),
        pytest.param(
            a01(pv1=None, zbe=None, evn=evn("2026")), 102, "EVN-2", ["YYYYMMDD"], id="evn-2"
        ),
        pytest.param(
            a01(pv1=None, zbe=None, evn=None, msh=msh(when="yesterday")),
            102,
            "MSH-7",
            ["YYYYMMDD"],
            id="msh-7",
        ),
    ],
)
def test_faults(segments, code, location, words):
    error = fault(*segments)
    assert (error.code, error.location, error.acknowledgment) == (code, location, "AE")
    for word in words:
        assert word in error.message
    assert location in error.message


@pytest.mark.parametrize(
    ("segments", "location"),
    [
        (a01(pid=pid(ids=LOCAL_ID, birth="bad"), in1=in1(holder="123")), "IN1-49"),
        (a01(pid=pid(birth="bad", rang="0"), in1=in1(org="1")), "PID-7"),
        (a01(pid=pid(rang="0"), in1=in1(org="1"), pv1=pv1(admitted="x")), "PID-25"),
        (a01(in1=in1(org="1"), pv1=pv1(admitted="x")), "IN1-3"),
        (a01(pv1=pv1(admitted="x"), msh=msh(when="y")), "PV1-44"),
    ],
    ids=["identity-first", "birth-before-rang", "rang-before-regime", "regime-before-date", "pv1"],
)
def test_first_fault_in_rule_order(segments, location):
    assert fault(*segments).location == location


def test_a_malformed_unused_date_is_not_a_fault():
    # PV1-44 gives the date of care: ZBE-2, EVN-2 and MSH-7 are not read.
    admission = read(*a01(zbe=zbe("bad"), evn=evn("bad"), msh=msh(when="bad")))
    assert admission.query.date_of_care == date(2026, 11, 20)
