"""The documented business-rule file (restock.yaml) as a plain dict with checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from restock.ingest.contract import EXTRACTS, FILE_SUFFIXES
from restock.ingest.deliveries import DEFAULT_MARKER_SUFFIX, DEFAULT_SETTLE_SECONDS, day_of_file


# The candidates of restock.forecasting.models (kept here so that loading the config
# imports neither numpy nor pandas; a test keeps the two in step).
MODEL_NAMES = (
    "combination", "croston", "ets_damped", "moving_average", "sarimax_calendar",
    "sba", "seasonal_naive", "ses", "ses_fixed", "tsb", "zero",
)


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
    for section in ("extracts", "tiers", "schedule", "segmentation", "product_classes", "forecasting", "accuracy"):
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


    _validate_analytics(config, path)
    _validate_replenishment(config, path)
    _validate_landing(config, path)
    _validate_quality(config, path)
    _validate_publishing(config, path)


def _validate_analytics(config: dict[str, Any], path: Path) -> None:
    """Checks of the segmentation, product class, forecasting and accuracy rules."""

    def fail(key: str, message: str) -> None:
        raise ConfigError(f"{path}: {key} {message}")

    def positive_int(section: str, key: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            fail(f"{section}.{key}", f"must be a positive whole number, got {value!r}")

    seg = config["segmentation"]
    if not seg.get("segment_by"):
        fail("segmentation.segment_by", "must list at least one column (e.g. [tier_band, channel])")
    bands = seg.get("tier_bands") or []
    if not bands or sorted(bands) != list(bands) or len(set(bands)) != len(bands):
        fail("segmentation.tier_bands", f"must be a strictly ascending list, got {bands!r}")
    for key in ("rfm_window_weeks", "rfm_bins"):
        positive_int("segmentation", key, seg.get(key))
    life = seg.get("lifecycle") or {}
    for key in ("cycle_days", "new_max_cycles", "at_risk_missed_cycles", "churned_missed_cycles"):
        positive_int("segmentation.lifecycle", key, life.get(key))
    if life["at_risk_missed_cycles"] > life["churned_missed_cycles"]:
        fail("segmentation.lifecycle", "needs at_risk_missed_cycles <= churned_missed_cycles")

    pc = config["product_classes"]
    positive_int("product_classes", "window_weeks", pc.get("window_weeks"))
    for key in ("abc_cuts", "xyz_cuts"):
        cuts = pc.get(key) or []
        if len(cuts) != 2 or not 0 < cuts[0] < cuts[1]:
            fail(f"product_classes.{key}", f"must be two increasing positive numbers, got {cuts!r}")
    if pc["abc_cuts"][1] > 1:
        fail("product_classes.abc_cuts", "are cumulative shares: at most 1")

    fc = config["forecasting"]
    if fc.get("quantity") not in ("requested_qty", "ordered_qty"):
        fail("forecasting.quantity", f"must be requested_qty or ordered_qty, got {fc.get('quantity')!r}")
    if fc.get("cutoff_weekday") not in range(1, 8):
        fail("forecasting.cutoff_weekday", f"must be an ISO weekday 1..7 (7 = Sunday), got {fc.get('cutoff_weekday')!r}")
    for key in ("horizon_weeks", "season_weeks", "min_history_weeks", "selection_every_weeks", "share_window_weeks", "workers"):
        positive_int("forecasting", key, fc.get(key))
    for key in ("interval_level", "ses_alpha"):
        if not isinstance(fc.get(key), (int, float)) or not 0 < fc[key] < 1:
            fail(f"forecasting.{key}", f"must be between 0 and 1, got {fc.get(key)!r}")
    if not isinstance(fc.get("switch_margin"), (int, float)) or not 0 <= fc["switch_margin"] < 1:
        fail("forecasting.switch_margin", f"must be in [0, 1), got {fc.get('switch_margin')!r}")
    if fc.get("default_model") not in (*MODEL_NAMES, None, ""):
        fail("forecasting.default_model", f"must be one of {list(MODEL_NAMES)} or empty, got {fc.get('default_model')!r}")
    classes = ("smooth", "erratic", "intermittent", "lumpy")
    for key, allowed in (("backtest_metric", ("wape", "mae", "mase", "rmsse")), ("backtest_origins", None)):
        table = fc.get(key) or {}
        if set(table) != set(classes):
            fail(f"forecasting.{key}", f"must give a value for each of {list(classes)}, got {sorted(table)}")
        for klass, value in table.items():
            if allowed is None:
                positive_int(f"forecasting.{key}", klass, value)
            elif value not in allowed:
                fail(f"forecasting.{key}.{klass}", f"must be one of {list(allowed)}, got {value!r}")

    acc = config["accuracy"]
    positive_int("accuracy", "window_weeks", acc.get("window_weeks"))
    if not isinstance(acc.get("tracking_signal_limit"), (int, float)) or acc["tracking_signal_limit"] <= 0:
        fail("accuracy.tracking_signal_limit", f"must be a positive number, got {acc.get('tracking_signal_limit')!r}")


REPLENISHMENT_POLICIES = ("periodic_review", "min_max", "continuous_review")
ALLOCATION_RULES = ("tier_weights", "proportional", "selected_fixed")


def _validate_replenishment(config: dict[str, Any], path: Path) -> None:
    """Checks of the ``replenishment`` section (optional: absent keys take the defaults
    of restock.replenishment; see restock/replenishment/daily.py)."""
    rep = config.get("replenishment")
    if rep is None:
        return

    def fail(key: str, message: str) -> None:
        raise ConfigError(f"{path}: replenishment.{key} {message}")

    def number(key: str, value: Any, low: float = 0.0, strict: bool = False) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low or (strict and value <= low):
            fail(key, f"must be a number {'>' if strict else '>='} {low:g}, got {value!r}")

    def share(key: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            fail(key, f"must be strictly between 0 and 1, got {value!r}")

    def quantity(key: str, value: Any) -> None:
        """A per-customer quantity: null, a number >= 0, or {tier: number >= 0}."""
        if value is None:
            return
        values = value.items() if isinstance(value, dict) else [(None, value)]
        for tier, qty in values:
            if tier is not None and (isinstance(tier, bool) or not isinstance(tier, int)):
                fail(key, f"tiers must be whole numbers, got {tier!r}")
            number(key if tier is None else f"{key}.{tier}", qty)

    if not isinstance(rep, dict):
        raise ConfigError(f"{path}: replenishment must be a mapping, got {rep!r}")
    mapping = rep.get("region_warehouse") or {}
    if not isinstance(mapping, dict) or any(not isinstance(w, str) or not w for w in mapping.values()):
        fail("region_warehouse", f"must map regions to warehouse ids, got {mapping!r}")
    default = rep.get("default_warehouse")
    if default is not None and (not isinstance(default, str) or not default):
        fail("default_warehouse", f"must be a warehouse id or null, got {default!r}")
    if rep.get("policy", "periodic_review") not in REPLENISHMENT_POLICIES:
        fail("policy", f"must be one of {list(REPLENISHMENT_POLICIES)}, got {rep.get('policy')!r}")
    for key in ("review_period_days", "ordering_cost", "holding_cost_rate"):
        if key in rep:
            number(key, rep[key])
    levels = rep.get("service_levels", {})
    if not isinstance(levels, dict):
        fail("service_levels", f"must map ABC classes to levels, got {levels!r}")
    for klass, level in levels.items():
        share(f"service_levels.{klass}", level)
    if "unclassified_service_level" in rep:
        share("unclassified_service_level", rep["unclassified_service_level"])
    if "min_error_weeks" in rep:
        number("min_error_weeks", rep["min_error_weeks"])
        if not isinstance(rep["min_error_weeks"], int):
            fail("min_error_weeks", f"must be a whole number, got {rep['min_error_weeks']!r}")
    if rep.get("suggestion_rounding", "nearest") not in ("nearest", "up", "down"):
        fail("suggestion_rounding", f"must be nearest, up or down, got {rep.get('suggestion_rounding')!r}")
    alloc = rep.get("allocation") or {}
    rules = [alloc.get("rule", "tier_weights"), *(alloc.get("rules_by_sku") or {}).values()]
    for rule in rules:
        if rule not in ALLOCATION_RULES:
            fail("allocation.rule", f"must be one of {list(ALLOCATION_RULES)}, got {rule!r}")
    weights = alloc.get("tier_weights")
    if weights is not None:
        if not isinstance(weights, dict) or not weights:
            fail("allocation.tier_weights", f"must map tiers to weights or be null, got {weights!r}")
        quantity("allocation.tier_weights", weights)
    for key in ("cap_qty", "min_qty", "fixed_qty"):
        quantity(f"allocation.{key}", alloc.get(key))
    alert_keys = ("overstock_days", "expiry_warning_days", "dead_stock_weeks", "min_daily_demand")
    for key, value in (rep.get("alerts") or {}).items():
        if key not in alert_keys:
            fail(f"alerts.{key}", f"is not a known alert threshold ({', '.join(alert_keys)})")
        number(f"alerts.{key}", value)


LANDING_KEYS = ("settle_seconds", "marker_suffix")


def _validate_landing(config: dict[str, Any], path: Path) -> None:
    """Checks of the optional ``landing`` section (the complete-delivery rule of
    restock/ingest/deliveries.py; absent keys take its defaults)."""
    section = config.get("landing")
    if section is None:
        return
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: landing must be a mapping, got {section!r}")
    for key in section:
        if key not in LANDING_KEYS:
            raise ConfigError(f"{path}: landing.{key} is not a known key ({', '.join(LANDING_KEYS)})")
    settle = section.get("settle_seconds", DEFAULT_SETTLE_SECONDS)
    if isinstance(settle, bool) or not isinstance(settle, int) or settle < 1:
        raise ConfigError(f"{path}: landing.settle_seconds must be a positive whole number of seconds, got {settle!r}")
    suffix = section.get("marker_suffix", DEFAULT_MARKER_SUFFIX)
    if not isinstance(suffix, str) or not suffix.strip() or "/" in suffix or "\\" in suffix:
        raise ConfigError(f"{path}: landing.marker_suffix must be a non-empty file name ending (e.g. .done), got {suffix!r}")
    if any(day_of_file(f"2000-01-01{data}{suffix}") is not None for data in FILE_SUFFIXES):
        raise ConfigError(
            f"{path}: landing.marker_suffix {suffix!r} would make marker names look like data files "
            f"(ending in {', '.join(FILE_SUFFIXES)})"
        )


def landing_rules(config: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`restock.ingest.deliveries.scan_landing` / ``still_being_written``:
    {"settle_seconds": int, "marker_suffix": str}, defaults where restock.yaml is silent."""
    section = config.get("landing") or {}
    return {
        "settle_seconds": int(section.get("settle_seconds", DEFAULT_SETTLE_SECONDS)),
        "marker_suffix": str(section.get("marker_suffix", DEFAULT_MARKER_SUFFIX)),
    }


QUALITY_KEYS = ("max_quantity", "outlier_k", "baseline_weeks")


def _validate_quality(config: dict[str, Any], path: Path) -> None:
    """Checks of the optional ``quality`` section (the raw gates' business rules;
    absent keys take the defaults of restock.ingest.gated.GateRules)."""
    section = config.get("quality")
    if section is None:
        return
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: quality must be a mapping, got {section!r}")
    for key, value in section.items():
        if key not in QUALITY_KEYS:
            raise ConfigError(f"{path}: quality.{key} is not a known key ({', '.join(QUALITY_KEYS)})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(f"{path}: quality.{key} must be a positive number, got {value!r}")
    if "baseline_weeks" in section and not isinstance(section["baseline_weeks"], int):
        raise ConfigError(f"{path}: quality.baseline_weeks must be a whole number of weeks, got {section['baseline_weeks']!r}")


def quality_rules(config: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :class:`restock.ingest.gated.GateRules` (only the keys set)."""
    return dict(config.get("quality") or {})


def column_mapping(config: dict[str, Any], extract: str) -> dict[str, str]:
    """Contract column -> header in the user's file."""
    spec = config["extracts"].get(extract) or {}
    return dict(spec.get("columns") or {})


def encodings(config: dict[str, Any]) -> list[str]:
    return list(config["extracts"].get("encodings") or ["utf-8-sig", "gb18030"])


def segmentation_settings(config: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`restock.segmentation.daily.build_customer_segments`."""
    seg = config["segmentation"]
    life = seg["lifecycle"]
    return {
        "segment_by": tuple(seg["segment_by"]),
        "tier_bands": tuple(seg["tier_bands"]),
        "rfm_window_weeks": int(seg["rfm_window_weeks"]),
        "rfm_bins": int(seg["rfm_bins"]),
        "cycle_days": int(life["cycle_days"]),
        "new_max_cycles": int(life["new_max_cycles"]),
        "at_risk_missed_cycles": int(life["at_risk_missed_cycles"]),
        "churned_missed_cycles": int(life["churned_missed_cycles"]),
    }


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


def _validate_publishing(config: dict[str, Any], path: Path) -> None:
    """Checks of the ``publishing`` section (retention and the published-table gates)."""
    section = config.get("publishing")
    if section is None:
        return
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: publishing must be a mapping, got {section!r}")
    known = ("retain_days", "max_row_drop_share", "max_quantity")
    for key in section:
        if key not in known:
            raise ConfigError(f"{path}: publishing.{key} is not a known key ({', '.join(known)})")
    days = section.get("retain_days", 28)
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"{path}: publishing.retain_days must be a whole number of days >= 1, got {days!r}")
    drop = section.get("max_row_drop_share", 0.5)
    if isinstance(drop, bool) or not isinstance(drop, (int, float)) or not 0 <= drop <= 1:
        raise ConfigError(f"{path}: publishing.max_row_drop_share must be a share between 0 and 1, got {drop!r}")
    top = section.get("max_quantity", 1e9)
    if isinstance(top, bool) or not isinstance(top, (int, float)) or not top > 0:
        raise ConfigError(f"{path}: publishing.max_quantity must be a positive number, got {top!r}")


def publishing_settings(config: dict[str, Any]) -> dict[str, Any]:
    """The ``publishing`` section with its defaults."""
    section = config.get("publishing") or {}
    return {
        "retain_days": int(section.get("retain_days", 28)),
        "max_row_drop_share": float(section.get("max_row_drop_share", 0.5)),
        "max_quantity": float(section.get("max_quantity", 1e9)),
    }
