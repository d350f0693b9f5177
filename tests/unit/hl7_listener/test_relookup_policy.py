"""When a re-lookup is tried, and what its outcome means (issue 18 item 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hl7_listener.relookup_policy import RelookupPolicy, RelookupStatus, not_asked, settled_status
from rights.result import RegimeStatus
from tests.unit.mapping.rights_reports import TODAY, failed, member, report_for

T0 = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
POLICY = RelookupPolicy(window_s=3600, backoff_s=30, backoff_max_s=600)


def test_the_window_runs_from_the_first_result() -> None:
    assert POLICY.deadline(T0) == T0 + timedelta(hours=1)


@pytest.mark.parametrize(
    ("attempts", "delay_s"),
    [(0, 30), (1, 60), (2, 120), (3, 240), (4, 480), (5, 600), (6, 600), (500, 600)],
)
def test_tries_back_off_exponentially_up_to_the_cap(attempts: int, delay_s: float) -> None:
    deadline = T0 + timedelta(days=1)
    at = POLICY.next_attempt(attempts=attempts, now=T0, deadline=deadline)
    assert at == T0 + timedelta(seconds=delay_s)


def test_the_last_try_is_made_when_the_window_ends_not_after() -> None:
    deadline = T0 + timedelta(seconds=100)
    assert POLICY.next_attempt(attempts=3, now=T0, deadline=deadline) == deadline
    assert not POLICY.is_last_try(now=deadline - timedelta(microseconds=1), deadline=deadline)
    assert POLICY.is_last_try(now=deadline, deadline=deadline)


def test_only_regimes_that_could_not_be_asked_are_asked_again() -> None:
    # Down or silent: could not ask. Refused or "unknown person": the regime answered.
    who = member("Lefèvre", "Jean-Baptiste")
    report = report_for(
        who,
        extra=(
            failed("msa", RegimeStatus.UNAVAILABLE, TODAY, "msa: down"),
            failed("cnmss", RegimeStatus.TIMEOUT, TODAY, "cnmss: no answer"),
            failed("camieg", RegimeStatus.REJECTED, TODAY, "camieg: not eligible"),
        ),
    )
    assert not_asked(report) == ("msa", "cnmss")
    assert not_asked(report_for(member("Valéry", "Noé"))) == ()  # unknown person: answered


def test_a_final_re_lookup_closes_final_when_every_regime_answered_else_expired() -> None:
    assert settled_status(()) is RelookupStatus.FINAL
    assert settled_status(("msa",)) is RelookupStatus.EXPIRED
