"""Versions of a resource as HTTP and FHIR show them: the ETag and Last-Modified of one,
If-None-Match against it, and the ``history`` Bundle of all that are kept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from email.utils import format_datetime
from typing import Any

from fhir_server.store import StoredResource

__all__ = ["etag_matches", "history_bundle", "version_headers"]


def version_headers(stored: StoredResource) -> dict[str, str]:
    return {
        "ETag": f'W/"{stored.version_id}"',
        "Last-Modified": format_datetime(stored.last_updated.astimezone(UTC), usegmt=True),
    }


def etag_matches(if_none_match: str | None, version_id: int) -> bool:
    """RFC 9110 §13.1.2: ``*`` or a list of entity tags, compared weakly (``W/"3"`` and
    ``"3"`` name the same version)."""
    if not if_none_match:
        return False
    wanted = f'"{version_id}"'
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False


def history_bundle(
    base_url: str, resource_type: str, versions: Sequence[StoredResource]
) -> dict[str, Any]:
    """R4 ``history`` Bundle of one resource, newest first: each entry with its request (the
    first version a create, the others updates) and its response (status, ETag, time)."""
    entries = []
    for stored in versions:
        resource_id = stored.resource["id"]
        headers = version_headers(stored)
        entries.append(
            {
                "fullUrl": f"{base_url}/{resource_type}/{resource_id}",
                "resource": stored.resource,
                "request": {
                    "method": "POST" if stored.version_id == 1 else "PUT",
                    "url": resource_type
                    if stored.version_id == 1
                    else f"{resource_type}/{resource_id}",
                },
                "response": {
                    "status": "201" if stored.version_id == 1 else "200",
                    "etag": headers["ETag"],
                    "lastModified": stored.resource["meta"]["lastUpdated"],
                },
            }
        )
    return {"resourceType": "Bundle", "type": "history", "total": len(entries), "entry": entries}
