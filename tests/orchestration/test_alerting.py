"""Alerts from the real code location (orchestration/alerting.py) on a real Dagster instance:
a run stopped by a bad orders file sends day_blocked, a run whose step fails sends
run_failed, and a published table older than its freshness limit fails its freshness
check and sends one stale_table alert. The sensors are evaluated the way the daemon
does: a tick, then the next tick with the cursor the first one left.

Works on its own copy of the session's tiny landing folder and its own data folder,
so the files it breaks and the quarantine it causes touch no other module.
"""

from __future__ import annotations

import csv
import io
import shutil
import time

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.instance.utils import RUNLESS_JOB_NAME, RUNLESS_RUN_ID

from orchestration.alerting import FRESHNESS_CHECK, PUBLISHED_KEYS
from restock.alerts import read_alerts
from restock.settings import PROJECT_ROOT
from tests.orchestration.conftest import tiny_settings

DAY = "2024-01-01"  # the first partition: no earlier day the run could depend on
BAD_ROW = 17
UI = "http://dagster.internal:3000"


@pytest.fixture(scope="module")
def location(landing_dir, tmp_path_factory):
    """(definitions, settings, instance) on a copy of the landing folder and a fresh data folder."""
    from dataclasses import replace

    from orchestration.definitions import build_definitions

    landing = tmp_path_factory.mktemp("alerting") / "landing"
    shutil.copytree(landing_dir, landing)
    config = tmp_path_factory.mktemp("config") / "restock.yaml"
    config.write_text(
        (PROJECT_ROOT / "restock.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )  # the shipped rules, alerting section included
    settings = replace(tiny_settings(landing, tmp_path_factory.mktemp("data"), config), ui_url=UI)
    defs = build_definitions(settings)
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster_home"))) as instance:
        yield defs, settings, instance


def _tick(defs, sensor_name, instance, cursor):
    """One evaluation of a sensor as the daemon runs it: (result, cursor after)."""
    sensor = defs.resolve_sensor_def(sensor_name)
    # Closed after the tick, as the daemon does: an open context would keep Dagster's
    # current state storage pointing at an instance that is gone when it is collected.
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"restock": defs.resources["restock"]}
    ) as context:
        result = sensor.evaluate_tick(context)
        return result, result.cursor if result.cursor is not None else context.cursor


def _break_orders(path):
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    rows[BAD_ROW][rows[0].index("quantity")] = "-3"
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def test_a_run_stopped_by_a_bad_orders_file_sends_day_blocked(location):
    defs, settings, instance = location
    job = defs.resolve_job_def("restock_daily")
    _, cursor = _tick(defs, "restock_run_failure_alerts", instance, None)  # the first tick starts the cursor
    assert read_alerts(settings.data_dir) == []

    orders = settings.landing_dir / "orders" / f"{DAY}.csv"
    good = orders.read_bytes()
    _break_orders(orders)
    try:
        run = job.execute_in_process(instance=instance, partition_key=DAY, raise_on_error=False)
    finally:
        orders.write_bytes(good)
    assert not run.success

    _, cursor = _tick(defs, "restock_run_failure_alerts", instance, cursor)
    (alert,) = read_alerts(settings.data_dir)
    assert alert["kind"] == "day_blocked"
    assert alert["subject"] == "raw/orders orders_contract"
    assert alert["partition"] == DAY and alert["run_id"] == run.run_id
    assert alert["ui_link"] == f"{UI}/runs/{run.run_id}"
    # The reason is the check's own message: the file, the row and the column.
    assert f"orders/{DAY}.csv row {BAD_ROW}: quantity='-3'" in alert["reason"], alert["reason"]

    # The next tick has nothing new: no second alert for the same run.
    _tick(defs, "restock_run_failure_alerts", instance, cursor)
    assert len(read_alerts(settings.data_dir)) == 1


def test_a_failed_step_sends_run_failed_with_its_error(location):
    defs, settings, instance = location
    job = defs.resolve_job_def("restock_daily")
    _, cursor = _tick(defs, "restock_run_failure_alerts", instance, None)
    before = len(read_alerts(settings.data_dir))

    orders = settings.landing_dir / "orders" / f"{DAY}.csv"
    moved = orders.with_name("elsewhere.bak")
    orders.rename(moved)  # the day's orders file is missing: the raw step fails and names it
    try:
        run = job.execute_in_process(instance=instance, partition_key=DAY, raise_on_error=False)
    finally:
        moved.rename(orders)
    assert not run.success

    _tick(defs, "restock_run_failure_alerts", instance, cursor)
    alert = read_alerts(settings.data_dir)[before]
    assert alert["kind"] == "run_failed", alert
    assert alert["subject"] == "restock_daily: raw__orders"
    # The step and the user's error (its class once, not Dagster's wrapper), naming the file.
    assert "step raw__orders: MissingDeliveryError: " in alert["reason"], alert["reason"]
    assert alert["reason"].count("MissingDeliveryError") == 1 and f"orders/{DAY}.csv" in alert["reason"]
    assert alert["partition"] == DAY and alert["ui_link"] == f"{UI}/runs/{run.run_id}"


def _materialized(instance, key, hours_ago, latest_day):
    """A materialization of ``key`` stored in the instance's event log ``hours_ago`` hours ago."""
    materialization = dg.AssetMaterialization(asset_key=key, metadata={"latest_day": latest_day})
    instance.report_dagster_event(
        DagsterEvent(
            event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
            event_specific_data=StepMaterializationData(materialization),
            job_name=RUNLESS_JOB_NAME,
        ),
        run_id=RUNLESS_RUN_ID,
        timestamp=time.time() - hours_ago * 3600,
    )


def test_a_published_table_older_than_its_limit_fails_its_freshness_check_and_alerts_once(location, tmp_path_factory):
    defs, settings, _ = location
    stale_key = dg.AssetKey(["published", "replenishment_plan"])
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("fresh_home"))) as instance:
        # The shipped limit is 30 h: replenishment_plan was last published 31 h ago, the rest 2 h ago.
        for key in PUBLISHED_KEYS:
            _materialized(
                instance, key, 31 if key == stale_key else 2, "2024-01-20" if key == stale_key else "2024-01-21"
            )
        before = len(read_alerts(settings.data_dir))

        # The freshness check itself, run as the daily job runs it after publishing.
        job = defs.resolve_job_def("restock_daily")
        checks = {dg.AssetCheckKey(key, FRESHNESS_CHECK) for key in PUBLISHED_KEYS}
        run = job.get_subset(asset_selection=set(), asset_check_selection=checks).execute_in_process(
            instance=instance, partition_key="2024-01-21", raise_on_error=False
        )
        evaluations = {e.asset_key: e for e in run.get_asset_check_evaluations()}
        assert set(evaluations) == set(PUBLISHED_KEYS)
        assert not evaluations[stale_key].passed
        assert evaluations[stale_key].severity == dg.AssetCheckSeverity.WARN
        assert "31.0 h ago" in evaluations[stale_key].description, evaluations[stale_key].description
        assert all(e.passed for k, e in evaluations.items() if k != stale_key)
        assert run.success, "a stale table warns; it does not fail the run"

        # The freshness sensor evaluates the same check without a run and alerts once.
        result, cursor = _tick(defs, "restock_freshness_alerts", instance, None)
        assert {e.asset_key: e.passed for e in result.asset_events} == {k: k != stale_key for k in PUBLISHED_KEYS}
        (alert,) = read_alerts(settings.data_dir)[before:]
        assert alert["kind"] == "stale_table" and alert["subject"] == "published/replenishment_plan"
        assert alert["partition"] == "2024-01-20", "the last day BI has"
        assert "31.0 h ago" in alert["reason"] and "30 h" in alert["reason"]
        assert alert["ui_link"] == f"{UI}/assets/published/replenishment_plan"

        # Ticks every few minutes: no repeat while nothing changed, and nothing re-recorded.
        result, cursor = _tick(defs, "restock_freshness_alerts", instance, cursor)
        assert list(result.asset_events) == [] and "already alerted" in (result.skip_message or "")
        assert len(read_alerts(settings.data_dir)) == before + 1

        # Published again: the check passes again and records it; no alert.
        _materialized(instance, stale_key, 0, "2024-01-21")
        result, cursor = _tick(defs, "restock_freshness_alerts", instance, cursor)
        assert [(e.asset_key, e.passed) for e in result.asset_events] == [(stale_key, True)]
        assert len(read_alerts(settings.data_dir)) == before + 1


@pytest.mark.parametrize(("automation", "status"), [("on", "RUNNING"), ("off", "STOPPED")])
def test_the_alert_sensors_start_with_the_schedule(automation, status, tmp_path):
    """RESTOCK_AUTOMATION=on starts them running, as it does the schedule (read at load)."""
    import os
    import subprocess
    import sys

    probe = (
        "import orchestration.definitions as d\n"
        "print({s.name: s.default_status.value for s in d.defs.sensors})\n"
        "print(d.defs.resolve_schedule_def('restock_daily_schedule').default_status.value)\n"
    )
    env = {**os.environ, "RESTOCK_AUTOMATION": automation, "DAGSTER_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    sensors, schedule = done.stdout.strip().splitlines()[-2:]
    assert schedule == status
    for name in ("restock_run_failure_alerts", "restock_freshness_alerts"):
        assert f"'{name}': '{status}'" in sensors, sensors
