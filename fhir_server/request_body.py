"""The body of a POSTed resource: size-bounded, JSON or XML, a JSON object."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.types import Receive

from fhir_server.errors import FhirRequestError
from fhir_server.formats import check_content_type
from fhir_server.xml_format import xml_to_resource

__all__ = ["read_json_body"]


async def read_json_body(
    headers: Mapping[str, str], receive: Receive, limit: int
) -> dict[str, Any] | None:
    """The posted resource (in our JSON form when it was posted as XML), or None when the
    client disconnected before the end of its body."""
    xml = check_content_type(headers.get("content-type"))
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FhirRequestError(413, "too-long", f"body of {declared} bytes exceeds {limit} bytes")
    raw = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        raw += message.get("body", b"")
        if len(raw) > limit:
            raise FhirRequestError(413, "too-long", f"body exceeds {limit} bytes")
        if not message.get("more_body", False):
            break
    if xml:
        return xml_to_resource(raw)
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FhirRequestError(
            400, "structure", f"body is not valid JSON: {exc}", location="$"
        ) from None
    if not isinstance(body, dict):
        raise FhirRequestError(400, "structure", "body must be a JSON object (a resource)")
    return body
