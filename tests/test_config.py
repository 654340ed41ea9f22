"""The config file: one typed model, validation with clear errors, nothing unused or
undocumented, and dbt's defaults kept equal to it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from restock.config import ConfigError, RestockConfig, load_config, parse_config
from restock.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "restock.yaml"


def test_dbt_project_defaults_equal_the_config_file():
    dbt_defaults = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    for name, value in load_config(CONFIG).dbt_vars().items():
        assert dbt_defaults[name] == value, f"dbt_project.yml var {name} drifted from restock.yaml"


def _model_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every field of the model as a dotted path (sections and their keys)."""
    paths = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        paths.add(path)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths |= _model_paths(annotation, f"{path}.")
    return paths


def _yaml_paths(node: Any, model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key of restock.yaml as a dotted path, descending only into sections
    (maps such as region_warehouse or service_levels are values, not keys)."""
    paths = set()
    for key, value in node.items():
        path = f"{prefix}{key}"
        paths.add(path)
        field = model.model_fields.get(key)
        annotation = field.annotation if field else None
        if isinstance(value, dict) and isinstance(annotation, type) and issubclass(annotation, BaseModel):
            paths |= _yaml_paths(value, annotation, f"{path}.")
    return paths


def test_every_key_of_restock_yaml_is_in_the_model_and_every_field_is_documented_there():
    raw = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    in_file, in_model = _yaml_paths(raw, RestockConfig), _model_paths(RestockConfig)
    assert in_file - in_model == set(), "keys in restock.yaml that the model does not read"
    assert in_model - in_file == set(), "settings of the model that restock.yaml does not show"
    # and the file's values are the model's defaults where the demo has no reason to differ
    # (the demo's regions, and its report in Chinese where the code defaults to English)
    loaded, defaults = load_config(CONFIG), RestockConfig()
    demo_only: dict = {"replenishment": {"region_warehouse"}, "report": {"language"}}
    assert loaded.model_dump(exclude=demo_only) == defaults.model_dump(exclude=demo_only)
    assert (loaded.report.language, defaults.report.language) == ("zh", "en")


def test_the_model_is_frozen_and_typed():
    config = load_config(CONFIG)
    assert isinstance(config.forecasting.horizon_weeks, int)
    with pytest.raises(Exception, match="frozen"):
        config.forecasting.horizon_weeks = 12  # type: ignore[misc]
    changed = config.override({"forecasting.horizon_weeks": 12})
    assert (changed.forecasting.horizon_weeks, config.forecasting.horizon_weeks) == (12, 8)
    with pytest.raises(ConfigError, match="forecasting.horizon_weeks must be greater than or equal to 1"):
        config.override({"forecasting.horizon_weeks": 0})


def test_sections_left_out_take_their_defaults():
    assert parse_config({}) == RestockConfig()
    assert parse_config({"landing": {"settle_seconds": 300}}).landing.settle_seconds == 300
    assert parse_config({"landing": {"settle_seconds": 300}}).landing.marker_suffix == ".done"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["extracts"].update(invoices={}), "extracts.invoices is not a known key of extracts"),
        (lambda c: c["extracts"]["orders"].update(columns={"qty": "数量"}), "unknown contract columns \\['qty'\\]"),
        (
            lambda c: c["tiers"].update(volume_band_edges=[5, 3]),
            "tiers.volume_band_edges must be a non-empty ascending list",
        ),
        (lambda c: c["extracts"]["inventory"].update(quantity_unit="box"), "quantity_unit"),
        (lambda c: c["segmentation"].update(tier_bands=[10, 5]), "segmentation.tier_bands"),
        (lambda c: c["segmentation"]["lifecycle"].update(at_risk_missed_cycles=9), "at_risk_missed_cycles <= churned"),
        (lambda c: c["product_classes"].update(abc_cuts=[0.95, 0.8]), "product_classes.abc_cuts"),
        (lambda c: c["forecasting"].update(cutoff_weekday=0), "forecasting.cutoff_weekday"),
        (lambda c: c["forecasting"].update(horizon_weeks=0), "forecasting.horizon_weeks"),
        (lambda c: c["forecasting"].update(default_model="prophet"), "forecasting.default_model"),
        (lambda c: c["forecasting"]["backtest_metric"].update(smooth="mape"), "backtest_metric.smooth"),
        (lambda c: c["forecasting"]["backtest_origins"].pop("lumpy"), "forecasting.backtest_origins.lumpy is missing"),
        (lambda c: c["accuracy"].update(tracking_signal_limit=-1), "tracking_signal_limit"),
        (lambda c: c["replenishment"].update(policy="kanban"), "replenishment.policy"),
        (lambda c: c["replenishment"]["service_levels"].update(A=1.2), "replenishment.service_levels.A"),
        (lambda c: c["replenishment"]["allocation"].update(rule="first_come"), "replenishment.allocation.rule"),
        (lambda c: c["quality"].update(outlier_k=0), "quality.outlier_k must be greater than 0"),
        (lambda c: c["quality"].update(max_quantity="lots"), "quality.max_quantity must be a valid number, got 'lots'"),
        (lambda c: c["quality"].update(baseline_weeks=2.5), "quality.baseline_weeks must be a valid integer, got 2.5"),
        (lambda c: c["quality"].update(max_qty=10), "quality.max_qty is not a known key of quality"),
        (
            lambda c: c["replenishment"]["alerts"].update(min_daily_demand=-0.1),
            "replenishment.alerts.min_daily_demand must be greater than or equal to 0",
        ),
        (
            lambda c: c["replenishment"]["alerts"].update(min_daily_demand="low"),
            "replenishment.alerts.min_daily_demand must be a valid number",
        ),
        (
            lambda c: c["replenishment"]["alerts"].update(min_demand=0.1),
            "replenishment.alerts.min_demand is not a known",
        ),
        (lambda c: c["landing"].update(settle_seconds=0), "landing.settle_seconds"),
        (lambda c: c["landing"].update(settle_seconds="2m"), "landing.settle_seconds"),
        (lambda c: c["landing"].update(settle_seconds=True), "landing.settle_seconds"),
        (lambda c: c["landing"].update(marker_suffix=""), "landing.marker_suffix"),
        (lambda c: c["landing"].update(marker_suffix=None), "landing.marker_suffix"),
        (lambda c: c["landing"].update(marker_suffix=".gz"), "landing.marker_suffix '.gz' would make marker names"),
        (lambda c: c["landing"].update(settle_second=60), "landing.settle_second is not a known key of landing"),
        (lambda c: c.update(landing=120), "landing must be a valid dictionary or instance of LandingConfig"),
        # typed: a misspelt key or a string where a number belongs fails at load
        (
            lambda c: c["forecasting"].update(horizon_week=8),
            "forecasting.horizon_week is not a known key of forecasting",
        ),
        (
            lambda c: c["forecasting"].update(horizon_weeks="8"),
            "forecasting.horizon_weeks must be a valid integer, got '8'",
        ),
        (lambda c: c["forecasting"].update(interval_level="80%"), "forecasting.interval_level must be a valid number"),
        (
            lambda c: c["replenishment"]["allocation"].update(cap_qty={"T5": 2}),
            "replenishment.allocation.cap_qty must be a number",
        ),
        (
            lambda c: c.update(schedule={"timezone": "UTC"}),
            "schedule: this section is no longer read; .*RESTOCK_TIMEZONE",
        ),
        (
            lambda c: c["replenishment"]["allocation"].update(rules_by_sku={"DM-02004": "first_come"}),
            "replenishment.allocation.rules_by_sku.DM-02004 must be 'tier_weights'",
        ),
        (lambda c: c.update(forecast={}), "forecast is not a known key \\(a section\\)"),
    ],
)
def test_bad_config_names_the_file_and_the_key(tmp_path: Path, edit, message):
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    edit(config)
    path = tmp_path / "restock.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as err:
        load_config(path)
    assert str(path) in str(err.value)


def test_model_names_known_to_the_config_are_the_forecasting_candidates():
    from restock.config import MODEL_NAMES
    from restock.forecasting.models import CANDIDATES

    assert sorted(MODEL_NAMES) == sorted(CANDIDATES)


@pytest.mark.parametrize("value", [0, 0.1, 2])
def test_alert_min_daily_demand_is_a_known_key(tmp_path: Path, value):
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert config["replenishment"]["alerts"]["min_daily_demand"] == 0.1  # documented in restock.yaml
    config["replenishment"]["alerts"]["min_daily_demand"] = value
    path = tmp_path / "restock.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert load_config(path).replenishment.alerts.min_daily_demand == value


def test_a_file_that_is_not_a_mapping_or_not_yaml_is_named(tmp_path: Path):
    path = tmp_path / "restock.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{path}: must be a mapping of sections"):
        load_config(path)
    path.write_text("forecasting: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")


def test_defaults_of_the_pure_segmentation_functions_equal_the_configuration():
    from restock.segmentation import customers, product_classes

    segmentation, classes = RestockConfig().segmentation, RestockConfig().product_classes
    assert customers.DEFAULT_RFM_WINDOW_WEEKS == segmentation.rfm_window_weeks
    assert customers.DEFAULT_RFM_BINS == segmentation.rfm_bins
    assert customers.DEFAULT_CYCLE_DAYS == segmentation.lifecycle.cycle_days
    assert customers.DEFAULT_NEW_MAX_CYCLES == segmentation.lifecycle.new_max_cycles
    assert customers.DEFAULT_AT_RISK_MISSED_CYCLES == segmentation.lifecycle.at_risk_missed_cycles
    assert customers.DEFAULT_CHURNED_MISSED_CYCLES == segmentation.lifecycle.churned_missed_cycles
    assert customers.DEFAULT_TIER_BANDS == segmentation.tier_bands
    assert customers.DEFAULT_SEGMENT_BY == segmentation.segment_by
    assert product_classes.DEFAULT_ADI_CUT == classes.adi_cut
    assert product_classes.DEFAULT_CV2_CUT == classes.cv2_cut
    assert product_classes.DEFAULT_ABC_CUTS == classes.abc_cuts
    assert product_classes.DEFAULT_XYZ_CUTS == classes.xyz_cuts
