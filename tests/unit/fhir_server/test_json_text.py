from __future__ import annotations

import json

import pytest

from fhir_server import json_text

SAMPLES = [
    {"resourceType": "Patient", "name": [{"family": "Lefèvre", "given": ["Zoë"]}], "active": True},
    {"b": 1, "a": {"d": [1.5, -2, None, 'é\u2028\x01"\\/'], "c": "😀"}},
    {"big": 2**63 - 1, "small": -(2**63), "decimal": 12.345678901234567},
]


@pytest.mark.parametrize("value", SAMPLES, ids=["resource", "nested", "numbers"])
@pytest.mark.parametrize("sort_keys", [False, True], ids=["as-is", "sorted"])
def test_the_text_is_the_standard_librarys_compact_form(value, sort_keys):
    expected = json.dumps(value, sort_keys=sort_keys, ensure_ascii=False, separators=(",", ":"))
    assert json_text.dumps(value, sort_keys=sort_keys) == expected.encode()


def test_integers_beyond_64_bits_are_written_as_before():
    value = {"valueInteger": 10**30, "a": 1}
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert json_text.dumps(value, sort_keys=True) == text.encode()
