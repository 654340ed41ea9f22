"""One tiny generated landing folder and the Dagster definitions pointed at it.

The definitions are built for this folder with ``build_definitions(Settings(...))``:
folders and restock.yaml reach the assets as resources, so nothing is set in the
environment before an import.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from restock.demo.generator import DemoConfig, generate
from restock.settings import POSTGRES_URL_VARIABLE, PROJECT_ROOT, Settings

TINY = DemoConfig.for_scale("tiny", days=21)  # 2024-01-01 (a Monday) .. 2024-01-21
PG_SCHEMA = "restock_pipeline_test"


@pytest.fixture(scope="session")
def landing_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generate(TINY, out)
    return out


def tiny_settings(landing_dir: Path, data_dir: Path, config_path: Path | None = None) -> Settings:
    """Settings of a test pipeline (PostgreSQL too when the suite has a server)."""
    return Settings(
        landing_dir=landing_dir,
        data_dir=data_dir,
        config_path=config_path or PROJECT_ROOT / "restock.yaml",
        partition_start=TINY.start,
        postgres_url=os.environ.get(POSTGRES_URL_VARIABLE) or None,
        postgres_schema=PG_SCHEMA,
    )


@pytest.fixture(scope="session")
def pipeline(landing_dir, tmp_path_factory):
    """(definitions, settings) for the tiny landing folder and a fresh data folder."""
    from orchestration.definitions import build_definitions

    settings = tiny_settings(landing_dir, tmp_path_factory.mktemp("data"))
    return build_definitions(settings), settings
