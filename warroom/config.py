"""Settings: where Warroom keeps its data and how it behaves, from WARROOM_* variables."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    # Priority matrix: rows are impact 1..3, columns urgency 1..3 (ITIL / ServiceNow default).
    priority_matrix: list[list[int]] = [[1, 2, 3], [2, 3, 4], [3, 4, 4]]
    log_level: str = "info"

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
