"""`make bench`: every benchmark, each against its named peer, printing the ratios.

Options: --quick runs tiny counts (a smoke run that the benchmarks still work); --only runs one
section (``--only fhir``: the `$submit` benchmarks alone; ``--only hl7``: HL7 v2 over MLLP;
``--only footprint``: what one validation lookup writes to the store).
"""

from __future__ import annotations

import argparse
import platform
from datetime import UTC, datetime

from benchmarks.fhir_bench import run_fhir
from benchmarks.footprint import run_footprint
from benchmarks.harness import sandbox_process
from benchmarks.hl7_bench import run_hl7
from benchmarks.identifier_bench import run_identifiers
from benchmarks.lookup_bench import run_discovery, run_throughput

SECTIONS = ("identifiers", "lookups", "fhir", "hl7", "footprint")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--quick", action="store_true", help="tiny counts, for a smoke run")
    parser.add_argument("--only", choices=SECTIONS, help="run this section alone")
    args = parser.parse_args()
    wanted = {args.only} if args.only else set(SECTIONS)
    print(f"# CDR Gateway benchmarks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    if "identifiers" in wanted:
        run_identifiers(seconds=0.1 if args.quick else 1.0)
    if "footprint" in wanted:
        run_footprint(quick=args.quick)
    if "hl7" in wanted:
        # The HL7 benchmarks start their own gateways (cdr serve, each with its embedded sandbox).
        run_hl7(quick=args.quick)
    if not wanted & {"lookups", "fhir"}:
        return
    with sandbox_process() as sandbox:
        if "lookups" in wanted:
            if args.quick:
                run_discovery(sandbox, rounds=3, seq_rounds=1)
                run_throughput(sandbox, concurrency=8, seconds=0.3, rounds=1)
            else:
                run_discovery(sandbox)
                run_throughput(sandbox)
        if "fhir" in wanted:
            run_fhir(sandbox, quick=args.quick)


if __name__ == "__main__":
    main()
