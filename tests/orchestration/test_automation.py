"""The daily schedule and the landing sensor, evaluated against a real instance."""

from __future__ import annotations

import os
from datetime import datetime
from zoneinfo import ZoneInfo

import dagster as dg


def test_schedule_runs_the_previous_day_in_shanghai_time(pipeline):
    from orchestration.automation import daily_schedule

    assert daily_schedule.execution_timezone == "Asia/Shanghai"
    # 06:00 on 5 Jan in Shanghai is still 4 Jan in UTC: the partition must be 4 Jan.
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance, scheduled_execution_time=datetime(2024, 1, 5, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
        )
        requests = list(daily_schedule.evaluate_tick(context).run_requests)
    assert [r.partition_key for r in requests] == ["2024-01-04"]


def test_sensor_launches_complete_days_in_order_then_redeliveries(pipeline, landing_dir):
    from orchestration.automation import MAX_RUNS_PER_TICK, landing_sensor

    defs, _ = pipeline

    with dg.instance_for_test() as instance:
        first = landing_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, definitions=defs))
        keys = [r.partition_key for r in first.run_requests]
        assert keys[0] == "2024-01-01" and len(keys) == min(21, MAX_RUNS_PER_TICK)
        assert keys == sorted(keys)

        # Nothing new: the cursor remembers what was launched.
        again = landing_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor, definitions=defs))
        assert not again.run_requests and again.skip_message

        # A re-delivered inventory file for 2024-01-03 launches that day again.
        path = landing_dir / "inventory" / "2024-01-03.csv.gz"
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        redelivered = landing_sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=first.cursor, definitions=defs))
        assert [r.partition_key for r in redelivered.run_requests] == ["2024-01-03"]
        assert redelivered.run_requests[0].run_key != first.run_requests[2].run_key
