"""Content negotiation and encoding: FHIR JSON and FHIR XML
(http://hl7.org/fhir/R4/http.html#mime-type).

JSON is the gateway's own form; XML is translated at the edge (``xml_format``), both ways.
"""

from __future__ import annotations

from typing import Any

from fhir_server import json_text
from fhir_server.errors import FhirRequestError
from fhir_server.xml_format import FHIR_XML, resource_to_xml

__all__ = [
    "FHIR_JSON",
    "FHIR_XML",
    "check_content_type",
    "encode_body",
    "response_media_type",
]

FHIR_JSON = "application/fhir+json"
# R4 http.html: the _format values and the MIME types of each format (the DSTU2 spellings
# application/json+fhir and application/xml+fhir are still sent by older clients).
_JSON_TYPES = {"application/fhir+json", "application/json", "json", "application/json+fhir"}
_XML_TYPES = {"application/fhir+xml", "application/xml", "xml", "text/xml", "application/xml+fhir"}
_ANY = {"*/*", "application/*"}
_PLAIN = {"application/json", "application/xml", "text/xml"}  # answered in the type asked for


def _media_types(header: str) -> list[str]:
    """The media types of an Accept header, best first: by q-value, then in the order sent."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        media, *parameters = part.split(";")
        media = media.strip().lower()
        if not media:
            continue
        quality = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, media))
    return [media for _q, _p, media in sorted(ranked)]


def _answer_type(wanted: str) -> str | None:
    if wanted in _PLAIN:
        return wanted
    if wanted in _JSON_TYPES:
        return FHIR_JSON
    if wanted in _XML_TYPES:
        return FHIR_XML
    return None


def response_media_type(accept: str | None, format_param: str | None) -> str:
    """The media type to answer with (``_format`` wins over Accept), or 406."""
    if format_param is not None:
        answer = _answer_type(format_param.strip().lower())
        if answer is None:
            raise FhirRequestError(
                406,
                "not-supported",
                f"_format {format_param!r} is not supported: ask for json or xml "
                "(application/fhir+json, application/json, application/fhir+xml, "
                "application/xml)",
                location="_format",
            )
        return answer
    if not accept:
        return FHIR_JSON
    for media in _media_types(accept):
        if media in _ANY:
            return FHIR_JSON
        answer = _answer_type(media)
        if answer is not None and media not in ("json", "xml"):
            return answer
    raise FhirRequestError(
        406,
        "not-supported",
        f"cannot answer in {accept!r}: this server speaks application/fhir+json, "
        "application/json, application/fhir+xml and application/xml",
        location="Accept",
    )


def encode_body(resource: Any, media_type: str) -> bytes:
    """``resource`` (our JSON form) as the bytes of ``media_type``."""
    if media_type == FHIR_JSON or media_type == "application/json":
        return json_text.dumps(resource)
    return resource_to_xml(resource)


def check_content_type(content_type: str | None) -> bool:
    """Whether the posted body is XML (True) or JSON (False); 415 for any other type and for a
    charset other than UTF-8: the only encoding of JSON (RFC 8259 §8.1) and the one FHIR
    requires of both formats (http://hl7.org/fhir/R4/http.html#mime-type). A body declared in
    another charset would be read wrongly, so it is refused rather than ignored."""
    header = content_type or ""
    media = header.split(",")[0].split(";")[0].strip().lower()
    if media in _JSON_TYPES and media not in ("json",):
        xml = False
    elif media in _XML_TYPES and media not in ("xml",):
        xml = True
    else:
        raise FhirRequestError(
            415,
            "not-supported",
            f"Content-Type {header or '(none)'!r} is not supported: post "
            "application/fhir+json, application/json, application/fhir+xml or application/xml",
            location="Content-Type",
        )
    if "charset" in header.lower():  # the common case, no charset or utf-8, stays cheap
        for parameter in header.split(",")[0].split(";")[1:]:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
                "utf-8",
                "utf8",
            ):
                raise FhirRequestError(
                    415,
                    "not-supported",
                    f"charset {value.strip()!r} is not supported: FHIR is UTF-8",
                    location="Content-Type",
                )
    return xml
