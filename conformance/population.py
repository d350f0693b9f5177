"""Who exists in the system under test: the people the answer cases may ask about.

The ``submit`` cases name beneficiaries of the embedded sandbox. Against another back end, the
tester gives the kit the target's population (``--population FILE``, the JSON of
``cdr sandbox list --json`` or a list of the same shape: objects with at least ``nir`` and
``rang``), and a case whose person is not in it is skipped with that reason rather than failed:
its answer would say nothing about the gateway.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rights.errors import InputError

__all__ = ["Population", "population_from_json"]


@dataclass(frozen=True, slots=True)
class Population:
    people: frozenset[tuple[str, int]]  # (NIR as listed, rang)

    def knows(self, nir: str, rang: int) -> bool:
        return (nir, rang) in self.people


def population_from_json(text: str, *, source: str) -> Population:
    """The population a JSON list describes; ``InputError`` naming ``--population``, the file
    and the first bad item otherwise."""
    try:
        items = json.loads(text)
    except ValueError as exc:
        raise _bad(f"{source} is not JSON: {exc}") from None
    if not isinstance(items, list):
        raise _bad(f"{source} must be a JSON list of people (as `cdr sandbox list --json`)")
    people: set[tuple[str, int]] = set()
    for n, item in enumerate(items):
        if not isinstance(item, dict):
            raise _bad(f"{source}: item {n} is not an object")
        nir, rang = item.get("nir"), item.get("rang", 1)
        if not isinstance(nir, str) or not nir.strip():
            raise _bad(f"{source}: item {n} has no nir")
        if not isinstance(rang, int) or isinstance(rang, bool) or not 1 <= rang <= 9:
            raise _bad(f"{source}: item {n} has rang {rang!r}, expected 1-9")
        people.add(("".join(nir.split()), rang))
    return Population(frozenset(people))


def _bad(message: str) -> InputError:
    return InputError(message, location="--population")
