"""`make backfill` end to end: one run through the instance's run queue, on a tiny data
set in temp folders, with the dagster-daemon the command starts when none runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
from dagster_processes import instance_home, open_instance, pipeline_env

ROOT = Path(__file__).resolve().parents[2]


def _daemons_of(home: Path) -> list[int]:
    """Process ids of dagster-daemons running on the instance at ``home``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, ValueError):
            continue
        if b"dagster-daemon" in cmdline and f"DAGSTER_HOME={home}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_make_backfill_queues_one_run_and_waits_for_it(landing_dir, tmp_path):
    data_dir, home = tmp_path / "data", instance_home(tmp_path / "dagster_home")
    env = {**pipeline_env(landing_dir, data_dir, home), "RESTOCK_UI_URL": "http://ui.example:3001/"}
    done = subprocess.run(
        ["make", "backfill", "START=2024-01-02", "END=2024-01-04"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    out = done.stdout
    assert "backfill 2024-01-02 .. 2024-01-04: done" in out
    # No daemon ran for this fresh instance: the command started one, and stopped it.
    assert f"no dagster-daemon is running for {home}: started one" in out
    assert not _daemons_of(home)
    queued = re.search(r"run (\S+) \(job restock_daily\) queued: http://ui\.example:3001/runs/(\S+)", out)
    assert queued and queued[1] == queued[2], out
    run_id = queued[1]
    # Progress: a line per finished step, naming what it materialized.
    assert re.search(r'Finished execution of step "raw__orders" in [0-9.]+m?s: raw/orders x3', out)
    # and the progress lines of the steps, from the run's log (restock/progress.py): days
    # done of the total, the rate, the time left; the last one the stage's wall time.
    day_rate = r"[0-9.,]+ days/min"
    assert re.search(
        rf"\] raw__orders: raw\.orders: 1/3 days \(through 2024-01-02\), {day_rate}, ~[0-9.]+ (s|min) left; ", out
    ), out
    assert re.search(rf"\] raw__orders: raw\.orders: 3/3 days \(through 2024-01-04\), {day_rate}, done in ", out)
    assert re.search(rf"analytics\.customer_segments: 3/3 days \(through 2024-01-04\), {day_rate}, done in .*rows", out)

    with open_instance(home) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
        assert run.job_name == "restock_daily"
        assert run.tags["dagster/asset_partition_range_start"] == "2024-01-02"
        assert run.tags["dagster/asset_partition_range_end"] == "2024-01-04"
        # Through the queue: enqueued, then launched by the daemon (starting), then started.
        lifecycle = [
            record.event_log_entry.dagster_event.event_type
            for record in instance.get_records_for_run(
                run_id,
                of_type={
                    dg.DagsterEventType.RUN_ENQUEUED,
                    dg.DagsterEventType.RUN_STARTING,
                    dg.DagsterEventType.RUN_START,
                    dg.DagsterEventType.RUN_SUCCESS,
                },
            ).records
        ]
        assert lifecycle == [
            dg.DagsterEventType.RUN_ENQUEUED,
            dg.DagsterEventType.RUN_STARTING,
            dg.DagsterEventType.RUN_START,
            dg.DagsterEventType.RUN_SUCCESS,
        ]
        # The daemon it started is gone, and so are its heartbeats: the next command
        # does not take it for a running one.
        assert not instance.get_daemon_heartbeats()

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    days = con.execute("select distinct as_of_date::varchar from marts.inventory_positions order by 1").fetchall()
    con.close()
    assert [d for (d,) in days] == ["2024-01-02", "2024-01-03", "2024-01-04"]


def test_a_failing_backfill_exits_non_zero_with_the_reason(landing_dir, tmp_path):
    """A run that fails in a step: exit 1, the step and its error on stdout."""
    home = instance_home(tmp_path / "dagster_home")
    env = pipeline_env(landing_dir, tmp_path / "data", home)
    env["RESTOCK_CONFIG"] = str(tmp_path / "restock.yaml")
    (tmp_path / "restock.yaml").write_text("no_such_section: {}\n")
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.cli", "backfill"]
        + ["--start", "2024-01-02", "--end", "2024-01-02", "--select", "group:raw"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-4000:]
    assert "backfill 2024-01-02 .. 2024-01-02: FAILED (failure)" in done.stdout
    assert "no_such_section is not a known key" in done.stdout
    assert "raw__" in done.stdout and "5 selected assets" in done.stdout


def test_make_backfill_without_range_explains_usage():
    done = subprocess.run(["make", "backfill"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0 and "usage: make backfill START=YYYY-MM-DD END=YYYY-MM-DD" in done.stdout
