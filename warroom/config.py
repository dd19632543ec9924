"""Settings: where Warroom keeps its data and how it behaves, from WARROOM_* variables."""

from __future__ import annotations

import ipaddress
import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from warroom.common.cadence import DEFAULT_CADENCE, parse_cadence

DEFAULT_DATA_DIR = Path.home() / ".local" / "share" / "warroom"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARROOM_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATA_DIR / 'warroom.db'}",
        description="SQLAlchemy URL: sqlite:///path or postgresql+psycopg://user@host/db",
    )
    base_url: str = "http://127.0.0.1:8080"
    # Signs action links and sessions; generated and stored in the data directory on first start.
    secret_key: str = ""
    # PagerDuty's documented limit; Alertmanager batches may legitimately be larger.
    max_event_bytes: int = 512 * 1024
    max_batch_bytes: int = 8 * 1024 * 1024
    # Most alerts one group commit takes at once; bounds latency of the first request in a batch.
    group_commit_max_alerts: int = 5000
    # Back-pressure: at most this many intake requests (not events: an Alertmanager batch counts
    # once) wait for their commit; more are answered 503 with Retry-After.
    intake_queue_limit: int = Field(default=10_000, ge=1)
    # An intake request waits at most this many seconds for its commit, then gets a 503 (and is
    # then never stored, so the client's retry is safe).
    intake_deadline_seconds: float = Field(default=10.0, gt=0)
    # Priority matrix: rows are impact 1..3, columns urgency 1..3 (ITIL / ServiceNow default).
    priority_matrix: list[list[int]] = [[1, 2, 3], [2, 3, 4], [3, 4, 4]]
    log_level: str = "info"
    # Status update cadence: minutes between updates per priority ("1=30,2=60"; priorities left
    # out get no reminders). An admin's value in the instance settings takes precedence.
    update_cadence: str = DEFAULT_CADENCE

    # --- paging ------------------------------------------------------------------------------
    # Signed action links in notifications stay valid this long.
    action_link_ttl_seconds: int = 24 * 3600
    # Outgoing requests to user-supplied URLs may reach these networks, otherwise refused
    # (private, loopback, link-local, metadata). E.g. ["127.0.0.0/8"] for a local receiver.
    outbound_allow_networks: Annotated[list[str], NoDecode] = []
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    smtp_from: str = "warroom@localhost"
    sms_base_url: str = ""
    sms_account_sid: str = ""
    sms_auth_token: str = ""
    sms_from: str = ""
    # An engine holds a claimed delivery this long; after a crash another engine takes it over.
    # It must outlast one attempt (delivery_timeout_seconds), or a live claim could run out
    # while its message is still being sent and be claimed, and sent, again.
    delivery_lease_seconds: int = 60
    # Each delivery attempt's network timeout (webhook, email, SMS/voice).
    delivery_timeout_seconds: float = 10.0
    # Retries of a failed attempt: full-jitter backoff from `base`, at most `cap` apart; after
    # `max_attempts` the person's next contact method takes over (notify/retry.py).
    delivery_retry_base_seconds: float = 15.0
    delivery_retry_cap_seconds: float = 600.0
    delivery_max_attempts: int = 5
    # Done timers and sent/cancelled/failed notifications older than this are pruned by the
    # engine (in small batches); 0 keeps them forever.
    retention_days: int = Field(default=90, ge=0)
    # --- monitors (issue 11) ---------------------------------------------------------------
    # Threads that run HTTP/TCP checks, apart from the paging engine's: at most this many
    # checks are in flight at once, so slow targets delay other checks, never a page.
    check_workers: int = Field(default=16, ge=1, le=256)
    # The syslog receiver (RFC 5424/3164) of `warroom serve` (roles all and api): off unless a
    # port is set. 0 takes any free port (tests). Bind to 0.0.0.0 to hear other hosts.
    syslog_host: str = "127.0.0.1"
    syslog_udp_port: int | None = Field(default=None, ge=0, le=65535)
    syslog_tcp_port: int | None = Field(default=None, ge=0, le=65535)
    # The inbound SMTP listener (mail to <email integration key>@...): off unless a port is set.
    inbound_smtp_host: str = "127.0.0.1"
    inbound_smtp_port: int | None = Field(default=None, ge=1, le=65535)
    # Larger messages are refused at the SMTP level (552) while they are being sent.
    inbound_smtp_max_bytes: int = Field(default=1024 * 1024, ge=1024)
    # subject_without_numbers | subject | message_id (warroom/intake/email.py).
    email_dedup: Literal["subject_without_numbers", "subject", "message_id"] = (
        "subject_without_numbers"
    )
    # Test hook for the fault tests: "<point>:<seconds>" makes the engine print
    # "warroom-engine-paused <point>" and wait there (points: before_claim, after_claim,
    # after_send), so a SIGKILL lands exactly in that window.
    engine_test_pause: str = ""

    # --- oversight ---------------------------------------------------------------------------
    # Minutes without a person's timeline activity after which an open incident is stale, by
    # priority, as JSON ({"1": 30, "2": 120}); a priority left out or 0 is never stale. The
    # installation's and each team's oversight settings (PUT /api/v1/oversight) take precedence.
    stale_minutes: dict[int, int] = {1: 30, 2: 120}

    @field_validator("outbound_allow_networks", mode="before")
    @classmethod
    def _parse_networks(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            return (
                json.loads(text)
                if text.startswith("[")
                else [part.strip() for part in text.split(",") if part.strip()]
            )
        return value

    @field_validator("outbound_allow_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        # A typo must stop the start, not turn every webhook into a failure at 3 a.m.
        for network in value:
            try:
                ipaddress.ip_network(network.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"invalid network {network!r}: {exc}") from None
        return value

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Settings:
        if self.delivery_lease_seconds <= self.delivery_timeout_seconds:
            raise ValueError(
                "delivery_lease_seconds must be longer than delivery_timeout_seconds: a claim "
                "that runs out while its message is still being sent can be sent twice"
            )
        if self.delivery_max_attempts < 1 or not (
            0 < self.delivery_retry_base_seconds <= self.delivery_retry_cap_seconds
        ):
            raise ValueError(
                "need delivery_max_attempts >= 1 and "
                "0 < delivery_retry_base_seconds <= delivery_retry_cap_seconds"
            )
        return self

    @field_validator("update_cadence")
    @classmethod
    def _check_cadence(cls, value: str) -> str:
        parse_cadence(value)  # a ValueError stops the start with the reason
        return value

    @field_validator("stale_minutes")
    @classmethod
    def _check_stale_minutes(cls, value: dict[int, int]) -> dict[int, int]:
        if any(not 1 <= p <= 5 or m < 0 for p, m in value.items()):
            raise ValueError("stale_minutes maps priorities 1..5 to minutes >= 0")
        return value

    @field_validator("priority_matrix", mode="before")
    @classmethod
    def _parse_matrix(cls, value: object) -> object:
        if isinstance(value, str):
            value = json.loads(value)
        if (
            not isinstance(value, list)
            or len(value) != 3
            or any(not isinstance(row, list) or len(row) != 3 for row in value)
            or any(not isinstance(p, int) or not 1 <= p <= 5 for row in value for p in row)
        ):
            raise ValueError("priority_matrix must be 3 rows of 3 priorities between 1 and 5")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
