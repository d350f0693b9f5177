from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from rights.catalogue import default_catalogue
from rights.evaluation import evaluate, query_warnings
from rights.identifiers import nir_key, parse_nir
from rights.model import Exoneration, Period, Situation
from rights.result import InForceReason, RegimeStatus
from tests.unit.rights.fakes import query, rights_for

CNAM = default_catalogue().get("cnam")
DAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("periods", "reason"),
    [
        ((Period(date(2024, 1, 1), None),), InForceReason.IN_FORCE),
        ((Period(date(2024, 1, 1), date(2026, 11, 24)),), InForceReason.IN_FORCE),
        ((Period(date(2024, 1, 1), date(2026, 11, 23)),), InForceReason.EXPIRED),
        ((Period(date(2026, 11, 25), None),), InForceReason.NOT_YET_OPEN),
        (
            (Period(date(2024, 1, 1), date(2025, 1, 1)), Period(date(2027, 1, 1), None)),
            InForceReason.EXPIRED,
        ),
    ],
)
def test_amo_periods_against_the_date_of_care(periods, reason):
    evaluation = evaluate(RegimeStatus.FOUND, rights_for(CNAM, *periods), DAY)
    assert evaluation.reason is reason
    assert evaluation.in_force is (reason is InForceReason.IN_FORCE)
    codes = {w.code for w in evaluation.warnings}
    assert ("outside-periods" in codes) is (reason is not InForceReason.IN_FORCE)


def test_no_amo_period_means_no_rights():
    rights = replace(rights_for(CNAM), amo=())
    assert evaluate(RegimeStatus.FOUND, rights, DAY).reason is InForceReason.NO_RIGHTS


def test_unknown_person_and_unavailable_regime():
    assert evaluate(RegimeStatus.UNKNOWN, None, DAY).reason is InForceReason.UNKNOWN_PERSON
    for status in (RegimeStatus.UNAVAILABLE, RegimeStatus.TIMEOUT):
        assert evaluate(status, None, DAY).reason is InForceReason.REGIME_UNAVAILABLE


def test_a_refusal_is_never_unavailable():
    rejected = RegimeStatus.REJECTED
    assert evaluate(rejected, None, DAY).reason is InForceReason.REQUEST_REJECTED
    refused = evaluate(rejected, None, DAY, refusal=InForceReason.REQUESTER_REFUSED)
    assert refused.reason is InForceReason.REQUESTER_REFUSED
    assert not refused.in_force


def test_c2s_ame_and_etm_are_evaluated_for_the_day():
    rights = replace(
        rights_for(CNAM),
        situations=(
            Situation("1", Period(date(2026, 1, 1), date(2026, 12, 31))),
            Situation("10", Period(date(2025, 1, 1), date(2025, 12, 31))),
        ),
        exonerations=(
            Exoneration("8", Period(date(2020, 1, 1), None)),
            Exoneration("6", Period(date(2025, 1, 1), date(2025, 6, 30))),
        ),
    )
    evaluation = evaluate(RegimeStatus.FOUND, rights, DAY)
    assert evaluation.c2s_in_force
    assert not evaluation.ame_in_force
    assert evaluation.exonerations_in_force == ("8",)
    assert "ame-not-in-force" in {w.code for w in evaluation.warnings}


def test_rights_ending_within_a_month_are_flagged():
    rights = rights_for(CNAM, Period(date(2024, 1, 1), date(2026, 12, 10)))
    assert "ending-soon" in {w.code for w in evaluate(RegimeStatus.FOUND, rights, DAY).warnings}
    renewed = rights_for(
        CNAM, Period(date(2024, 1, 1), date(2026, 12, 10)), Period(date(2026, 12, 11), None)
    )
    assert "ending-soon" not in {
        w.code for w in evaluate(RegimeStatus.FOUND, renewed, DAY).warnings
    }


def test_detenu_warning():
    rights = rights_for(CNAM)
    rights = replace(rights, organisation=replace(rights.organisation, code_gestion="65"))
    assert "detenu" in {w.code for w in evaluate(RegimeStatus.FOUND, rights, DAY).warnings}


def test_query_warnings_for_provisional_numbers_and_lunar_dates():
    body = "7175100012345"
    q = replace(query(), nir=parse_nir(body + nir_key(body)), birth_date="1990-13-01")
    codes = {w.code for w in query_warnings(q)}
    assert codes == {"nir-provisional", "lunar-birth-date"}
    assert query_warnings(query()) == ()
