"""The client of the overhead benchmark, run in its own process: one request at a time.

``python -m benchmarks.latency_client SPEC.json`` reads what to send, then alternates a `$submit`
to the gateway (timed end to end; the regime's time read from the CERsp's cdr-regime-status
``elapsedMs``) with the same regime request posted straight to the sandbox (timed too), for at
most ``count`` pairs or ``seconds``. It prints the three series as JSON on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import httpx

__all__ = ["regime_ms"]

_WARM_UP = 10


def regime_ms(response: dict[str, Any]) -> float:
    """The slowest regime's elapsedMs: regimes are asked concurrently, so it bounds their time."""
    times = [
        part["valueDecimal"]
        for ext in response.get("extension", [])
        if ext["url"].endswith("/cdr-regime-status")
        for part in ext["extension"]
        if part["url"] == "elapsedMs"
    ]
    if not times:
        raise ValueError("the response carries no cdr-regime-status elapsedMs")
    return float(max(times))


def main(spec_path: str) -> None:
    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    bodies = [body.encode() for body in spec["bodies"]]
    direct = [body.encode() for body in spec["sandbox_bodies"]]
    total_ms: list[float] = []
    regime: list[float] = []
    direct_ms: list[float] = []
    with httpx.Client(timeout=30, trust_env=False) as client:

        def submit(i: int) -> tuple[float, dict[str, Any]]:
            t0 = time.perf_counter()
            response = client.post(
                spec["gateway_url"],
                content=bodies[i % len(bodies)],
                headers={"Content-Type": "application/fhir+json"},
            )
            elapsed = (time.perf_counter() - t0) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"$submit answered {response.status_code}: {response.text}")
            return elapsed, response.json()

        def to_sandbox(i: int) -> float:
            t0 = time.perf_counter()
            response = client.post(
                spec["sandbox_url"],
                content=direct[i % len(direct)],
                headers=spec["sandbox_headers"],
            )
            elapsed = (time.perf_counter() - t0) * 1000
            response.raise_for_status()
            return elapsed

        for i in range(_WARM_UP):
            submit(i)
            to_sandbox(i)
        stop = time.monotonic() + spec["seconds"]
        for i in range(spec["count"]):
            if time.monotonic() > stop:
                break
            elapsed, body = submit(i)
            total_ms.append(elapsed)
            regime.append(regime_ms(body))
            direct_ms.append(to_sandbox(i))
    json.dump({"total_ms": total_ms, "regime_ms": regime, "direct_ms": direct_ms}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
