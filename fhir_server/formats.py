"""Content negotiation for the JSON-only FHIR API (http://hl7.org/fhir/R4/http.html#mime-type)."""

from __future__ import annotations

from fhir_server.errors import FhirRequestError

__all__ = ["FHIR_JSON", "check_content_type", "response_media_type"]

FHIR_JSON = "application/fhir+json"
_JSON_TYPES = {"application/fhir+json", "application/json", "json", "application/json+fhir"}
_ANY = {"*/*", "application/*"}


def _media_types(header: str) -> list[str]:
    return [part.split(";")[0].strip().lower() for part in header.split(",") if part.strip()]


def response_media_type(accept: str | None, format_param: str | None) -> str:
    """The media type to answer with, or 406 when the client accepts no JSON."""
    if format_param is not None:
        wanted = format_param.strip().lower()
        if wanted not in _JSON_TYPES:
            raise FhirRequestError(
                406,
                "not-supported",
                f"_format {format_param!r} is not supported: this server speaks JSON only "
                "(json, application/fhir+json, application/json)",
                location="_format",
            )
        return "application/json" if wanted == "application/json" else FHIR_JSON
    if not accept:
        return FHIR_JSON
    types = _media_types(accept)
    if "application/fhir+json" in types or "application/json+fhir" in types:
        return FHIR_JSON
    if "application/json" in types:
        return "application/json"
    if any(t in _ANY for t in types):
        return FHIR_JSON
    raise FhirRequestError(
        406,
        "not-supported",
        f"cannot answer in {accept!r}: this server speaks application/fhir+json and "
        "application/json only",
        location="Accept",
    )


def check_content_type(content_type: str | None) -> None:
    """415 unless the posted body is declared JSON, in UTF-8: the only encoding of JSON
    (RFC 8259 §8.1) and of FHIR (http://hl7.org/fhir/R4/http.html#mime-type). A body declared
    in another charset would be read wrongly, so it is refused rather than ignored."""
    header = content_type or ""
    media = _media_types(header)
    if not media or media[0] not in _JSON_TYPES:
        raise FhirRequestError(
            415,
            "not-supported",
            f"Content-Type {header or '(none)'!r} is not supported: post "
            "application/fhir+json or application/json",
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
                    f"charset {value.strip()!r} is not supported: FHIR JSON is UTF-8",
                    location="Content-Type",
                )
