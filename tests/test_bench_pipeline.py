"""The measuring logic of benchmarks/bench_pipeline.py (`make bench`): CPU growth of a
process tree across samples, attribution of sampled intervals to step windows, and the
sampler on real processes against the kernel's own count."""

from __future__ import annotations

import importlib.util
import resource
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("bench_pipeline", ROOT / "benchmarks" / "bench_pipeline.py")
assert _spec is not None and _spec.loader is not None
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench_pipeline"] = bench  # dataclasses look their module up
_spec.loader.exec_module(bench)

Proc, Interval, Window = bench.Proc, bench.Interval, bench.Window


def test_a_child_reaped_between_samples_is_counted_once():
    # parent 10 (own 1 s) with child 11 (2 s so far); by the next sample the child has
    # used 3 s in all, exited and been reaped: its 3 s are in the parent's cutime.
    prev = {10: Proc(ppid=1, start=100, cpu=1.0, rss=0), 11: Proc(ppid=10, start=105, cpu=2.0, rss=0)}
    cur = {10: Proc(ppid=1, start=100, cpu=1.5 + 3.0, rss=0)}
    assert bench.cpu_growth(prev, cur) == pytest.approx(0.5 + 1.0)
    # a grandchild reaped by its parent, itself reaped by 10, in the same interval
    prev[12] = Proc(ppid=11, start=106, cpu=0.5, rss=0)
    cur = {10: Proc(ppid=1, start=100, cpu=1.0 + 3.0 + 0.75, rss=0)}
    assert bench.cpu_growth(prev, cur) == pytest.approx(1.0 + 0.25)


def test_new_processes_count_whole_and_a_reused_pid_is_a_new_process():
    prev = {10: Proc(ppid=1, start=100, cpu=1.0, rss=0), 11: Proc(ppid=10, start=105, cpu=2.0, rss=0)}
    # 11 was reaped (its 2.5 s in 10's cutime) and its pid taken by a new child of 10
    cur = {10: Proc(ppid=1, start=100, cpu=1.0 + 2.5, rss=0), 11: Proc(ppid=10, start=300, cpu=0.25, rss=0)}
    assert bench.cpu_growth(prev, cur) == pytest.approx(0.5 + 0.25)
    assert bench.cpu_growth({}, cur) == pytest.approx(3.75)


def test_a_group_does_not_lose_what_leaves_it_to_a_reaper_outside():
    # run worker 20 under code server 10: the worker exits and 10 reaps it; for the
    # worker's group the worker's CPU so far stays counted (not subtracted), its child
    # 21, reaped by the worker earlier, through the worker's cutime.
    prev = {
        10: Proc(ppid=1, start=1, cpu=1.0, rss=0),
        20: Proc(ppid=10, start=2, cpu=4.0, rss=0),
        21: Proc(ppid=20, start=3, cpu=1.0, rss=0),
    }
    mid = {10: prev[10], 20: Proc(ppid=10, start=2, cpu=4.0 + 1.5, rss=0)}  # 21 used 0.5 s more, reaped
    assert bench.cpu_growth(prev, mid, {20, 21}) == pytest.approx(0.5)
    end = {10: Proc(ppid=1, start=1, cpu=1.0 + 6.0, rss=0)}  # 20 used 0.5 s more, reaped by 10
    assert bench.cpu_growth(mid, end, {20}) == pytest.approx(0.0)  # its last 0.5 s is not seen
    assert bench.cpu_growth(mid, end) == pytest.approx(0.5)  # the whole tree sees it


def test_intervals_follow_the_subtree_of_a_root():
    samples = [
        (0.0, {10: Proc(1, 1, 1.0, 100), 20: Proc(10, 2, 0.0, 50)}),
        (1.0, {10: Proc(1, 1, 1.5, 100), 20: Proc(10, 2, 1.0, 60), 21: Proc(20, 3, 0.25, 5)}),
    ]
    whole = bench.intervals(samples)
    assert [(i.t0, i.t1, i.cpu, i.rss) for i in whole] == [(0.0, 0.0, 1.0, 150), (0.0, 1.0, 1.75, 165)]
    worker = bench.intervals(samples, root=20)
    assert [(i.cpu, i.rss) for i in worker] == [(0.0, 50), (1.25, 65)]


def test_attribute_splits_intervals_over_windows_by_overlap():
    spans = [
        Interval(0.0, 0.0, 0.5, 10),  # at t=0: inside "a"
        Interval(0.0, 1.0, 1.0, 20),  # half in a, half in b
        Interval(1.0, 2.0, 2.0, 30),  # 0.25 in b, the rest outside every window
    ]
    windows = [Window("a", 0.0, 0.5), Window("b", 0.5, 1.25)]
    got = bench.attribute(spans, windows)
    assert got["a"] == (pytest.approx(0.5 + 0.5), 20)
    assert got["b"] == (pytest.approx(0.5 + 0.5), 30)
    assert got[""] == (pytest.approx(1.5), 30)
    # one label over several windows (a stage of several steps) adds up
    got = bench.attribute(spans, [Window("s", 0.0, 0.25), Window("s", 0.75, 2.0)])
    assert got["s"][0] == pytest.approx(0.5 + 0.25 + 0.25 + 2.0)
    assert sum(cpu for cpu, _ in got.values()) == pytest.approx(3.5)


def test_gaps_are_the_run_outside_its_steps():
    steps = [Window("x", 2.0, 3.0), Window("y", 1.0, 2.0), Window("z", 5.0, 6.0)]
    gaps = bench.gaps(0.0, 7.0, steps, "o")
    assert [(w.start, w.end) for w in gaps] == [(0.0, 1.0), (3.0, 5.0), (6.0, 7.0)]
    assert {w.label for w in gaps} == {"o"}


def test_step_keys_map_to_the_stages_of_the_issue():
    assert bench.stage_of("raw__orders") == "raw + gates"
    assert bench.stage_of("restock_dbt_models") == "dbt"
    assert bench.stage_of("segmentation__customer_segments") == "segments"
    assert bench.stage_of("forecasting__forecast_accuracy") == "accuracy"
    assert bench.stage_of("published_tables") == "gating + publishing"
    assert bench.stage_of("something_new") == "other: something_new"


def test_daily_days_are_the_last_day_and_the_other_kind():
    # tiny ends on a Sunday (the forecast day): then the Wednesday before it
    assert [d for d, _ in bench.daily_days(date(2024, 5, 19), 7)] == [date(2024, 5, 19), date(2024, 5, 15)]
    # demo ends on a Wednesday: then the Sunday before it
    days = bench.daily_days(date(2025, 12, 31), 7)
    assert [d for d, _ in days] == [date(2025, 12, 31), date(2025, 12, 28)]
    assert days[1][1] == "Sun, forecast day" and days[0][1] == "Wed, no forecast"


def test_the_sampler_counts_a_real_tree_as_the_kernel_does(tmp_path):
    """A parent that starts two children (one with a grandchild), each burning CPU,
    and waits for them: the sampled CPU of the tree matches the kernel's rusage."""
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\n"
    grandchild = burn.format(s=0.3)
    child = burn.format(s=0.2) + (
        f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {grandchild!r}], check=True)\n"
    )
    script = tmp_path / "tree.py"
    script.write_text(
        textwrap.dedent(f"""
        import subprocess, sys
        a = subprocess.Popen([sys.executable, '-c', {child!r}])
        b = subprocess.Popen([sys.executable, '-c', {burn.format(s=0.4)!r}])
        a.wait(); b.wait()
        """)
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen([sys.executable, str(script)])
    sampler = bench.TreeSampler(proc.pid, None, 0.05).start()
    assert proc.wait(timeout=120) == 0
    samples = sampler.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    kernel = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    # the sampler sees the parent up to its last sample before exit, and four processes
    sampled = sum(i.cpu for i in bench.intervals(samples))
    assert kernel >= 0.9
    assert sampled == pytest.approx(kernel, abs=0.15)
    assert len(sampler.names) == 4


def _run(kind: str, scale_factor: float) -> Any:
    """A synthetic measured daily run: CLI 10 from t=0 to 9; the run worker 20 (under
    code server 15) runs the run from t=2 to 8: raw 2-4, dbt 4-7; the worker uses
    0.4 s CPU every 0.5 s, the CLI 0.05 s, everything times ``scale_factor``."""
    samples = []
    for i in range(19):
        t = i * 0.5
        worker_cpu = 0.4 * scale_factor * max(0, min(i, 16) - 4)  # busy from t=2 to t=8
        snap = {10: Proc(1, 1, 0.05 * i, 100 * bench.MB, own=0.05 * i), 15: Proc(1, 2, 0.0, 50 * bench.MB)}
        if 4 <= i <= 16:
            snap[20] = Proc(15, 3, worker_cpu, 200 * bench.MB, own=worker_cpu)
        samples.append((t, snap))
    measured = bench.Measured("x", ["cli"], 10, 0.0, 9.0, 0, "", samples)
    events = bench.RunEvents(
        "0" * 36, 1.0, 2.0, 8.0, [Window("raw__orders", 2.0, 4.0), Window("restock_dbt_models", 4.0, 7.0)], 20
    )
    rows = bench.stage_rows(measured, events)
    return bench.RunResult(kind, kind, measured, events, rows, bench.cpu_by_role(measured, 20, 10))


def test_stage_rows_add_up_to_the_command():
    run = _run("Wed, no forecast", 1.0)
    rows = {row.stage: row for row in run.rows}
    assert [r.stage for r in run.rows] == ["raw + gates", "dbt", "overhead in run", "start-up", "shut-down"]
    assert (rows["raw + gates"].wall, rows["dbt"].wall) == (pytest.approx(2.0), pytest.approx(3.0))
    assert rows["overhead in run"].wall == pytest.approx(1.0)  # run 2..8 minus 5 s of steps
    assert (rows["start-up"].wall, rows["shut-down"].wall) == (pytest.approx(2.0), pytest.approx(1.0))
    assert sum(r.wall for r in run.rows) == pytest.approx(run.measured.wall)
    # the worker's CPU within the steps: 0.8 s a second
    assert rows["raw + gates"].cpu == pytest.approx(1.6) and rows["dbt"].cpu == pytest.approx(2.4)
    # every sampled CPU second lands in one row; the CLI's during the run counts as overhead
    assert sum(r.cpu for r in run.rows) == pytest.approx(sum(i.cpu for i in run.measured.tree))
    assert rows["overhead in run"].cpu == pytest.approx(0.8 + 0.6)  # worker 7..8, CLI 2..8
    assert rows["dbt"].peak_rss == 350 * bench.MB and rows["start-up"].peak_rss == 350 * bench.MB
    assert run.roles == {"CLI": pytest.approx(0.9), "run worker": pytest.approx(4.8), "other": 0.0}


def test_ratios_compare_the_same_kind_of_day_per_unit_of_work():
    def scale(name: str, customers: int, factor: float):
        run = _run("Wed, no forecast", factor)
        forecast = _run("Sun, forecast day", 2 * factor)
        storage = bench.Storage([("warehouse.duckdb", bench.MB)], [("analytics.x", 5)])
        first, last = date(2024, 1, 1), date(2024, 1, 10)
        return bench.ScaleResult(
            name, customers, 10, first, last, 10, run.measured, run, [forecast, run], storage, (0, 0)
        )

    small, large = scale("tiny", 10, 1.0), scale("demo", 100, 10.0)
    table = "\n".join(bench.ratio_report([small, large]))
    # ten times the work at ten times the CPU: the CPU per unit stays (×1.00)
    line = next(line for line in table.splitlines() if line.startswith("| backfill dbt CPU"))
    assert line.endswith("(×1.00) |"), line
    # the forecast day of one scale is compared with the forecast day of the other
    forecast = next(line for line in table.splitlines() if "daily run (forecast day) assets" in line)
    assert forecast == "| daily run (forecast day) assets, ms per customer·SKU | 50.00 (×1.00) | 5.00 (×0.10) |"
    text = "\n".join(bench.report([small, large], ["--scale", "tiny", "demo"], 0.25))
    assert "### tiny: 10 customers × 10 SKUs × 10 days" in text and "### Cost per unit of work" in text
