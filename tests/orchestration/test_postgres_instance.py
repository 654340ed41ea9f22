"""The production instance (dagster_home/dagster.postgres.yaml): Dagster's runs and event
log in PostgreSQL, with the same queue, run monitoring and run retries as dagster.yaml.

The PostgreSQL part needs a server (RESTOCK_POSTGRES_URL; .ci/run starts one) and is
skipped without it. Dagster's tables go to a schema of their own in that database,
dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace

import dagster as dg
import pytest
import yaml

from restock.settings import POSTGRES_URL_VARIABLE, PROJECT_ROOT
from tests.orchestration.conftest import tiny_settings
from tests.orchestration.failed_runs import fail_a_started_run, watch_failure_writes

EXAMPLE = PROJECT_ROOT / "dagster_home" / "dagster.postgres.yaml"
SQLITE = PROJECT_ROOT / "dagster_home" / "dagster.yaml"
SCHEMA = "restock_dagster_instance_test"
DAY = "2024-01-01"


def test_the_postgres_instance_keeps_the_settings_of_dagster_yaml():
    example = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    sqlite = yaml.safe_load(SQLITE.read_text(encoding="utf-8"))
    url = {"postgres_url": {"env": "DAGSTER_PG_URL"}}
    assert example.pop("run_storage") == {
        "module": "dagster_postgres.run_storage",
        "class": "PostgresRunStorage",
        "config": url,
    }
    assert example.pop("event_log_storage") == {
        "module": "orchestration.event_log_postgres",
        "class": "RunStateFirstPostgresEventLogStorage",
        "config": url,
    }
    assert example.pop("schedule_storage") == {
        "module": "dagster_postgres.schedule_storage",
        "class": "PostgresScheduleStorage",
        "config": url,
    }
    sqlite.pop("event_log_storage")
    assert example == sqlite, "dagster.postgres.yaml and dagster.yaml differ besides storage"


@pytest.fixture
def postgres_home(tmp_path, monkeypatch):
    """A DAGSTER_HOME holding the example instance, pointed at a fresh schema."""
    url = os.environ.get(POSTGRES_URL_VARIABLE)
    if not url:
        pytest.skip(f"{POSTGRES_URL_VARIABLE} is unset: no PostgreSQL server (.ci/run starts one)")
    import psycopg

    def reset(create: bool) -> None:
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(f"drop schema if exists {SCHEMA} cascade")
            if create:
                con.execute(f"create schema {SCHEMA}")

    reset(create=True)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(EXAMPLE, home / "dagster.yaml")
    # As README.md says: the psycopg2 driver named (dagster-postgres needs it; SQLAlchemy 2.1
    # would take psycopg 3 for a bare postgresql://), and a schema of Dagster's own.
    dagster_url = url.replace("postgresql://", "postgresql+psycopg2://", 1).replace(
        "postgres://", "postgresql+psycopg2://", 1
    )
    separator = "&" if "?" in dagster_url else "?"
    monkeypatch.setenv("DAGSTER_PG_URL", f"{dagster_url}{separator}options=-csearch_path%3D{SCHEMA}")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    try:
        yield home, url
    finally:
        reset(create=False)


def test_runs_and_materializations_of_a_day_are_stored_in_postgres(postgres_home, landing_dir, tmp_path):
    import psycopg

    from orchestration.definitions import build_definitions

    home, url = postgres_home
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert type(instance.event_log_storage).__name__ == "RunStateFirstPostgresEventLogStorage"
        assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
        # The queue, run monitoring and retries of dagster.yaml.
        assert instance.get_settings("concurrency")["runs"]["max_concurrent_runs"] == 1
        assert instance.run_monitoring_enabled and instance.run_monitoring_start_timeout_seconds == 180
        assert instance.run_monitoring_settings["cancel_timeout_seconds"] == 180
        assert instance.run_monitoring_max_resume_run_attempts == 0
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert not instance.run_retries_retry_on_asset_or_op_failure

        # A tiny demo day through the job (published files only: not this test's PostgreSQL tables).
        settings = replace(tiny_settings(landing_dir, tmp_path / "data"), postgres_url=None)
        job = build_definitions(settings).resolve_job_def("restock_daily")
        result = job.execute_in_process(instance=instance, partition_key=DAY)
        assert result.success
        materialized = {e.asset_key for e in result.get_asset_materialization_events()}
        assert dg.AssetKey(["raw", "orders"]) in materialized and len(materialized) > 5
        run_id = result.run_id

    # In PostgreSQL, in the instance's schema.
    with psycopg.connect(url) as con:
        ((status, partition),) = con.execute(
            f"select r.status, t.value from {SCHEMA}.runs r join {SCHEMA}.run_tags t on t.run_id = r.run_id "
            "where r.run_id = %s and t.key = 'dagster/partition'",
            [run_id],
        ).fetchall()
        assert (status, partition) == ("SUCCESS", DAY)
        stored = {
            row[0]
            for row in con.execute(
                f"select asset_key from {SCHEMA}.event_logs where run_id = %s "
                "and dagster_event_type = 'ASSET_MATERIALIZATION'",
                [run_id],
            ).fetchall()
        }
        assert stored == {key.to_string() for key in materialized}

    # A new process (webserver, daemon) reading the same instance sees the run and its assets.
    with dg.DagsterInstance.from_config(str(home)) as again:
        run = again.get_run_by_id(run_id)
        assert run is not None and run.is_success and run.tags["dagster/partition"] == DAY
        latest = again.get_latest_materialization_event(dg.AssetKey(["raw", "orders"]))
        assert latest is not None and latest.run_id == run_id


def test_a_failed_run_is_failed_before_its_failure_event_in_postgres(postgres_home, monkeypatch):
    """As on SQLite (tests/orchestration/test_event_log.py): when the failure event row
    is written, the run is already FAILURE and tagged for a retry, which the daemon's
    auto-retry would start if it read the event at that moment."""
    from dagster_postgres.event_log import PostgresEventLogStorage

    from orchestration.event_log import instance_source_hash, run_state_first

    if not run_state_first():
        pytest.skip(f"this Dagster's run-event handling ({instance_source_hash()[:12]}) is not the known one")
    seen = watch_failure_writes(PostgresEventLogStorage, monkeypatch)
    home, _ = postgres_home
    with dg.DagsterInstance.from_config(str(home)) as instance:
        fail_a_started_run(instance)
    assert seen == {"RunStateFirstPostgresEventLogStorage": (dg.DagsterRunStatus.FAILURE, "true", 1)}
