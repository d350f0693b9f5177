"""Identifier validation speed, against python-stdnum's ``fr.nir`` as the named peer."""

from __future__ import annotations

import random
import time

from stdnum.fr import nir as stdnum_nir

from benchmarks.harness import show
from rights.identifiers import finess_check_digit, nir_key, parse_finess, parse_nir

__all__ = ["run_identifiers"]


def _nirs(count: int) -> list[str]:
    rng = random.Random(7)
    out = []
    for _ in range(count):
        body = (
            f"{rng.choice('12')}{rng.randrange(100):02d}{rng.randrange(1, 13):02d}"
            f"{rng.choice(['75', '13', '2A', '69', '99'])}{rng.randrange(1000):03d}"
            f"{rng.randrange(1, 1000):03d}"
        )
        out.append(body + nir_key(body))
    return out


def _rate(fn, values: list[str], seconds: float) -> float:  # type: ignore[no-untyped-def]
    done = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for value in values:
            fn(value)
        done += len(values)
    return done / (time.perf_counter() - t0)


def run_identifiers(seconds: float = 1.0) -> None:
    nirs = _nirs(5000)
    rng = random.Random(8)
    finess = [
        first8 + finess_check_digit(first8)
        for first8 in (f"{rng.randrange(1, 96):02d}{rng.randrange(10**6):06d}" for _ in range(5000))
    ]
    ours = _rate(parse_nir, nirs, seconds)
    peer = _rate(stdnum_nir.validate, nirs, seconds)
    ours_finess = _rate(parse_finess, finess, seconds)
    show(
        "Identifier validation (one core)",
        [
            (
                "rights.identifiers.parse_nir",
                f"{ours:,.0f} ops/s (type detection, field and key checks)",
            ),
            ("peer: stdnum.fr.nir.validate", f"{peer:,.0f} ops/s (length, format and key)"),
            ("parse_nir / stdnum", f"{ours / peer:.2f} x"),
            ("rights.identifiers.parse_finess", f"{ours_finess:,.0f} ops/s"),
        ],
    )
