"""Settings and config, read once when the code location loads (cheap: one YAML file)."""

from __future__ import annotations

from restock.config import load_config
from restock.settings import load_settings

SETTINGS = load_settings()
CONFIG = load_config(SETTINGS.config_path)

# dbt reads these from its environment (dbt_project/profiles.yml); set once here so
# every dbt subprocess Dagster starts points at the same warehouse and stays offline.
import os  # noqa: E402

os.environ.setdefault("RESTOCK_WAREHOUSE_PATH", str(SETTINGS.warehouse_path))
os.environ.setdefault("DO_NOT_TRACK", "1")
