"""A regime down at admission, then back (issue 18 item 5), over real sockets: the first result
says it is not final, the re-lookup runs in the background, and the updated result, final,
brings the rights of the regime that could not be asked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from cdr.bootstrap import Gateway, build_gateway
from cdr.hl7_runtime import Hl7Runtime
from hl7_listener.relookup_policy import RelookupStatus
from mapping.hl7v2.er7 import Message
from sandbox.server import RunningServer
from tests.conftest import gateway_settings
from tests.e2e.hl7_peers import Receiver, exchange, fixture_bytes, parse_reply

ADMISSION = fixture_bytes("good/adt-a01-ins-nir-latin1.hl7")  # Lefèvre, rights with CNAM
CONTROL_ID = "CPAGE-000184213"


@pytest.fixture
def faults(sandbox: RunningServer) -> Iterator[Callable[..., None]]:
    def set_faults(regime: str, **settings: object) -> None:
        httpx.put(f"{sandbox.url}/admin/faults/{regime}", json=settings).raise_for_status()

    yield set_faults
    httpx.delete(f"{sandbox.url}/admin/faults").raise_for_status()


def clear_faults(sandbox: RunningServer) -> None:
    httpx.delete(f"{sandbox.url}/admin/faults").raise_for_status()


@pytest.fixture
async def system(
    sandbox: RunningServer, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[Hl7Runtime, Receiver, Gateway]]:
    receiver = await Receiver().start()
    settings = gateway_settings(
        sandbox.url,
        tmp_path,
        mllp_port=0,
        hl7_destinations=[f"127.0.0.1:{receiver.port}"],
        hl7_outbound_backoff_s=0.05,
        # Small backoff; the breaker closes again quickly once the regime is back.
        hl7_relookup_window_s=getattr(request, "param", 120.0),
        hl7_relookup_backoff_s=0.05,
        hl7_relookup_backoff_max_s=0.2,
        breaker_reset_s=0.05,
        regime_max_attempts=1,
    )
    gateway = build_gateway(settings)
    runtime = Hl7Runtime(gateway)
    await runtime.start()
    yield runtime, receiver, gateway
    await runtime.stop()
    await receiver.stop()
    await gateway.aclose()


def zrd(message: Message) -> list[str]:
    segment = message.first("ZRD")
    assert segment is not None
    return [segment.field(n) for n in range(1, 9)]


def statuses(message: Message) -> dict[str, str]:
    return dict(r.split("^") for r in zrd(message)[3].split("~"))


async def test_a_regime_down_at_admission_gets_an_updated_final_result_once_it_is_back(
    sandbox, faults, system
) -> None:
    runtime, receiver, gateway = system
    faults("cnam", down=True)
    [ack] = await exchange(runtime.port, [ADMISSION])
    assert parse_reply(ack).first("MSA").value(1) == "AA"
    await receiver.wait_for(1)
    first = receiver.messages[0]
    assert statuses(first)["cnam"] == "unavailable"
    assert zrd(first)[7] == "P"  # preliminary: an update follows
    assert first.all("IN1") == []  # CNAM could not be asked: no rights claimed either way
    (pending,) = runtime.relookups.items()
    assert pending.status is RelookupStatus.PENDING and "cnam" in pending.waiting_for
    assert "cdr_hl7_relookups_pending 1" in gateway.metrics.render().splitlines()

    # Tried again in the background while CNAM is still down: nothing more is sent.
    await receiver.wait_until(lambda: runtime.relookup_loop.outcomes["retry"] >= 2)
    assert len(receiver.messages) == 1

    clear_faults(sandbox)
    await receiver.wait_for(2)
    update = receiver.messages[1]
    assert zrd(update)[7] == "F"
    assert zrd(update)[0] == "complete" and statuses(update)["cnam"] == "found"
    assert zrd(update)[6] == CONTROL_ID  # ZRD-7: the admission it answers, as the first did
    assert update.control_id != first.control_id
    in1 = update.first("IN1")
    assert in1 is not None and in1.value(2) == "AMO"
    await receiver.wait_until(lambda: runtime.relookups.depth().get("pending", 0) == 0)
    (closed,) = runtime.relookups.items()
    assert closed.status is RelookupStatus.FINAL and closed.waiting_for == ()
    metrics = gateway.metrics.render().splitlines()
    assert "cdr_hl7_relookups_pending 0" in metrics
    assert 'cdr_hl7_relookups_total{outcome="final"} 1' in metrics


@pytest.mark.parametrize("system", [0.5], indirect=True)
async def test_when_the_window_ends_a_last_result_is_final_with_the_regime_unknown(
    faults, system
) -> None:
    runtime, receiver, _ = system
    faults("cnam", down=True)
    await exchange(runtime.port, [ADMISSION])
    await receiver.wait_for(2)
    first, last = receiver.messages
    assert zrd(first)[7] == "P"
    assert zrd(last)[7] == "F" and statuses(last)["cnam"] == "unavailable"
    (closed,) = runtime.relookups.items()
    assert closed.status is RelookupStatus.EXPIRED and closed.waiting_for == ()


async def test_a_newer_admission_of_the_patient_supersedes_the_older_re_lookup(
    sandbox, faults, system
) -> None:
    runtime, receiver, _ = system
    faults("cnam", down=True)
    await exchange(runtime.port, [ADMISSION])
    await receiver.wait_for(1)
    newer = ADMISSION.replace(CONTROL_ID.encode(), b"CPAGE-000184299")
    await exchange(runtime.port, [newer])
    await receiver.wait_for(2)
    older_row = next(i for i in runtime.relookups.items() if i.control_id == CONTROL_ID)
    await receiver.wait_until(
        lambda: runtime.relookups.items()[-1].status is RelookupStatus.SUPERSEDED
    )
    clear_faults(sandbox)
    await receiver.wait_until(lambda: runtime.relookups.depth().get("pending", 0) == 0)
    await receiver.wait_for(3)
    assert zrd(receiver.messages[2])[6] == "CPAGE-000184299"
    assert zrd(receiver.messages[2])[7] == "F"
    # Every re-lookup closed, and only the newer admission's update was queued.
    assert len(runtime.outbox.items()) == 3
    assert {i.control_id: i.status for i in runtime.relookups.items()} == {
        CONTROL_ID: RelookupStatus.SUPERSEDED,
        "CPAGE-000184299": RelookupStatus.FINAL,
    }
    assert older_row.inbox_id < runtime.relookups.items()[0].inbox_id
