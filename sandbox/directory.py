"""The port between the sandbox's wire routes and its synthetic population."""

from __future__ import annotations

from typing import Protocol

from rights.model import RegimeRights

__all__ = ["Directory"]


class Directory(Protocol):
    """Finds a beneficiary in one regime of the sandbox population.

    ``nir`` is 13 or 15 characters and matches either the beneficiary's own NIR or the NIR of
    the ouvrant droit. When several beneficiaries share an ouvrant-droit NIR (spouse, children,
    twins), ``birth_date`` (YYYY-MM-DD) and ``rang`` pick one; without them the ouvrant droit
    himself is returned. None means the regime does not know the person.
    """

    def find(
        self, regime: str, nir: str, birth_date: str | None, rang: int | None
    ) -> RegimeRights | None: ...
