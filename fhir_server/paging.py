"""Paging and counting of searches: ``_total``, opaque page positions, the bound on ``_offset``.

FHIR R4 lets the server choose how a searchset is paged (http.html#paging: the ``next`` link is
opaque) and how hard it counts (``_total``, http.html#total). A ``next`` link here carries the
position where its page starts (``_page``: the lastUpdated and id of the last resource of the
page before), so a deep page costs what the first one does, and a resource stored between two
pages neither repeats nor hides one already seen. ``_offset`` stays for older clients, bounded.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import cast

import orjson

from fhir_server.errors import FhirRequestError
from fhir_server.store import PagePosition, TotalMode

__all__ = [
    "DEFAULT_TOTAL",
    "MAX_OFFSET",
    "PAGE_PARAM",
    "decode_position",
    "encode_position",
    "parse_paging",
]

PAGE_PARAM = "_page"
DEFAULT_TOTAL: TotalMode = "estimate"
MAX_OFFSET = 10_000
_TOTALS = ("none", "estimate", "accurate")


def encode_position(position: PagePosition) -> str:
    text = orjson.dumps([position.last_updated.isoformat(), position.resource_id])
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def decode_position(token: str) -> PagePosition:
    """The position a ``next`` link carries; 400 for anything this server did not write."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        last_updated, resource_id = orjson.loads(raw)
        return PagePosition(datetime.fromisoformat(last_updated), str(resource_id))
    except (binascii.Error, orjson.JSONDecodeError, ValueError, TypeError):
        raise FhirRequestError(
            400,
            "invalid",
            f"{PAGE_PARAM} is not a page position of this server: follow the next link as given",
            location=PAGE_PARAM,
        ) from None


def _last(params: Sequence[tuple[str, str]], name: str) -> str | None:
    values = [v for k, v in params if k == name]
    return values[-1] if values else None


def parse_paging(
    params: Sequence[tuple[str, str]], offset: int
) -> tuple[TotalMode, PagePosition | None]:
    """``_total`` and ``_page`` of a search whose ``_offset`` is ``offset``; 400 naming the
    parameter for a ``_total`` not in FHIR's list or an ``_offset`` past ``MAX_OFFSET``."""
    total = _last(params, "_total") or DEFAULT_TOTAL
    if total not in _TOTALS:
        raise FhirRequestError(
            400, "invalid", f"_total must be one of {', '.join(_TOTALS)}", location="_total"
        )
    if offset > MAX_OFFSET:
        raise FhirRequestError(
            400,
            "too-costly",
            f"_offset is at most {MAX_OFFSET}: page further with the next links",
            location="_offset",
        )
    token = _last(params, PAGE_PARAM)
    return cast(TotalMode, total), None if token is None else decode_position(token)
