"""Where things are and when they run: the only module that reads the environment.

Business rules live in the config file (restock.yaml, :mod:`restock.config`), not
here. :func:`load_settings` reads the variables below once; everything else receives
a :class:`Settings` (the Dagster code location hands it on as resources).

| variable | default | meaning |
|---|---|---|
| RESTOCK_LANDING_DIR | data/landing | the landing folder (input contract) |
| RESTOCK_DATA_DIR | data | warehouse.duckdb, published/, serving.duckdb, quarantine/ |
| RESTOCK_CONFIG | restock.yaml | the business-rule file |
| RESTOCK_PARTITION_START | 2024-01-01 | the first daily partition |
| RESTOCK_TIMEZONE | Asia/Shanghai | partitions and the daily schedule use this time zone |
| RESTOCK_DAILY_RUN_AT | 06:00 | the daily run for yesterday's partition starts then |
| RESTOCK_AUTOMATION | off | "on": the schedule and the landing sensor start running |
| RESTOCK_POSTGRES_URL | (none) | also publish to this PostgreSQL database |
| RESTOCK_POSTGRES_SCHEMA | restock | the schema of the published tables there |
| RESTOCK_EXPECTATIONS_DIR | expectations | the Great Expectations suites of the gates |
| RESTOCK_UI_URL | http://127.0.0.1:3000 | the Dagster UI's address, for the links in alerts |
| RESTOCK_DUCKDB_MEMORY_LIMIT | 4GB | DuckDB's memory limit in every process that opens the warehouse (Restock's steps, dbt); beyond it DuckDB spills to disk. e.g. 8GB, 50% |
| RESTOCK_ALERT_WEBHOOK_URL | (none) | POST alerts to this URL (a secret: the variable is named by restock.yaml's alerting.webhook_url_env) |
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PARTITION_START = date(2024, 1, 1)  # the demo period's first day
POSTGRES_URL_VARIABLE = "RESTOCK_POSTGRES_URL"
DEFAULT_UI_URL = "http://127.0.0.1:3000"
# DuckDB's own default is 80 % of the RAM, which it fills with cached pages when it
# can: a city's accuracy review peaked at 7.0 GB with it and 4.4 GB with 4GB, in the
# same 18.4 s (2 GB: 2.5 GB, 23.7 s).
DEFAULT_DUCKDB_MEMORY_LIMIT = "4GB"
MEMORY_LIMIT = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB|%)$", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    data_dir: Path
    config_path: Path = PROJECT_ROOT / "restock.yaml"
    partition_start: date = DEFAULT_PARTITION_START
    timezone: str = "Asia/Shanghai"
    daily_run_at: time = time(6, 0)
    automation: bool = False
    postgres_url: str | None = None
    postgres_schema: str = "restock"
    ui_url: str = DEFAULT_UI_URL  # links in alerts (restock.alerts)
    duckdb_memory_limit: str = DEFAULT_DUCKDB_MEMORY_LIMIT

    @property
    def warehouse_path(self) -> Path:
        """The working DuckDB file (one writer; BI never opens it)."""
        return self.data_dir / "warehouse.duckdb"

    @property
    def data_docs_dir(self) -> Path:
        """Great Expectations Data Docs of the gates."""
        return self.data_dir / "quality" / "docs"


def _path(env: Mapping[str, str], name: str, default: str) -> Path:
    value = env.get(name)
    if value:
        return Path(value).expanduser().resolve()
    # Defaults are relative to the project, not to wherever a process was started.
    return (PROJECT_ROOT / default).resolve()


def expectations_dir(env: Mapping[str, str] | None = None) -> Path:
    """The folder of the gates' suites (expectations/*.json)."""
    return _path(os.environ if env is None else env, "RESTOCK_EXPECTATIONS_DIR", "expectations")


def secret_from_env(variable: str, env: Mapping[str, str] | None = None) -> str | None:
    """The value of ``variable`` (e.g. the alert webhook URL named in restock.yaml), or None when
    unset or empty. Read when used, so it is never part of a Settings, a run's configuration or a log."""
    value = (os.environ if env is None else env).get(variable)
    return value or None


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Settings from the environment (or ``env``); a malformed value names its variable."""
    env = os.environ if env is None else env
    start_text = env.get("RESTOCK_PARTITION_START") or DEFAULT_PARTITION_START.isoformat()
    try:
        start = date.fromisoformat(start_text)
    except ValueError:
        raise ValueError(f"RESTOCK_PARTITION_START={start_text!r} is not a date in YYYY-MM-DD form") from None
    timezone = env.get("RESTOCK_TIMEZONE") or "Asia/Shanghai"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"RESTOCK_TIMEZONE={timezone!r} is not a time zone name (e.g. Asia/Shanghai)") from None
    run_at_text = env.get("RESTOCK_DAILY_RUN_AT") or "06:00"
    try:
        run_at = time.fromisoformat(run_at_text)
    except ValueError:
        raise ValueError(f"RESTOCK_DAILY_RUN_AT={run_at_text!r} is not a time of day in HH:MM form") from None
    automation = (env.get("RESTOCK_AUTOMATION") or "off").lower()
    if automation not in ("on", "off"):
        raise ValueError(f"RESTOCK_AUTOMATION={automation!r} must be 'on' or 'off'")
    ui_url = (env.get("RESTOCK_UI_URL") or DEFAULT_UI_URL).rstrip("/")
    if not ui_url.startswith(("http://", "https://")):
        raise ValueError(f"RESTOCK_UI_URL={ui_url!r} must be an http:// or https:// address (e.g. {DEFAULT_UI_URL})")
    memory_limit = (env.get("RESTOCK_DUCKDB_MEMORY_LIMIT") or DEFAULT_DUCKDB_MEMORY_LIMIT).strip()
    if not MEMORY_LIMIT.match(memory_limit):
        raise ValueError(
            f"RESTOCK_DUCKDB_MEMORY_LIMIT={memory_limit!r} is not a DuckDB memory limit (e.g. 4GB, 512MB, 50%)"
        )
    return Settings(
        landing_dir=_path(env, "RESTOCK_LANDING_DIR", "data/landing"),
        data_dir=_path(env, "RESTOCK_DATA_DIR", "data"),
        config_path=_path(env, "RESTOCK_CONFIG", "restock.yaml"),
        partition_start=start,
        timezone=timezone,
        daily_run_at=run_at,
        automation=automation == "on",
        postgres_url=env.get(POSTGRES_URL_VARIABLE) or None,
        postgres_schema=env.get("RESTOCK_POSTGRES_SCHEMA") or "restock",
        ui_url=ui_url,
        duckdb_memory_limit=memory_limit,
    )
