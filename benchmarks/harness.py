"""Shared benchmark plumbing: a sandbox in its own process, percentiles, printing."""

from __future__ import annotations

import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

__all__ = ["SandboxProcess", "free_port", "percentile", "sandbox_process", "show", "stop_process"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * pct / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class SandboxProcess:
    url: str
    process: subprocess.Popen[bytes]

    def set_faults(self, regime: str, **settings: object) -> None:
        httpx.put(f"{self.url}/admin/faults/{regime}", json=settings).raise_for_status()

    def reset_faults(self) -> None:
        httpx.delete(f"{self.url}/admin/faults").raise_for_status()


@contextmanager
def sandbox_process(per_regime: int = 20) -> Iterator[SandboxProcess]:
    """`cdr sandbox serve` in a child process, so that it has a core of its own."""
    port = free_port()
    # Plain HTTP, as the gateways under test are told (CDR_REGIMES_URL=http://...).
    env = dict(
        os.environ,
        CDR_SANDBOX_PORT=str(port),
        CDR_SANDBOX_PER_REGIME=str(per_regime),
        CDR_DEMO_SECURITY="off",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "cdr.cli", "sandbox", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the sandbox did not start")
            time.sleep(0.05)
        yield SandboxProcess(url, process)
    finally:
        process.terminate()
        process.wait(timeout=10)


def show(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n## {title}")
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")


def stop_process(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    """SIGINT (Ctrl-C) and wait, SIGKILL if it lingers (or at once with ``kill``)."""
    if process.poll() is None:
        if kill:
            process.kill()
        else:
            process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
