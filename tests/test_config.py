"""The config file: validation with clear errors, and dbt's defaults kept equal to it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from restock.config import ConfigError, dbt_vars, landing_rules, load_config
from restock.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "restock.yaml"


def test_dbt_project_defaults_equal_the_config_file():
    dbt_defaults = yaml.safe_load((PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text())["vars"]
    for name, value in dbt_vars(load_config(CONFIG)).items():
        assert dbt_defaults[name] == value, f"dbt_project.yml var {name} drifted from restock.yaml"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["extracts"].update(invoices={}), "extracts.invoices is not an extract"),
        (lambda c: c["extracts"]["orders"].update(columns={"qty": "数量"}), "unknown contract columns \\['qty'\\]"),
        (lambda c: c["tiers"].update(volume_band_edges=[5, 3]), "ascending"),
        (lambda c: c["extracts"]["inventory"].update(quantity_unit="box"), "quantity_unit"),
        (lambda c: c.pop("tiers"), "missing section 'tiers'"),
        (lambda c: c.pop("forecasting"), "missing section 'forecasting'"),
        (lambda c: c["segmentation"].update(tier_bands=[10, 5]), "segmentation.tier_bands"),
        (lambda c: c["segmentation"]["lifecycle"].update(at_risk_missed_cycles=9), "at_risk_missed_cycles <= churned"),
        (lambda c: c["product_classes"].update(abc_cuts=[0.95, 0.8]), "product_classes.abc_cuts"),
        (lambda c: c["forecasting"].update(cutoff_weekday=0), "forecasting.cutoff_weekday"),
        (lambda c: c["forecasting"].update(horizon_weeks=0), "forecasting.horizon_weeks"),
        (lambda c: c["forecasting"].update(default_model="prophet"), "forecasting.default_model"),
        (lambda c: c["forecasting"]["backtest_metric"].update(smooth="mape"), "backtest_metric.smooth"),
        (lambda c: c["forecasting"]["backtest_origins"].pop("lumpy"), "backtest_origins"),
        (lambda c: c["accuracy"].update(tracking_signal_limit=-1), "tracking_signal_limit"),
        (lambda c: c["replenishment"].update(policy="kanban"), "replenishment.policy"),
        (lambda c: c["replenishment"]["service_levels"].update(A=1.2), "replenishment.service_levels.A"),
        (lambda c: c["replenishment"]["allocation"].update(rule="first_come"), "replenishment.allocation.rule"),
        (lambda c: c["quality"].update(outlier_k=0), "quality.outlier_k must be a positive number"),
        (lambda c: c["quality"].update(max_quantity="lots"), "quality.max_quantity must be a positive number"),
        (lambda c: c["quality"].update(baseline_weeks=2.5), "quality.baseline_weeks must be a whole number"),
        (lambda c: c["quality"].update(max_qty=10), "quality.max_qty is not a known key"),
        (lambda c: c["replenishment"]["alerts"].update(min_daily_demand=-0.1),
         "replenishment.alerts.min_daily_demand must be a number >= 0"),
        (lambda c: c["replenishment"]["alerts"].update(min_daily_demand="low"),
         "replenishment.alerts.min_daily_demand must be a number >= 0"),
        (lambda c: c["replenishment"]["alerts"].update(min_demand=0.1), "replenishment.alerts.min_demand is not a known"),
        (lambda c: c["landing"].update(settle_seconds=0), "landing.settle_seconds"),
        (lambda c: c["landing"].update(settle_seconds="2m"), "landing.settle_seconds"),
        (lambda c: c["landing"].update(settle_seconds=True), "landing.settle_seconds"),
        (lambda c: c["landing"].update(marker_suffix=""), "landing.marker_suffix"),
        (lambda c: c["landing"].update(marker_suffix=None), "landing.marker_suffix"),
        (lambda c: c["landing"].update(marker_suffix=".gz"), "landing.marker_suffix '.gz' would make marker names"),
        (lambda c: c["landing"].update(settle_second=60), "landing.settle_second is not a known key"),
        (lambda c: c.update(landing=120), "landing must be a mapping"),
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


def test_landing_rules_come_from_the_config_file_with_defaults(tmp_path: Path):
    assert landing_rules(load_config(CONFIG)) == {"settle_seconds": 120, "marker_suffix": ".done"}
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    config["landing"] = {"settle_seconds": 300}
    path = tmp_path / "restock.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert landing_rules(load_config(path)) == {"settle_seconds": 300, "marker_suffix": ".done"}
    del config["landing"]  # the section is optional
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert landing_rules(load_config(path)) == {"settle_seconds": 120, "marker_suffix": ".done"}


@pytest.mark.parametrize("value", [0, 0.1, 2])
def test_alert_min_daily_demand_is_a_known_key(tmp_path: Path, value):
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    assert config["replenishment"]["alerts"]["min_daily_demand"] == 0.1  # documented in restock.yaml
    config["replenishment"]["alerts"]["min_daily_demand"] = value
    path = tmp_path / "restock.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    assert load_config(path)["replenishment"]["alerts"]["min_daily_demand"] == value


def test_quality_rules_reach_the_raw_gates():
    from restock.config import quality_rules
    from restock.ingest.gated import GateRules

    rules = GateRules(**quality_rules(load_config(CONFIG)))
    config = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))["quality"]
    assert (rules.max_quantity, rules.outlier_k, rules.baseline_weeks) == (
        config["max_quantity"], config["outlier_k"], config["baseline_weeks"])
    assert rules.suite_parameters("orders") == {"outlier_k": config["outlier_k"], "max_quantity": config["max_quantity"]}
