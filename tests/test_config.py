"""The config file: validation with clear errors, and dbt's defaults kept equal to it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from restock.config import ConfigError, dbt_vars, load_config
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
