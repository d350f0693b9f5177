"""The establishment's clock (issue 18, item 13): calendar days and wall times are those of
``CDR_TIMEZONE``, never the host's."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from cdr.clock import SystemClock
from cdr.settings import Settings

# UTC+14 and UTC-11: 25 hours apart, so their calendar days differ at every instant.
AHEAD, BEHIND = ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Pacific/Pago_Pago")


def test_today_is_the_establishments_day_not_the_hosts():
    assert SystemClock(AHEAD).today() > SystemClock(BEHIND).today()


def test_local_now_carries_the_establishments_offset():
    assert SystemClock(AHEAD).local_now().utcoffset() == timedelta(hours=14)
    assert SystemClock(BEHIND).local_now().utcoffset() == timedelta(hours=-11)
    assert SystemClock(AHEAD).now().utcoffset() == timedelta(0)  # instants stay in UTC


def test_the_default_establishment_is_in_paris():
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.zone == ZoneInfo("Europe/Paris")
    assert SystemClock().zone == ZoneInfo("Europe/Paris")
