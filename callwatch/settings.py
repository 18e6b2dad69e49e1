"""Typed settings, read once from the environment (prefix CALLWATCH_) or a .env file.

Every knob the worker and the tools read is declared here; docker-compose.yml and
the README list the same names, and a test keeps them in step.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CALLWATCH_", env_file=".env", extra="ignore", frozen=True
    )

    # --- Kafka
    kafka_bootstrap: str = Field("127.0.0.1:19092", description="host:port[,host:port]")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    topic_prefix: str = Field("callwatch", pattern=r"^[A-Za-z0-9._-]+$")
    topic_partitions: int = Field(4, ge=1, le=256)
    # Replication of every topic the worker creates, Faust's changelogs included. The
    # defaults suit one local broker; production runs three: 3 and 2 (see the README).
    topic_replication_factor: int = Field(1, ge=1, le=7)
    topic_min_insync_replicas: int = Field(1, ge=1, le=7)
    app_id: str = Field("callwatch", pattern=r"^[A-Za-z0-9._-]+$")
    data_dir: Path = Path(".demo/worker")

    # --- Elasticsearch
    es_url: str = "http://127.0.0.1:19200"
    es_api_key: SecretStr | None = None
    es_username: str | None = None
    es_password: SecretStr | None = None
    es_ca_certs: Path | None = None
    index_prefix: str = Field("callwatch", pattern=r"^[a-z0-9._-]+$")
    bulk_max_docs: int = Field(1000, ge=1, le=50_000)
    bulk_max_seconds: float = Field(0.5, gt=0, le=60)

    # --- Ingest
    max_event_bytes: int = Field(64 * 1024, ge=1024, le=10 * 1024 * 1024)

    # --- Engine
    policy_file: Path | None = None  # None: the shipped Louisville default
    registry_file: Path | None = None  # None: the shipped agency registry
    clock: Literal["event", "wall"] = "event"
    # event clock: how long to wait for stragglers before judging a deadline
    lateness_seconds: float = Field(30, ge=0, le=3600)
    redaction_file: Path | None = None  # None: the shipped redaction policy

    # --- HTTP (metrics)
    web_host: str = "127.0.0.1"
    web_port: int = Field(6066, ge=1, le=65535)
    # how often the consumer lag per stage is measured from Kafka's committed offsets
    lag_interval_seconds: float = Field(5, gt=0, le=300)

    # --- Alerts (see callwatch/alerting/config.py and deploy/alerts.example.yaml)
    alerts_file: Path | None = None  # None: alerts go to the log channel only
    # Acknowledgement endpoint, served only when a tokens file ("name:token" lines) is set.
    ack_tokens_file: Path | None = None
    ack_host: str = "127.0.0.1"
    ack_port: int = Field(6067, ge=1, le=65535)
    # Signed action links in every alert and the call page (README "Supervisors: acting
    # from the alert"), served with the acknowledgement endpoint. The key (32+ bytes) comes
    # from a file or the environment; without one, alerts carry no links.
    link_key_file: Path | None = None
    link_key: SecretStr | None = None
    link_ttl_minutes: float = Field(240, gt=0, le=7 * 24 * 60)
    # The address supervisors' phones reach the page at (a reverse proxy's https URL);
    # default http://ACK_HOST:ACK_PORT.
    actions_url: str | None = Field(None, pattern=r"^https?://[^/\s]+(/.*)?$")

    # --- Graceful stop (SIGTERM; see "Failure and recovery" in the README)
    # Alert sends under way at a stop may finish for this long; what still runs then
    # is re-sent after its lease by the next owner, marked as a possible repeat.
    shutdown_grace_seconds: float = Field(10, ge=0, le=300)
    # The whole stop (grace, flushes, final commit) is bounded by this: past it the
    # worker exits at once, as after a crash (at-least-once: nothing is lost).
    shutdown_timeout_seconds: float = Field(30, gt=0, le=600)

    # --- Ledger: the tamper-evident log of record (callwatch/ledger, README "The log of record")
    ledger_dir: Path | None = None  # None: no ledger; set it to run the ledger agents
    ledger_origin: str = Field("callwatch", pattern=r"^[A-Za-z0-9._/-]+$")  # the log's name
    ledger_signing_key_file: Path | None = None  # Ed25519 private key, PEM
    ledger_signing_key: SecretStr | None = None  # or the same PEM text, from the environment
    ledger_public_key_file: Path | None = None  # what `callwatch verify` checks against
    ledger_checkpoint_seconds: float = Field(60, gt=0, le=86_400)
    ledger_publish: str | None = None  # a file path or an http(s) URL (PUT) for checkpoints

    @model_validator(mode="after")
    def _grace_fits_in_the_stop(self) -> Settings:
        if self.shutdown_grace_seconds >= self.shutdown_timeout_seconds:
            raise ValueError(
                "shutdown_grace_seconds must be less than shutdown_timeout_seconds"
                " (the grace is part of the stop)"
            )
        return self

    @field_validator("kafka_bootstrap")
    @classmethod
    def _bootstrap_has_port(cls, value: str) -> str:
        for server in value.split(","):
            host, _, port = server.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"{server!r} is not host:port")
        return value

    @model_validator(mode="after")
    def _insync_within_replicas(self) -> Settings:
        if self.topic_min_insync_replicas > self.topic_replication_factor:
            raise ValueError(
                f"topic_min_insync_replicas ({self.topic_min_insync_replicas}) cannot exceed"
                f" topic_replication_factor ({self.topic_replication_factor}):"
                " no write could ever be acknowledged"
            )
        return self

    @cached_property
    def kafka_servers(self) -> list[str]:
        return [s.strip() for s in self.kafka_bootstrap.split(",")]

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"

    def index(self, name: str) -> str:
        return f"{self.index_prefix}-{name}"
