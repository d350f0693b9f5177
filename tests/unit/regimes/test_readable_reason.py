"""What a regime's error body may say to people: one message field, cleaned and cut, never the
raw body (which reaches the FHIR disposition and the HL7 ZRD)."""

from __future__ import annotations

import json

import pytest

from regimes.http import check_status, readable_reason
from regimes.port import WireReply
from rights.errors import RegimeRejected, RegimeUnavailable, RequesterRefused


def reply(status: int, body: object | bytes) -> WireReply:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WireReply(status, {}, content)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"code": "REQUETE_INVALIDE", "libelle": "NIR absent"}, ": NIR absent"),
        ({"message": "line one\nline\ttwo\x00"}, ": line one line two"),
        ({"erreur": {"nested": "json"}, "code": "E42"}, ": E42"),
        ({"trace": "at com.example.Foo(Foo.java:42)"}, ""),
        (b"<html><body>502 Bad Gateway</body></html>", ""),
        (b'["a", "list"]', ""),
        (b"", ""),
    ],
)
def test_only_a_message_field_is_read(body: object, said: str) -> None:
    assert readable_reason(reply(400, body)) == said


def test_a_long_message_is_cut() -> None:
    said = readable_reason(reply(400, {"message": "x" * 500}))
    assert said == ": " + "x" * 160 + "…"


def test_the_errors_carry_the_reason_not_the_body() -> None:
    raw = {"libelle": "Structure non habilitée", "stack": "secret internals"}
    with pytest.raises(RequesterRefused) as refused:
        check_status(reply(403, raw), "cnam")
    assert refused.value.message == "cnam: request refused, HTTP 403: Structure non habilitée"
    with pytest.raises(RegimeUnavailable) as down:
        check_status(reply(503, b"<html>maintenance</html>"), "msa")
    assert down.value.message == "msa: regime service error HTTP 503"
    with pytest.raises(RegimeRejected) as rejected:
        check_status(reply(422, {"detail": "dateSoins invalide"}), "mgp")
    assert "secret" not in rejected.value.message and rejected.value.message.endswith("invalide")
