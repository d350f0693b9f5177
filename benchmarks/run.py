"""`make bench`: every benchmark, each against its named peer, printing the ratios.

Options: --quick runs tiny counts (a smoke run that the benchmarks still work); --only runs one
section (``--only fhir``: the `$submit` benchmarks alone; ``--only portal``: the staff portal's
result page against the same lookups over FHIR; ``--only hl7``: HL7 v2 over MLLP;
``--only footprint``: what one validation lookup writes to the store).

``--only scale`` (the store at hospital scale, ``benchmarks/scale_bench.py``) is not part of the
default run: measured on the 2-core VM, the fill alone runs at about 800 lookups/s on either
database, so 1,000,000 lookups on both take about 45 minutes before anything is measured, and the
whole section over an hour. ``--scale-sizes 100000,1000000`` and ``--scale-databases
sqlite,postgresql`` choose what it fills (PostgreSQL at ``CDR_BENCH_POSTGRES_URL``, skipped when
no server answers there).
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
from benchmarks.portal_bench import run_portal
from benchmarks.scale_bench import DATABASES, SIZES, run_scale
from benchmarks.security_bench import run_security

SECTIONS = ("identifiers", "lookups", "security", "fhir", "portal", "hl7", "footprint", "scale")
DEFAULT_SECTIONS = ("identifiers", "lookups", "security", "fhir", "portal", "hl7", "footprint")
QUICK_SIZES = (200,)


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of whole numbers: {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError("sizes are whole numbers of lookups, at least 1")
    return sizes


def _databases(text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(","))
    unknown = [n for n in names if n not in DATABASES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown database {', '.join(unknown)}: choose from {', '.join(DATABASES)}"
        )
    return names


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("--quick", action="store_true", help="tiny counts, for a smoke run")
    parser.add_argument("--only", choices=SECTIONS, help="run this section alone")
    parser.add_argument(
        "--scale-sizes",
        type=_sizes,
        help="store at scale: the numbers of lookups to fill, in turn "
        f"(default {','.join(map(str, SIZES))}; with --quick {QUICK_SIZES[0]})",
    )
    parser.add_argument(
        "--scale-databases",
        type=_databases,
        default=DATABASES,
        help=f"store at scale: the databases to fill (default {','.join(DATABASES)})",
    )
    args = parser.parse_args()
    wanted = {args.only} if args.only else set(DEFAULT_SECTIONS)
    print(f"# CDR Gateway benchmarks — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    if "scale" in wanted:
        sizes = args.scale_sizes or (QUICK_SIZES if args.quick else SIZES)
        run_scale(sizes=sizes, databases=args.scale_databases, quick=args.quick)
    elif not args.only:
        print(
            "\nnote: the store-at-scale section is not in the default run (it fills 1,000,000 "
            "lookups per database): python -m benchmarks.run --only scale"
        )
    if "identifiers" in wanted:
        run_identifiers(seconds=0.1 if args.quick else 1.0)
    if "footprint" in wanted:
        run_footprint(quick=args.quick)
    if "hl7" in wanted:
        # The HL7 benchmarks start their own gateways (cdr serve, each with its embedded sandbox).
        run_hl7(quick=args.quick)
    if "security" in wanted:
        # Its own sandboxes (plain and secured) and gateways.
        run_security(quick=args.quick)
    if not wanted & {"lookups", "fhir", "portal"}:
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
        if "portal" in wanted:
            run_portal(sandbox, quick=args.quick)


if __name__ == "__main__":
    main()
