"""All configuration in one place: ``CDR_*`` environment variables (and a ``.env`` file).

Nested values use ``__``, e.g. ``CDR_SANDBOX_FAULTS='{"msa": {"latency_ms": 200}}'``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CDR_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path("var"), description="where the SQLite database and files live")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/cdr.sqlite3"
    )

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

    # --- MLLP memory bounds (issue 11.8): bytes received and held before they are handled ---
    mllp_max_pending_bytes: int = Field(
        1_048_576,
        ge=1024,
        description="per MLLP connection: bytes of received frames waiting to be handled "
        "before reading from it pauses",
    )
    mllp_max_pending_bytes_total: int = Field(
        67_108_864,
        ge=65_536,
        description="all MLLP connections together: bytes held (frames waiting and in "
        "progress) before reading pauses",
    )

    # --- Durability of an AA on SQLite (issue 11.11; docs/hl7-interface.md §6) ---
    sqlite_synchronous: Literal["full", "normal"] = Field(
        "full",
        description="full: each HL7 inbox commit is flushed to disk before its AA (survives "
        "a power loss); normal: survives a crash of the gateway, not of the machine",
    )

    @field_validator("regimes_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

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
