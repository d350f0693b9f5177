"""All configuration in one place: ``CDR_*`` environment variables (and a ``.env`` file).

Nested values use ``__``, e.g. ``CDR_SANDBOX_FAULTS='{"msa": {"latency_ms": 200}}'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cdr.hl7_options import HL7DestinationOptions

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDR_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("var"), description="where the SQLite database and files live")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/cdr.sqlite3"
    )

    # DESIGN §9: every listener binds loopback unless `--host ADDR` / `CDR_HOST` says otherwise;
    # CDR_HTTP_HOST and CDR_MLLP_HOST still set one listener each.
    host: str | None = Field(None, description="address the HTTP and MLLP listeners bind")
    http_host: str = "127.0.0.1"
    http_port: int = Field(8080, ge=0, le=65535)
    mllp_host: str = "127.0.0.1"
    mllp_port: int = Field(2575, ge=0, le=65535)
    # Worker processes serving the HTTP API; above 1 the parent only migrates, runs the embedded
    # sandbox and supervises (`cdr serve --workers N`).
    workers: int = Field(1, ge=1, le=64)

    fhir_base_url: str | None = Field(
        None, description="public base URL of the FHIR API; default http://<host>:<port>/fhir"
    )
    fhir_max_body_bytes: int = Field(1_048_576, ge=1024)
    log_format: Literal["json", "text"] = Field(
        "json", description="service logs: JSON lines (with correlation id) or plain text"
    )

    # The regime backend: the embedded sandbox by default, or any base URL speaking our wires.
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = Field(8090, ge=0, le=65535)
    regimes_url: str | None = Field(
        None, description="base URL of the regime services; default the embedded sandbox"
    )
    sandbox_seed: int = 20091
    sandbox_per_regime: int = Field(20, ge=0, le=100_000)
    sandbox_faults: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Who the gateway says it is when no person asks (unattended HL7 / FHIR flows).
    requester_finess: str = "750712184"

    # HL7 v2 over MLLP (docs/hl7-interface.md).
    hl7_application: str = Field("CDR-GATEWAY", description="our MSH-3 in ACKs and results")
    hl7_facility: str = Field("CDR", description="our MSH-4 in ACKs and results")
    hl7_destinations: list[str] = Field(
        default_factory=list,
        description="where lookup results go: host:port of MLLP receivers (JSON list)",
    )
    hl7_result_message: Literal["Z99", "A31"] = Field(
        "Z99", description="ADT^Z99 (IHE PAM France update) or ADT^A31 for the results"
    )
    hl7_other_events: Literal["reject", "accept"] = Field(
        "reject", description="ADT events that trigger no lookup: AR 201, or AA and ignored"
    )
    hl7_lanes: int = Field(32, ge=1, le=1024, description="concurrent lookups from the inbox")
    hl7_processing_process: bool = Field(
        True, description="run the HL7 lookups and deliveries in a process beside the intake"
    )
    mllp_idle_timeout_s: float = Field(300.0, gt=0)
    mllp_max_message_bytes: int = Field(1_048_576, ge=1024)
    mllp_max_connections: int = Field(1000, ge=1)
    hl7_outbound_max_attempts: int = Field(10, ge=1)
    hl7_outbound_backoff_s: float = Field(1.0, ge=0)
    hl7_outbound_backoff_max_s: float = Field(300.0, ge=0)
    hl7_outbound_timeout_s: float = Field(10.0, gt=0)

    regime_timeout_s: float = Field(3.0, gt=0)
    regime_max_attempts: int = Field(3, ge=1, le=10)
    regime_backoff_s: float = Field(0.05, ge=0)
    breaker_failures: int = Field(5, ge=1)
    breaker_reset_s: float = Field(30.0, gt=0)
    cache_ttl_s: float = Field(300.0, ge=0)
    cache_size: int = Field(10_000, ge=0)
    http_pool_size: int = Field(100, ge=1)

    # HL7 results per destination (PAM FR conformance, issue 20): JSON map "host:port" →
    # {"charset": "8859/15" | "UNICODE UTF-8" | "8859/1" | "ASCII", "zrd": true | false}.
    # A destination not listed gets the defaults (8859/15, ZRD sent).
    hl7_destination_options: dict[str, HL7DestinationOptions] = Field(
        default_factory=dict,
        description="per MLLP destination: result charset (MSH-18) and whether ZRD is sent",
    )
    # HL7 re-lookups (issue 18 item 5): an admission whose lookup could not ask a regime is
    # looked up again in the background for this window (0: never), with backoff.
    hl7_relookup_window_s: float = Field(3600.0, ge=0)
    hl7_relookup_backoff_s: float = Field(30.0, gt=0)
    hl7_relookup_backoff_max_s: float = Field(600.0, gt=0)
    # --- HTTP API: what one client may hold (cdr/http_guard.py, docs/decisions/) ---------------
    http_max_header_bytes: int = Field(
        65_536, ge=1024, description="largest request head (line and headers); above: 431"
    )
    http_header_timeout_s: float = Field(
        10.0, gt=0, description="time for a request head to arrive; then 408 and close"
    )
    http_body_timeout_s: float = Field(
        30.0, gt=0, description="time for a request body to arrive after its head; then 408"
    )
    http_max_connections: int = Field(
        1000, ge=1, description="open HTTP connections; above, the longest idle one is closed"
    )

    @field_validator("regimes_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _apply_host(self) -> Settings:
        if self.host:
            for field in ("http_host", "mllp_host"):
                if field not in self.model_fields_set:
                    setattr(self, field, self.host)
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cdr.sqlite3').as_posix()}"

    @property
    def effective_fhir_base_url(self) -> str:
        return (self.fhir_base_url or f"http://{self.http_host}:{self.http_port}/fhir").rstrip("/")

    @property
    def effective_regimes_url(self) -> str:
        return self.regimes_url or f"http://{self.sandbox_host}:{self.sandbox_port}"

    @property
    def uses_embedded_sandbox(self) -> bool:
        return self.regimes_url is None
