"""``/metrics`` takes no token: with the API behind tokens, it is served to loopback clients
only (issue 14, item 3: nothing unauthenticated beyond loopback without CDR_ALLOW_OPEN=1)."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_server.auth import LoopbackOnly
from rights.caller import Caller, Entry


async def _call(
    path: str, client: tuple[str, int] | None, audited: list[tuple[Any, ...]] | None = None
) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"served"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def audit(caller: Caller, reason: str, **where: Any) -> None:
        if audited is not None:
            audited.append((caller, reason, where))

    guarded = LoopbackOnly(app, paths=["/metrics"], audit=audit)
    scope = {"type": "http", "method": "GET", "path": path, "client": client}
    await guarded(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
async def test_a_loopback_client_is_served(host: str) -> None:
    audited: list[tuple[Any, ...]] = []
    assert await _call("/metrics", (host, 40000), audited) == (200, b"served")
    assert audited == []


@pytest.mark.parametrize("client", [("10.1.2.3", 40000), ("::ffff:10.0.0.1", 1), ("x", 1), None])
async def test_anyone_else_is_refused_with_the_reason(client, caplog) -> None:
    audited: list[tuple[Any, ...]] = []
    status, body = await _call("/metrics", client, audited)
    assert status == 403
    assert b"loopback clients only" in body and b"CDR_ALLOW_OPEN=1" in body
    assert any("/metrics refused" in r.getMessage() for r in caplog.records)
    # The refusal is in the audit trail, with the address it came from.
    [(caller, reason, where)] = audited
    assert caller == Caller(Entry.FHIR, "", client[0] if client else None)
    assert "loopback clients only" in reason
    assert where == {"interaction": "read", "target": "GET /metrics"}


async def test_other_paths_are_left_to_the_rest_of_the_stack() -> None:
    assert await _call("/fhir/Coverage", ("10.1.2.3", 40000)) == (200, b"served")
