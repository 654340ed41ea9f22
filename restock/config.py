"""The documented business-rule file (restock.yaml) as a plain dict with checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from restock.ingest.contract import EXTRACTS


class ConfigError(ValueError):
    pass


def load_config(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"config file not found: {path} (set RESTOCK_CONFIG or restore restock.yaml)")
    with path.open(encoding="utf-8") as fh:
        config = yaml.safe_load(fh) or {}
    _validate(config, path)
    return config


def _validate(config: dict[str, Any], path: Path) -> None:
    for section in ("extracts", "tiers", "schedule"):
        if section not in config:
            raise ConfigError(f"{path}: missing section '{section}'")
    extracts = config["extracts"]
    for name, spec in extracts.items():
        if name == "encodings":
            continue
        if name not in EXTRACTS:
            raise ConfigError(f"{path}: extracts.{name} is not an extract of the input contract {sorted(EXTRACTS)}")
        unknown = set((spec or {}).get("columns") or {}) - set(EXTRACTS[name].columns)
        if unknown:
            raise ConfigError(
                f"{path}: extracts.{name}.columns maps unknown contract columns {sorted(unknown)}; "
                f"contract columns are {list(EXTRACTS[name].columns)}"
            )
    unit = (extracts.get("inventory") or {}).get("quantity_unit", "sales_unit")
    if unit not in ("sales_unit", "case"):
        raise ConfigError(f"{path}: extracts.inventory.quantity_unit must be 'sales_unit' or 'case', not {unit!r}")
    tiers = config["tiers"]
    for key in ("volume_band_edges", "price_band_edges"):
        edges = tiers.get(key)
        if not edges or sorted(edges) != list(edges):
            raise ConfigError(f"{path}: tiers.{key} must be a non-empty ascending list, got {edges!r}")


def column_mapping(config: dict[str, Any], extract: str) -> dict[str, str]:
    """Contract column -> header in the user's file."""
    spec = config["extracts"].get(extract) or {}
    return dict(spec.get("columns") or {})


def encodings(config: dict[str, Any]) -> list[str]:
    return list(config["extracts"].get("encodings") or ["utf-8-sig", "gb18030"])


def dbt_vars(config: dict[str, Any]) -> dict[str, Any]:
    """Business rules the dbt models need, passed with --vars (besides the window)."""
    tiers = config["tiers"]
    return {
        "tier_window_weeks": int(tiers["window_weeks"]),
        "tier_volume_band_edges": list(tiers["volume_band_edges"]),
        "tier_price_band_edges": list(tiers["price_band_edges"]),
        "new_customer_max_tier": int(tiers["new_customer_max_tier"]),
        "inventory_quantity_unit": (config["extracts"].get("inventory") or {}).get("quantity_unit", "sales_unit"),
    }
