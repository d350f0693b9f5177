"""Per-regime overrides of the regime endpoint (``CDR_REGIME_ENDPOINTS``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["RegimeEndpointOptions"]


class RegimeEndpointOptions(BaseModel):
    """Where one regime's service is and what the gateway presents to it; each value unset
    takes the default for all regimes (``CDR_REGIMES_URL``, ``CDR_REGIMES_CA_FILE``,
    ``CDR_REGIMES_CLIENT_CERT_FILE``, ``CDR_REGIMES_CLIENT_KEY_FILE``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = None
    ca_file: Path | None = None
    client_cert_file: Path | None = None
    client_key_file: Path | None = None

    @field_validator("url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value
