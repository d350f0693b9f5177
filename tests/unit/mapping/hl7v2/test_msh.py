"""The timestamps we write in MSH-7 (HL7 v2.5 DTM): wall time and offset of the moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from mapping.hl7v2.msh import hl7_timestamp


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 1, 5, 9, 4, 3, tzinfo=ZoneInfo("Europe/Paris")), "20260105090403+0100"),
        (datetime(2026, 7, 5, 23, 59, 59, tzinfo=ZoneInfo("Europe/Paris")), "20260705235959+0200"),
        (datetime(2026, 7, 5, 0, 0, 0, 999_999, tzinfo=UTC), "20260705000000+0000"),
        (datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("America/St_Johns")), "20260301120000-0330"),
        (datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("Asia/Kathmandu")), "20260301120000+0545"),
        (datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("Indian/Reunion")), "20260301120000+0400"),
        (datetime(987, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=-10))), "09870301120000-1000"),
        (datetime(2026, 3, 1, 12, 0), "20260301120000"),  # no offset known: none written
    ],
)
def test_the_timestamp_is_the_wall_time_with_its_offset(moment: datetime, expected: str) -> None:
    assert hl7_timestamp(moment) == expected
    if moment.year >= 1000:  # glibc's strftime writes year 987 as "987": a short DTM
        assert hl7_timestamp(moment) == moment.strftime("%Y%m%d%H%M%S%z")  # what it replaced
