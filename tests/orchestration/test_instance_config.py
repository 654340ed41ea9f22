"""The shipped Dagster instance (dagster_home/dagster.yaml) parses, queues runs one at
a time, monitors runs (with a launcher that can check a run's process) and retries
crashed ones only."""

from __future__ import annotations

import shutil

import dagster as dg

from orchestration.run_launcher import LocalRunLauncher
from restock.settings import PROJECT_ROOT


def test_the_instance_monitors_runs_and_retries_only_crashed_ones(tmp_path, monkeypatch):
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", tmp_path / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))  # the event log's base_dir
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_start_timeout_seconds == 180
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_monitoring_poll_interval_seconds == 10
        # Dagster's default launcher cannot check a run's process: monitoring would
        # never find a run whose process and code server were both killed.
        assert type(instance.run_launcher) is LocalRunLauncher
        assert instance.run_launcher.supports_check_run_worker_health
        assert instance.run_launcher.warm_worker  # runs start without paying the imports (test_warm_worker.py)
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure
        assert instance.get_settings("concurrency")["runs"]["max_concurrent_runs"] == 1
