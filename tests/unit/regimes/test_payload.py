"""``regimes.payload`` on its own; the codecs that use it are tested on their fixture files."""

from __future__ import annotations

import pytest

from regimes.payload import decode_json
from regimes.slm import codec as slm
from regimes.special import codec as special
from rights.errors import RegimeRejected


def test_the_json_families_decode_with_the_shared_reader():
    assert slm.decode_json is special.decode_json is decode_json


@pytest.mark.parametrize(
    ("body", "regime"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "mgp"),
        (b'{"beneficiaire": {"nom": "LEROY"', "mgp"),
        ("é".encode("latin-1"), "mgp"),
        (b"", "mgp"),
        (b"<html><body>Service Unavailable</body></html>", "senat"),
        (b'{"trouve": tru', "senat"),
        (b"\xff\xfe", "senat"),
    ],
    ids=[
        "html",
        "truncated",
        "latin-1",
        "empty",
        "html-unavailable",
        "truncated-literal",
        "not-utf-8",
    ],
)
def test_a_body_that_is_not_json_is_rejected(body, regime):
    with pytest.raises(RegimeRejected, match="not JSON") as caught:
        decode_json(body, regime)
    assert caught.value.regime == regime
