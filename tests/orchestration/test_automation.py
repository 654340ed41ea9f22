"""The daily schedule and the landing sensor, evaluated against a real instance."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import dagster as dg
import pytest


@pytest.fixture
def clock(pipeline, monkeypatch):
    """The sensor's clock, set by the test: files are judged against it, nobody sleeps.
    Starts an hour ahead, so the freshly generated landing files have settled."""
    from orchestration import automation

    now = {"t": time.time() + 3600}
    monkeypatch.setattr(automation, "time", SimpleNamespace(time=lambda: now["t"]))
    return now


def _sensor_tick(sensor, instance, defs, cursor=None):
    """One tick, its context closed after it as the daemon does.

    An open context is closed later by the garbage collector, and closing it resets
    Dagster's current definitions-state storage to one whose instance is gone: a later
    test then fails to resolve its definitions.
    """
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
    ) as context:
        return sensor.evaluate_tick(context)


def test_schedule_runs_the_previous_day_in_shanghai_time(pipeline, clock):
    from orchestration.automation import daily_schedule

    defs, _ = pipeline
    # Resolved outside the test instance: Dagster keeps the load context of the first
    # resolution, which must not point at an instance this test closes.
    repository = defs.get_repository_def()
    assert daily_schedule.execution_timezone == "Asia/Shanghai"
    assert daily_schedule.cron_schedule == "0 6 * * *"
    # 06:00 on 5 Jan in Shanghai is still 4 Jan in UTC: the partition must be 4 Jan.
    with (
        dg.instance_for_test() as instance,
        dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2024, 1, 5, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
            resources=defs.resources,
            repository_def=repository,
        ) as context,
    ):
        requests = list(daily_schedule.evaluate_tick(context).run_requests)
    assert [r.partition_key for r in requests] == ["2024-01-04"]


def test_schedule_waits_for_a_file_still_being_written(pipeline, clock, tmp_path):
    from orchestration.automation import daily_schedule
    from orchestration.definitions import build_definitions

    _, settings = pipeline
    landing = tmp_path / "landing"
    for extract in ("orders", "inventory"):
        (landing / extract).mkdir(parents=True)
    (landing / "inventory" / "2024-01-04.csv").write_text("warehouse_id,sku,on_hand_qty\n")
    orders = landing / "orders" / "2024-01-04.csv"
    orders.write_text("order_id\n1\n")
    os.utime(orders, (clock["t"] - 5, clock["t"] - 5))  # written 5 s before the tick
    os.utime(landing / "inventory" / "2024-01-04.csv", (clock["t"] - 3600, clock["t"] - 3600))
    defs = build_definitions(dataclasses.replace(settings, landing_dir=landing))
    repository = defs.get_repository_def()  # outside the test instance, see above
    when = datetime(2024, 1, 5, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with dg.instance_for_test() as instance:
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, resources=defs.resources, repository_def=repository
        ) as context:
            tick = daily_schedule.evaluate_tick(context)
        assert not tick.run_requests and "orders/2024-01-04.csv" in tick.skip_message
        clock["t"] += 3600  # settled: the same tick evaluated later launches the day
        with dg.build_schedule_context(
            instance=instance, scheduled_execution_time=when, resources=defs.resources, repository_def=repository
        ) as context:
            tick = daily_schedule.evaluate_tick(context)
        assert [r.partition_key for r in tick.run_requests] == ["2024-01-04"]


def test_sensor_launches_complete_days_in_order_then_redeliveries(pipeline, landing_dir, clock):
    from orchestration.automation import MAX_RUNS_PER_TICK, RANGE_END, RANGE_START, landing_requests, landing_sensor
    from restock.config import load_config

    defs, settings = pipeline
    rules = load_config(settings.config_path).landing

    with dg.instance_for_test() as instance:
        first = _sensor_tick(landing_sensor, instance, defs)
        keys = [r.partition_key for r in first.run_requests]
        assert keys[0] == "2024-01-01" and len(keys) == min(21, MAX_RUNS_PER_TICK)
        assert keys == sorted(keys)

        # Nothing new: the cursor remembers what was launched.
        again = _sensor_tick(landing_sensor, instance, defs, first.cursor)
        assert not again.run_requests and again.skip_message

        # A re-delivered inventory file for 2024-01-03, after later days were launched,
        # launches one run from that day to the latest launched day.
        path = landing_dir / "inventory" / "2024-01-03.csv.gz"
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        try:
            redelivered = _sensor_tick(landing_sensor, instance, defs, first.cursor)
        finally:
            os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the landing folder is shared
        (request,) = redelivered.run_requests
        assert request.partition_key is None
        assert request.tags[RANGE_START] == "2024-01-03" and request.tags[RANGE_END] == keys[-1]
        assert request.run_key not in {r.run_key for r in first.run_requests}

        # The latest day re-delivered alone runs alone.
        last = landing_requests(
            landing_dir, {**json.loads(first.cursor), keys[-1]: "changed"}, clock["t"], set(keys), rules
        )[0]
        assert [r.partition_key for r in last] == [keys[-1]]


def test_sensor_waits_for_files_still_being_written(pipeline, clock, tmp_path):
    from orchestration import automation
    from orchestration.definitions import build_definitions

    _, settings = pipeline
    # A landing folder of its own (the session's is shared with other tests), handed
    # to the sensor as a resource.
    landing = tmp_path / "landing"
    landing.mkdir()
    defs = build_definitions(dataclasses.replace(settings, landing_dir=landing))
    from restock.config import load_config

    rules = load_config(settings.config_path).landing
    settle, marker = rules.settle_seconds, rules.marker_suffix
    t0 = clock["t"]

    def write(extract, name, text, mtime):
        (landing / extract).mkdir(exist_ok=True)
        path = landing / extract / name
        path.write_text(text)
        os.utime(path, (mtime, mtime))
        return path

    write("inventory", "2024-01-02.csv", "warehouse_id,sku,on_hand_qty\n", t0 - 3600)
    write("orders", "2024-01-02.csv", "order_id\n1\n", t0 - 5)  # the sender is still writing

    with dg.instance_for_test() as instance:

        def tick(cursor=None):
            return _sensor_tick(automation.landing_sensor, instance, defs, cursor)

        waiting = tick()
        assert not waiting.run_requests
        assert "orders/2024-01-02.csv" in waiting.skip_message
        assert "inventory/2024-01-02.csv" not in waiting.skip_message

        # Still inside the settle time a minute later: still waiting.
        clock["t"] = t0 + settle - 10
        assert not tick(waiting.cursor).run_requests

        # Unchanged for settle_seconds: launched.
        clock["t"] = t0 + settle
        settled = tick(waiting.cursor)
        assert [r.partition_key for r in settled.run_requests] == ["2024-01-02"]
        assert not tick(settled.cursor).run_requests

        # Re-delivery: the new orders file is being written -> not launched yet, named ...
        clock["t"] = t0 + 1000
        write("orders", "2024-01-02.csv", "order_id\n1\n2\n", t0 + 999)
        rewriting = tick(settled.cursor)
        assert not rewriting.run_requests and "orders/2024-01-02.csv" in rewriting.skip_message

        # ... and launched once, at once, when the sender writes the marker after it.
        write("orders", f"2024-01-02.csv{marker}", "", t0 + 1000)
        marked = tick(rewriting.cursor)
        assert [r.partition_key for r in marked.run_requests] == ["2024-01-02"]
        assert marked.run_requests[0].run_key != settled.run_requests[0].run_key
        assert not tick(marked.cursor).run_requests
