"""Who may ask the sandbox regimes: the FINESS categories eligible for CDR.

CDR serves health establishments of listed FINESS categories and centres de santé
(``data/structures.toml``). The sandbox knows only a few sample structures, so it refuses what it
can prove ineligible (a malformed FINESS, a known structure of another category) and accepts
the rest. A structure of a closed category is accepted with a warning header.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rights.eligibility import Category, CategoryTable, default_categories, judge_structure
from rights.errors import ConfigError, IdentifierError
from rights.identifiers import parse_finess

__all__ = [
    "REQUESTER_FINESS_HEADER",
    "REQUESTER_RPPS_HEADER",
    "REQUESTER_WARNING_HEADER",
    "Category",
    "EligibilityMiddleware",
    "Structure",
    "StructureTable",
    "Verdict",
    "check_requester",
    "default_structures",
]

REQUESTER_FINESS_HEADER = "X-CDR-Requester-Finess"
REQUESTER_RPPS_HEADER = "X-CDR-Requester-Rpps"
REQUESTER_WARNING_HEADER = "X-CDR-Requester-Warning"

_FINESS_KEY = REQUESTER_FINESS_HEADER.lower().encode("latin-1")


@dataclass(frozen=True, slots=True)
class Structure:
    finess: str
    name: str
    category: Category

    @property
    def eligible(self) -> bool:
        return self.category.eligible


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one requester: refused with a ``reason``, or allowed (maybe ``warning``)."""

    allowed: bool
    reason: str | None = None
    warning: str | None = None
    structure: Structure | None = None


class StructureTable:
    """The sandbox's synthetic FINESS directory (FINESS -> name and category), judged with the
    domain's category table (``rights.eligibility``)."""

    def __init__(
        self,
        version: str,
        categories: CategoryTable,
        structures: Mapping[str, tuple[str, str]],
    ) -> None:
        """``structures`` maps a FINESS to (name, category code)."""
        self.version = version
        self.categories = categories
        self.structures: dict[str, Structure] = {}
        for finess, (name, code) in structures.items():
            try:
                checked = parse_finess(finess).value
            except IdentifierError as exc:
                raise ConfigError(f"sample structure {name!r}: {exc.message}") from exc
            category = categories.get(code)
            if category is None:
                raise ConfigError(f"sample structure {name!r}: unknown category {code}")
            self.structures[checked] = Structure(checked, name, category)

    @classmethod
    def from_toml(cls, text: str, categories: CategoryTable | None = None) -> StructureTable:
        try:
            data = tomllib.loads(text)
            structures = {
                str(s["finess"]): (str(s["name"]), str(s["category"]))
                for s in data.get("structure", ())
            }
            version = str(data["version"])
        except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"sandbox structure table is not valid: {exc}") from exc
        return cls(version, categories or default_categories(), structures)

    def find(self, finess: str) -> Structure | None:
        """The structure of the directory with this (valid) FINESS, if it is one of ours."""
        return self.structures.get(finess)

    def category_of(self, finess: str) -> str | None:
        """The FINESS category the directory gives this structure, if it lists it."""
        listed = self.structures.get(finess)
        return None if listed is None else listed.category.code

    def __iter__(self) -> Iterator[Structure]:
        return iter(self.structures.values())

    @property
    def eligible_codes(self) -> tuple[str, ...]:
        return self.categories.eligible_codes

    def assess(self, finess: str | None) -> Verdict:
        if finess is None or not finess.strip():
            # Unattended flows may not name a structure yet; the real service would see the
            # certificate instead, which the sandbox does not check here.
            return Verdict(allowed=True)
        try:
            value = parse_finess(finess).value
        except IdentifierError as exc:
            return Verdict(allowed=False, reason=f"requester FINESS is not valid: {exc.message}")
        structure = self.structures.get(value)
        if structure is None:
            return Verdict(allowed=True)
        category = structure.category
        judged = judge_structure(value, category.code, self.categories)
        if not judged.eligible:
            reason = f"structure {value} ({structure.name}): {judged.reason}"
            return Verdict(allowed=False, reason=reason, structure=structure)
        warning = None
        if category.closed:
            # Header values are ISO 8859-1: keep the warning in plain ASCII.
            warning = f"FINESS category {category.code} is closed; accepted for now"
        return Verdict(allowed=True, warning=warning, structure=structure)


@functools.cache
def default_structures() -> StructureTable:
    text = resources.files("sandbox").joinpath("data").joinpath("structures.toml")
    return StructureTable.from_toml(text.read_text(encoding="utf-8"))


def check_requester(finess: str | None, *, structures: StructureTable | None = None) -> str | None:
    """None when the requester may ask the regimes, else the reason for the refusal."""
    return (structures or default_structures()).assess(finess).reason


def _is_health(path: str) -> bool:
    return path.endswith("/health") and path.count("/") == 3


class EligibilityMiddleware:
    """Refuses ``/regimes/...`` requests from ineligible requesters with 403 (health excepted)."""

    def __init__(self, app: ASGIApp, structures: StructureTable | None = None) -> None:
        self.app = app
        self.structures = structures or default_structures()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith("/regimes/") or _is_health(path):
            await self.app(scope, receive, send)
            return
        finess = None
        for key, value in scope["headers"]:
            if key == _FINESS_KEY:
                finess = value.decode("latin-1")
                break
        verdict = self.structures.assess(finess)
        if not verdict.allowed:
            body = {"error": verdict.reason, "finess": finess}
            await JSONResponse(body, status_code=403)(scope, receive, send)
            return
        if verdict.warning is None:
            await self.app(scope, receive, send)
            return
        header = (REQUESTER_WARNING_HEADER.lower().encode(), verdict.warning.encode("latin-1"))

        async def send_with_warning(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), header]}
            await send(message)

        await self.app(scope, receive, send_with_warning)
