"""Where things are: paths and switches that come from the environment.

Business rules live in the config file (restock.yaml), not here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PARTITION_START = "2024-01-01"  # the demo period's first day


def _path_from_env(name: str, default: str) -> Path:
    value = os.environ.get(name)
    if value:
        return Path(value).expanduser().resolve()
    # Defaults are relative to the project, not to wherever a process was started.
    return (PROJECT_ROOT / default).resolve()


@dataclass(frozen=True)
class Settings:
    landing_dir: Path
    data_dir: Path
    config_path: Path
    partition_start: date

    @property
    def warehouse_path(self) -> Path:
        """The working DuckDB file (one writer; BI never opens it)."""
        return self.data_dir / "warehouse.duckdb"


def load_settings() -> Settings:
    start_text = os.environ.get("RESTOCK_PARTITION_START", DEFAULT_PARTITION_START)
    try:
        start = date.fromisoformat(start_text)
    except ValueError as exc:
        raise ValueError(
            f"RESTOCK_PARTITION_START={start_text!r} is not a date in YYYY-MM-DD form"
        ) from exc
    return Settings(
        landing_dir=_path_from_env("RESTOCK_LANDING_DIR", "data/landing"),
        data_dir=_path_from_env("RESTOCK_DATA_DIR", "data"),
        config_path=_path_from_env("RESTOCK_CONFIG", "restock.yaml"),
        partition_start=start,
    )
