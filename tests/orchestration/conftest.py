"""One tiny generated landing folder and the Dagster definitions pointed at it.

The code location reads its environment when it is imported, so the variables are
set here before the first import of ``orchestration``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from restock.demo.generator import DemoConfig, generate

TINY = DemoConfig.for_scale("tiny", days=21)  # 2024-01-01 (a Monday) .. 2024-01-21


@pytest.fixture(scope="session")
def landing_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generate(TINY, out)
    return out


@pytest.fixture(scope="session")
def pipeline(landing_dir, tmp_path_factory):
    """(definitions, settings) with RESTOCK_* pointing at the tiny landing folder."""
    data_dir = tmp_path_factory.mktemp("data")
    os.environ["RESTOCK_LANDING_DIR"] = str(landing_dir)
    os.environ["RESTOCK_DATA_DIR"] = str(data_dir)
    os.environ["RESTOCK_PARTITION_START"] = TINY.start.isoformat()
    os.environ.pop("RESTOCK_WAREHOUSE_PATH", None)
    from orchestration.definitions import defs
    from orchestration.environment import SETTINGS

    assert SETTINGS.data_dir == data_dir.resolve(), "orchestration was imported before the test environment was set"
    return defs, SETTINGS
