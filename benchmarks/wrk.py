"""Load from `wrk` in its own process: POST bodies taken in turn, results read from the script.

wrk (C, epoll) costs far less CPU per request than any Python client, which matters on a
machine where the client shares two cores with the servers it measures.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WrkResult", "run_wrk", "write_post_script", "wrk_available"]

_MARK = "WRK_RESULT"

# Lua for wrk 4: one request function cycling through the bodies (each thread its own counter),
# and a done hook printing the figures we need on one line, so that nothing parses wrk's table.
_SCRIPT = """\
local bodies = {{
{bodies}
}}
local n = #bodies
local i = 0
local headers = {{["Content-Type"] = "application/fhir+json"{extra_headers}}}
request = function()
  i = i + 1
  return wrk.format("POST", "{path}", headers, bodies[(i % n) + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("{mark} %d %d %d %d %.1f %.1f\\n", summary.requests, summary.duration,
    e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


@dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    seconds: float
    bad_status: int  # answers outside 2xx/3xx
    socket_errors: int
    p50_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def write_post_script(
    directory: Path,
    path: str,
    bodies: list[str],
    *,
    headers: Mapping[str, str] | None = None,
    name: str = "post.lua",
) -> Path:
    """A Lua script POSTing ``bodies`` in turn to ``path``, with ``headers`` beside the
    Content-Type (an ``Authorization``); written at run time, never kept."""
    for text in [*bodies, *(headers or {}).values()]:
        if "]==]" in text:  # would close the Lua long string early
            raise ValueError("a body or header contains ']==]'")
    extra = "".join(f", [ [==[{k}]==] ] = [==[{v}]==]" for k, v in (headers or {}).items())
    script = directory / name
    script.write_text(
        _SCRIPT.format(
            bodies=",\n".join(f"[==[{body}]==]" for body in bodies),
            path=path,
            mark=_MARK,
            extra_headers=extra,
        ),
        encoding="utf-8",
    )
    return script


def run_wrk(url: str, script: Path, *, connections: int, seconds: int) -> WrkResult:
    """One wrk run of ``seconds`` (one thread: the servers need the cores more than wrk)."""
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, seconds)}s",  # wrk counts whole seconds
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    line = next((x for x in done.stdout.splitlines() if x.startswith(_MARK)), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    requests, duration_us, bad, errors, p50_us, p99_us = line.split()[1:]
    return WrkResult(
        requests=int(requests),
        seconds=int(duration_us) / 1e6,
        bad_status=int(bad),
        socket_errors=int(errors),
        p50_ms=float(p50_us) / 1000,
        p99_ms=float(p99_us) / 1000,
    )
