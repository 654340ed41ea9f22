"""Concurrent launches (issue 12): a scheduled run, a sensor run and a CLI backfill
requested together wait in the instance's run queue and run one after another (one
DuckDB writer), and all succeed.

As in production on the morning after a day D: the sensor launches D when its files
land, the 06:00 schedule launches D, and someone backfills the days up to D. Whatever
order the queue takes them in, each run finds the earlier days it needs (a day with a
gap in its raw history is not published, quality.history_gaps).

A running `dagster-daemon` (as in production) dequeues them. The schedule's and the
sensor's run requests come from evaluating the real schedule and sensor; each is
submitted as the daemon submits it (the job, its partition and the daemon's tags)
by `dagster job launch`, at the same moment as `make backfill`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import dagster as dg
from dagster_processes import BIN, WORKSPACE, daemon, instance_home, open_instance, pipeline_env

from restock.demo.generator import DemoConfig, generate
from restock.settings import PROJECT_ROOT, Settings


def _requests(landing: Path, data: Path) -> dict[str, dg.RunRequest]:
    """The schedule's request for 3 Jan (its 06:00 tick on 4 Jan) and the sensor's for
    3 Jan, the newest day (the earlier days already launched)."""
    from orchestration.automation import daily_schedule, landing_sensor
    from orchestration.definitions import build_definitions

    defs = build_definitions(Settings(landing_dir=landing, data_dir=data, partition_start=date(2024, 1, 1)))
    with dg.instance_for_test() as instance:
        # resolved inside a live instance: Dagster's load context may hold an earlier test's
        repository = defs.get_repository_def()
        with dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=datetime(2024, 1, 4, 6, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
            resources=defs.resources,
            repository_def=repository,
        ) as context:
            (scheduled,) = daily_schedule.evaluate_tick(context).run_requests
        with dg.build_sensor_context(instance=instance, definitions=defs, resources=defs.resources) as context:
            first = landing_sensor.evaluate_tick(context)
        launched = json.loads(first.cursor)
        del launched["2024-01-03"]
        with dg.build_sensor_context(
            instance=instance, cursor=json.dumps(launched), definitions=defs, resources=defs.resources
        ) as context:
            (sensed,) = landing_sensor.evaluate_tick(context).run_requests
    return {"restock_daily_schedule": scheduled, "landing_sensor": sensed}


def test_schedule_sensor_and_cli_backfill_requested_together_run_one_after_another(tmp_path, monkeypatch):
    from orchestration import automation

    landing, data = tmp_path / "landing", tmp_path / "data"
    generate(DemoConfig.for_scale("tiny", days=3), landing)  # 2024-01-01 .. 2024-01-03
    # The landing files were just generated: judge them an hour later, when settled.
    monkeypatch.setattr(automation, "time", SimpleNamespace(time=lambda: time.time() + 3600))
    requests = _requests(landing, data)
    assert requests["restock_daily_schedule"].partition_key == "2024-01-03"
    assert requests["landing_sensor"].partition_key == "2024-01-03"

    home = instance_home(tmp_path / "dagster_home")
    env = pipeline_env(landing, data, home)
    with daemon(env, tmp_path / "daemon.log"):
        commands = []
        for name, request in requests.items():
            kind = "schedule_name" if name.endswith("schedule") else "sensor_name"
            tags = {
                **request.tags,
                "dagster/partition": request.partition_key,
                f"dagster/{kind}": name,
                "dagster/run_key": request.run_key,
            }
            commands.append(
                [str(BIN / "dagster"), "job", "launch", "-w", str(WORKSPACE)]
                + ["-j", "restock_daily", "--tags", json.dumps(tags)]
            )
        commands.append(
            [sys.executable, "-m", "orchestration.cli", "backfill", "--start", "2024-01-01", "--end", "2024-01-03"]
            # The raw loads only (they write the warehouse too): a whole run costs ~40 s more.
            + ["--select", "group:raw"]
        )
        procs = [
            subprocess.Popen(c, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for c in commands
        ]
        outputs = [p.communicate(timeout=900)[0] for p in procs]
        for proc, output in zip(procs, outputs, strict=True):
            assert proc.returncode == 0, output[-4000:]
        cli_output = outputs[-1]
        # A daemon runs for this instance: the CLI used it rather than start one.
        assert "started one" not in cli_output and "backfill 2024-01-01 .. 2024-01-03: done" in cli_output

        with open_instance(home) as instance:
            deadline = time.monotonic() + 900
            while not all(r.is_finished for r in instance.get_runs()):
                assert time.monotonic() < deadline, "runs still unfinished after 900 s"
                time.sleep(2)
            records = instance.get_run_records()
            # Each went through the queue (none was launched around it).
            for record in records:
                enqueued = instance.get_records_for_run(
                    record.dagster_run.run_id, of_type=dg.DagsterEventType.RUN_ENQUEUED
                ).records
                assert len(enqueued) == 1, record.dagster_run.tags

    assert len(records) == 3
    by_origin = {}
    for record in records:
        run = record.dagster_run
        origin = run.tags.get("dagster/schedule_name") or run.tags.get("dagster/sensor_name") or "cli"
        by_origin[origin] = record
        assert run.status == dg.DagsterRunStatus.SUCCESS, (origin, run.status)
    assert set(by_origin) == {"restock_daily_schedule", "landing_sensor", "cli"}
    assert by_origin["landing_sensor"].dagster_run.tags["dagster/partition"] == "2024-01-03"
    assert by_origin["cli"].dagster_run.tags["dagster/asset_partition_range_start"] == "2024-01-01"
    # One after another: no two runs' [start, end] intervals overlap.
    intervals = sorted((r.start_time, r.end_time) for r in records)
    assert all(start is not None and end is not None for start, end in intervals)
    for (_, end), (start, _) in zip(intervals, intervals[1:], strict=False):
        assert end <= start, intervals
