from __future__ import annotations

import itertools
import json
from datetime import date

import pytest

from rights.catalogue import default_catalogue
from rights.errors import ConfigError
from rights.identifiers import NirKind, parse_accident_number, parse_nir
from rights.model import Qualite, SituationKind
from sandbox.members import SCENARIO_TAGS, STATUS_TAGS, derive_tags, order_tags
from sandbox.population import Population, build_population

TODAY = date(2026, 11, 24)
CATALOGUE = default_catalogue()


@pytest.fixture(scope="module")
def population() -> Population:
    return build_population(CATALOGUE, seed=42, today=TODAY)


def tagged(population: Population, tag: str):
    members = population.with_tag(tag)
    assert members, f"no member tagged {tag}"
    return members


def test_same_seed_and_day_give_identical_json(population):
    again = build_population(CATALOGUE, seed=42, today=TODAY)
    assert json.dumps(again.to_json()) == json.dumps(population.to_json())
    assert again.members == population.members


def test_another_seed_changes_the_random_members_only(population):
    other = build_population(CATALOGUE, seed=43, today=TODAY)
    named = len(build_population(CATALOGUE, seed=0, today=TODAY, per_regime=0).members)
    assert other.members[:named] == population.members[:named]
    assert other.to_json()[named:] != population.to_json()[named:]


def test_size_is_named_members_plus_per_regime_randoms(population):
    named = build_population(CATALOGUE, seed=42, today=TODAY, per_regime=0)
    assert len(population.members) == len(named.members) + 20 * len(CATALOGUE)


@pytest.mark.parametrize("tag", SCENARIO_TAGS, ids=SCENARIO_TAGS)
def test_every_tag_has_a_named_member(tag):
    named = build_population(CATALOGUE, seed=1, today=TODAY, per_regime=0)
    assert named.with_tag(tag)


@pytest.mark.parametrize("code", CATALOGUE.codes, ids=CATALOGUE.codes)
def test_every_regime_has_an_open_member_with_medecin_traitant(population, code):
    assert any(
        m.regime == code and "open" in m.scenarios and "medecin-traitant" in m.scenarios
        for m in population.members
    )


def test_every_number_has_a_valid_key(population):
    for member in population.members:
        assert parse_nir(member.nir).value == member.nir
        if member.rights is not None:
            parse_nir(member.rights.ouvrant_droit.nir)
            assert member.rights.beneficiary.nir is not None
            parse_nir(member.rights.beneficiary.nir)


def test_only_cnam_and_msa_members_carry_atmp(population):
    with_atmp = [m for m in population.members if "atmp" in m.scenarios]
    assert {m.regime for m in with_atmp} == {"cnam", "msa"}
    for member in population.members:
        rights = member.rights
        if rights is None:
            continue
        if not CATALOGUE.get(member.regime).returns_atmp:
            assert rights.accidents == () and rights.default_at_organisation is None
        for accident in rights.accidents:
            parse_accident_number(accident.number)
            assert accident.organisation == rights.organisation.number


@pytest.mark.parametrize("code", ["cnam", "msa"])
def test_cnam_and_msa_each_have_two_keyed_accidents_and_a_default_organisation(population, code):
    rich = [
        m.rights
        for m in population.with_tag("atmp")
        if m.regime == code and m.rights is not None and len(m.rights.accidents) == 2
    ]
    assert rich
    assert rich[0].default_at_organisation == rich[0].organisation.number


def test_organisations_use_the_catalogue_codes(population):
    for member in population.members:
        if member.rights is None:
            continue
        org = member.rights.organisation
        regime = CATALOGUE.get(member.regime)
        assert org.regime_code == regime.grand_regimes[0]
        assert org.cdr_regime == regime.code
        assert len(org.caisse) == 3 and len(org.centre) == 4
        assert org.code_gestion == ("65" if "detenu" in member.scenarios else "10")


def test_tags_agree_with_the_rights(population):
    for member in population.members:
        derived = derive_tags(member.nir, member.rights, member.date_of_care)
        if "deferred-billing" in member.scenarios:
            derived -= set(STATUS_TAGS)
        assert derived <= set(member.scenarios), member.note
        assert member.scenarios == order_tags(member.scenarios)


def test_every_member_is_found_by_what_it_lists(population):
    for member in population.members:
        found = population.find(member.regime, member.nir, member.birth_date, member.rang)
        assert found is member.rights, member.note


def test_json_has_the_fields_the_cli_promises(population):
    rows = population.to_json()
    assert len(rows) == len(population.members)
    required = {"nir", "birth_date", "rang", "regime", "scenarios", "date_of_care"}
    required |= {"family_name", "given_name", "note", "test_data"}
    for row in rows:
        assert required <= set(row)
        assert row["test_data"] is True
        assert set(row["scenarios"]) <= set(SCENARIO_TAGS)
    assert json.loads(json.dumps(rows, ensure_ascii=False)) == rows
    assert {r["regime"] for r in population.to_json("twins")} == {"cnam"}


def test_names_carry_accents_hyphens_and_apostrophes(population):
    names = " ".join(f"{m.family_name} {m.given_name}" for m in population.members)
    assert "é" in names and "-" in names and "'" in names


def test_a_leap_day_builds():
    population = build_population(CATALOGUE, seed=3, today=date(2028, 2, 29))
    assert population.with_tag("open")


# --- the coverage checklist (docs/sandbox.md), one case at a time


def test_corsica_2a_and_2b(population):
    departments = {parse_nir(m.nir).department for m in tagged(population, "corsica")}
    assert {"2A", "2B"} <= departments


def test_born_abroad_uses_99_and_a_country(population):
    member = tagged(population, "born-abroad")[0]
    assert member.nir[5:7] == "99" and member.nir[7:10].isdigit()


def test_pseudo_month(population):
    month = int(tagged(population, "pseudo-month")[0].nir[3:5])
    assert month == 20 or 30 <= month <= 42 or month >= 50


def test_msa_provisional_number_lives_in_msa(population):
    member = tagged(population, "msa-provisional")[0]
    assert member.regime == "msa" and member.nir.startswith("555555")
    assert parse_nir(member.nir).kind is NirKind.MSA_PROVISIONAL


def test_nia_is_shaped_like_a_nir(population):
    assert parse_nir(tagged(population, "nia")[0].nir).kind is NirKind.NIR


def test_ame_under_a_provisional_number_in_cnam(population):
    member = tagged(population, "ame")[0]
    assert member.regime == "cnam" and member.nir[0] in "78"
    assert "provisional" in member.scenarios and member.rights is not None
    (situation,) = member.rights.situations
    assert situation.code == "10" and situation.complementary_id == "75500017"
    assert situation.period.covers(TODAY)


def test_mig_number_in_cnam(population):
    member = tagged(population, "mig")[0]
    assert member.regime == "cnam" and member.nir[0] in "56"


def test_c2s_codes_1_2_and_3(population):
    codes = {
        s.code
        for m in tagged(population, "c2s")
        if m.rights is not None
        for s in m.rights.situations
        if s.kind is SituationKind.C2S
    }
    assert codes == {"1", "2", "3"}


def test_detenu_has_code_gestion_65_and_etm_1(population):
    member = tagged(population, "detenu")[0]
    assert member.rights is not None and member.regime == "cnam"
    assert member.rights.organisation.code_gestion == "65"
    (etm,) = member.rights.exonerations
    assert etm.code == "1" and etm.period.covers(TODAY)


def test_sncf_agent_and_dependant(population):
    contracts = {
        (m.rights.sncf_contract.codes, m.rights.beneficiary.qualite)
        for m in tagged(population, "sncf")
        if m.regime == "cprpf" and m.rights is not None and m.rights.sncf_contract is not None
    }
    assert (("18", "22"), Qualite.ASSURE) in contracts
    assert (("18", "23"), Qualite.CONJOINT) in contracts


def test_etm_ald_maternite_and_mtm_alsace_moselle(population):
    etm = {e.code for m in tagged(population, "etm") if m.rights for e in m.rights.exonerations}
    assert {"8", "6"} <= etm
    mtm = {e.code for m in tagged(population, "mtm") if m.rights for e in m.rights.modulations}
    assert "9" in mtm


def test_closed_and_future_hold_on_the_date_of_care(population):
    for member in tagged(population, "closed"):
        assert member.rights is not None
        assert all(a.period.is_before(member.date_of_care) for a in member.rights.amo)
    for member in tagged(population, "future"):
        assert member.rights is not None
        assert all(a.period.is_after(member.date_of_care) for a in member.rights.amo)


def test_multi_period_has_a_gap(population):
    member = next(m for m in tagged(population, "multi-period") if m.rights is not None)
    assert member.rights is not None
    periods = [a.period for a in member.rights.amo]
    assert len(periods) >= 2
    gaps = [
        (later.start - earlier.end).days
        for earlier, later in itertools.pairwise(periods)
        if earlier.end is not None
    ]
    assert gaps and all(gap > 1 for gap in gaps)


def test_deferred_billing_is_closed_today_but_open_on_its_date_of_care(population):
    member = tagged(population, "deferred-billing")[0]
    assert member.rights is not None and member.date_of_care < TODAY
    periods = [a.period for a in member.rights.amo]
    assert any(p.covers(member.date_of_care) for p in periods)
    assert not any(p.covers(TODAY) for p in periods)
    assert not set(STATUS_TAGS) & set(member.scenarios)


def test_rejected_invoice_is_one_person_in_two_regimes(population):
    members = tagged(population, "rejected-invoice")
    assert len({m.nir for m in members}) == 1 and len({m.regime for m in members}) == 2
    assert sorted(s for m in members for s in m.scenarios if s in STATUS_TAGS) == [
        "closed",
        "open",
    ]


def test_unknown_nir_is_valid_and_known_nowhere(population):
    member = tagged(population, "unknown")[0]
    assert member.rights is None and member.scenarios == ("unknown",)
    parse_nir(member.nir)
    for code in CATALOGUE.codes:
        assert population.find(code, member.nir, None, None) is None
        assert population.find(code, member.nir, member.birth_date, 1) is None


def test_unusual_sex_starts_with_3_or_4(population):
    assert tagged(population, "unusual-sex")[0].nir[0] in "34"


def test_emergency_and_no_card_are_ordinary_open_rights(population):
    for tag in ("emergency", "no-card"):
        assert "open" in tagged(population, tag)[0].scenarios


# --- find(): how the wire routes see the population


def test_twins_share_parent_and_birth_date_and_differ_by_rang(population):
    first, second = sorted(tagged(population, "twins"), key=lambda m: m.rang)
    assert first.nir == second.nir and first.birth_date == second.birth_date
    assert (first.rang, second.rang) == (1, 2)
    one = population.find("cnam", first.nir, first.birth_date, 1)
    two = population.find("cnam", first.nir, first.birth_date, 2)
    assert one is not None and two is not None and one is not two
    assert one.beneficiary.qualite is Qualite.ENFANT
    assert one.ouvrant_droit.nir == first.nir != one.beneficiary.nir
    assert population.find("cnam", first.nir, first.birth_date, None) is one
    assert population.find("cnam", first.nir, first.birth_date, 3) is None
    parent = population.find("cnam", first.nir, None, None)
    assert parent is not None and parent.beneficiary.qualite is Qualite.ASSURE
    assert population.find("cnam", first.nir, None, 2) is parent


def test_a_child_is_found_by_the_parent_nir_or_by_their_own(population):
    child_member = next(m for m in tagged(population, "ayant-droit") if "twins" not in m.scenarios)
    child = population.find(child_member.regime, child_member.nir, child_member.birth_date, 1)
    assert child is not None and child.beneficiary.nir is not None
    assert child.beneficiary.qualite is Qualite.ENFANT
    assert child.ouvrant_droit.nir == child_member.nir
    assert population.find(child_member.regime, child.beneficiary.nir, None, None) is child
    parent = population.find(child_member.regime, child_member.nir, None, None)
    assert parent is not None and parent is not child


def test_a_spouse_is_found_by_her_nir_and_through_the_ouvrant_droit(population):
    spouse = next(
        m
        for m in tagged(population, "sncf")
        if m.rights is not None and m.rights.beneficiary.qualite is Qualite.CONJOINT
    )
    assert spouse.rights is not None
    agent_nir = spouse.rights.ouvrant_droit.nir
    assert population.find("cprpf", spouse.nir, None, None) is spouse.rights
    assert population.find("cprpf", agent_nir, spouse.birth_date, 1) is spouse.rights


def test_find_accepts_13_characters_spaces_and_lower_case(population):
    member = tagged(population, "corsica")[0]
    spaced = " ".join([member.nir[:1], member.nir[1:5], member.nir[5:13].lower()])
    assert population.find(member.regime, spaced, None, None) is member.rights


def test_find_is_per_regime(population):
    member = next(m for m in population.members if m.regime == "senat")
    assert population.find("cnam", member.nir, None, None) is None
    assert population.find("senat", member.nir, "1900-01-01", 1) is None


def test_two_people_with_the_same_identity_in_one_regime_are_refused(population):
    member = tagged(population, "no-card")[0]
    with pytest.raises(ConfigError):
        Population([member, member], seed=0, today=TODAY)
