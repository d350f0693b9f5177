"""``CDR_HL7_DESTINATION_OPTIONS``: per MLLP destination, the result charset and ZRD; the
existing ``CDR_HL7_DESTINATIONS`` list keeps its form."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from cdr.hl7_options import HL7DestinationOptions
from cdr.settings import Settings


def test_options_are_read_per_destination_beside_the_unchanged_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CDR_HL7_DESTINATIONS", '["127.0.0.1:6661", "127.0.0.1:6662"]')
    monkeypatch.setenv(
        "CDR_HL7_DESTINATION_OPTIONS", '{"127.0.0.1:6662": {"charset": "ASCII", "zrd": false}}'
    )
    settings = Settings()
    assert settings.hl7_destinations == ["127.0.0.1:6661", "127.0.0.1:6662"]
    assert settings.hl7_destination_options == {
        "127.0.0.1:6662": HL7DestinationOptions(charset="ASCII", zrd=False)
    }
    assert HL7DestinationOptions() == HL7DestinationOptions(charset="8859/15", zrd=True)


@pytest.mark.parametrize(
    "value", ['{"h:1": {"charset": "KOI8-R"}}', '{"h:1": {"zrd": true, "colour": "red"}}']
)
def test_an_unknown_charset_or_option_is_refused(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CDR_HL7_DESTINATIONS", '["h:1"]')
    monkeypatch.setenv("CDR_HL7_DESTINATION_OPTIONS", value)
    with pytest.raises(ValidationError, match="hl7_destination_options"):
        Settings()


def test_options_for_a_destination_not_in_the_list_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A typing slip (6662 for 6661) would otherwise leave the real destination on the defaults.
    monkeypatch.setenv("CDR_HL7_DESTINATIONS", '["127.0.0.1:6661"]')
    monkeypatch.setenv("CDR_HL7_DESTINATION_OPTIONS", '{"127.0.0.1:6662": {"charset": "ASCII"}}')
    with pytest.raises(ValidationError, match=r"127\.0\.0\.1:6662 is not in CDR_HL7_DESTINATIONS"):
        Settings()
