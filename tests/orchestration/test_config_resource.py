"""restock.yaml reaches every asset through the resources: a copy with another
forecast horizon runs a short backfill through publishing with that horizon, and
loading the code location reads no YAML and changes no environment variable."""

from __future__ import annotations

import os
import subprocess
import sys

import dagster as dg
import duckdb
import yaml
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from restock.settings import PROJECT_ROOT, Settings


def test_a_longer_horizon_in_a_copy_of_restock_yaml_is_forecast_gated_and_published(landing_dir, tmp_path):
    from orchestration.definitions import build_definitions

    raw = yaml.safe_load((PROJECT_ROOT / "restock.yaml").read_text(encoding="utf-8"))
    raw["forecasting"]["horizon_weeks"] = 12
    config_path = tmp_path / "restock.yaml"
    config_path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    settings = Settings(landing_dir=landing_dir, data_dir=tmp_path / "data", config_path=config_path)
    defs = build_definitions(settings)
    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        # Resolved with a live instance: Dagster's load context follows the current one.
        job = defs.resolve_job_def("restock_daily")
        result = job.execute_in_process(
            instance=instance,
            tags={ASSET_PARTITION_RANGE_START_TAG: "2024-01-01", ASSET_PARTITION_RANGE_END_TAG: "2024-01-08"},
        )
    assert result.success
    checks = {(c.asset_key.to_user_string(), c.check_name): c.passed for c in result.get_asset_check_evaluations()}
    assert checks[("published/demand_forecasts", "publishable")]
    serving = duckdb.connect(str(settings.data_dir / "serving.duckdb"), read_only=True)
    try:
        horizons = serving.execute(
            "select as_of_date::varchar, min(horizon), max(horizon), count(distinct horizon) "
            "from demand_forecasts group by 1 order by 1"
        ).fetchall()
    finally:
        serving.close()
    assert horizons == [("2024-01-07", 1, 12, 12), ("2024-01-08", 1, 12, 12)]


def test_loading_the_code_location_reads_no_yaml_leaves_the_environment_alone_and_imports_no_data_stack(tmp_path):
    # A config path that does not exist: loading must not need it (it is read in runs).
    env = {**os.environ, "RESTOCK_CONFIG": str(tmp_path / "absent.yaml"), "RESTOCK_DATA_DIR": str(tmp_path)}
    probe = (
        "import os, sys, builtins\n"
        "before = dict(os.environ)\n"
        "opened = []\n"
        "real_open = builtins.open\n"
        "def spy(file, *a, **k):\n"
        "    opened.append(str(file)); return real_open(file, *a, **k)\n"
        "builtins.open = spy\n"
        "import orchestration.definitions as d\n"
        "builtins.open = real_open\n"
        "assert dict(os.environ) == before, 'environment changed'\n"
        "yamls = [f for f in opened if f.endswith(('.yaml', '.yml')) and 'site-packages' not in f]\n"
        "assert not [f for f in yamls if f.endswith('restock.yaml') or 'absent' in f], yamls\n"
        "heavy = [m for m in ('pandas', 'pyarrow', 'statsmodels', 'great_expectations', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, f'imported at load: {heavy}'\n"
        "print('loaded', len(d.defs.resolve_asset_graph().get_all_asset_keys()))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "loaded" in done.stdout


def test_an_edited_restock_yaml_is_read_again_by_a_long_lived_process(tmp_path):
    import os

    from orchestration.resources import RestockResource

    path = tmp_path / "restock.yaml"
    path.write_text("forecasting:\n  horizon_weeks: 8\n", encoding="utf-8")
    resource = RestockResource(landing_dir=str(tmp_path), data_dir=str(tmp_path), config_path=str(path))
    assert resource.config.forecasting.horizon_weeks == 8
    assert resource.config is resource.config, "read once while the file is unchanged"
    path.write_text("forecasting:\n  horizon_weeks: 12\n", encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a later edit, whatever the clock
    assert resource.config.forecasting.horizon_weeks == 12
