"""The configuration of the hand-made warehouse of test_assemble.py (and of
test_run_days.py, which carries it over several days): 4-week horizon and review
window, regions R1 / R2 on warehouses WH1 / WH2, none for other regions."""

from __future__ import annotations

import pytest

from restock.config import RestockConfig, load_config
from restock.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def config() -> RestockConfig:
    return load_config(PROJECT_ROOT / "restock.yaml").override(
        {
            "forecasting.horizon_weeks": 4,
            "accuracy.window_weeks": 4,
            "replenishment.region_warehouse": {"R1": "WH1", "R2": "WH2"},
            "replenishment.default_warehouse": None,
            "replenishment.min_error_weeks": 2,
        }
    )
