"""`make bench`: every benchmark, each against its named peer, printing the ratios.

Options: --quick runs tiny counts (a smoke run that the benchmarks still work).
"""

from __future__ import annotations

import argparse
import platform
from datetime import UTC, datetime

from benchmarks.fhir_bench import run_fhir
from benchmarks.harness import sandbox_process
from benchmarks.identifier_bench import run_identifiers
from benchmarks.lookup_bench import run_discovery, run_throughput


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--quick", action="store_true", help="tiny counts, for a smoke run")
    args = parser.parse_args()
    print(f"# CDR Gateway benchmarks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    run_identifiers(seconds=0.1 if args.quick else 1.0)
    with sandbox_process() as sandbox:
        if args.quick:
            run_discovery(sandbox, rounds=3, seq_rounds=1)
            run_throughput(sandbox, concurrency=8, seconds=0.3, rounds=1)
            run_fhir(sandbox, quick=True)
        else:
            run_discovery(sandbox)
            run_throughput(sandbox)
            run_fhir(sandbox)


if __name__ == "__main__":
    main()
