"""Progress lines of long loops (restock/progress.py), by hand with a fake clock."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from restock.progress import PREFIX, Progress, format_duration, format_rate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _run(total: int, seconds_per_unit: float, every: float = 30.0) -> list[str]:
    clock, lines = Clock(), []
    progress = Progress("analytics.customer_segments", total, lines.append, every_seconds=every, clock=clock)
    day = date(2024, 1, 1)
    for i in range(total):
        clock.now += seconds_per_unit
        progress.advance(through=day + timedelta(days=i), detail=f"{(i + 1) * 10} rows")
    return lines


def test_first_line_rate_and_time_left():
    lines = _run(total=600, seconds_per_unit=2.0)
    # One day in 2 s: 30 days/min, 599 days left at that rate = 19.97 min.
    assert lines[0] == (
        "progress: analytics.customer_segments: 1/600 days (through 2024-01-01), 30 days/min, ~20 min left; 10 rows"
    )


def test_lines_at_most_every_interval_plus_the_last():
    lines = _run(total=100, seconds_per_unit=7.0)  # 700 s in all
    # After day 1 (7 s), then each time 30 s have passed since the previous line
    # (every 5th day: 35 s), and the last day.
    done = [int(line.split(": ")[2].split("/")[0]) for line in lines]
    assert done == [1, 6, 11, 16, 21, 26, 31, 36, 41, 46, 51, 56, 61, 66, 71, 76, 81, 86, 91, 96, 100]
    assert all(line.startswith(PREFIX) for line in lines)
    # Rate from the start: 60/7 = 8.6 days/min; day 51 leaves 49 days = 343 s, ~6 min.
    assert "51/100 days (through 2024-02-20), 8.6 days/min, ~6 min left; 510 rows" in lines[10]
    assert lines[-1] == (
        "progress: analytics.customer_segments: 100/100 days (through 2024-04-09), 8.6 days/min, "
        "done in 12 min; 1000 rows"
    )


def test_fast_loop_logs_only_first_and_last():
    lines = _run(total=731, seconds_per_unit=0.01)  # 7.3 s in all: under one interval
    assert len(lines) == 2
    assert lines[0].startswith("progress: analytics.customer_segments: 1/731 days (through 2024-01-01), 6,000 days/min")
    assert "~7.3 s left" in lines[0]
    assert "731/731 days (through 2025-12-31), 6,000 days/min, done in 7.3 s; 7310 rows" in lines[1]
    assert "left" not in lines[1]


def test_a_single_unit_is_one_line_first_and_last():
    assert _run(total=1, seconds_per_unit=3.0) == [
        "progress: analytics.customer_segments: 1/1 days (through 2024-01-01), 20 days/min, done in 3.0 s; 10 rows"
    ]


def test_slow_units_each_get_a_line_and_hours_left():
    clock, lines = Clock(), []
    progress = Progress("forecasts", 105, lines.append, unit="origins", clock=clock)
    for i in range(3):
        clock.now += 240.0  # an origin in 4 min
        progress.advance(through=f"origin {i}")
    assert len(lines) == 3
    # 0.25 origins/min; 102 left = 408 min
    assert lines[2] == "progress: forecasts: 3/105 origins (through origin 2), 0.25 origins/min, ~6 h 48 min left"


def test_done_skips_units_and_finish_writes_the_last_line_once():
    clock, lines = Clock(), []
    progress = Progress("publish", 10, lines.append, every_seconds=30, clock=clock)
    clock.now += 1
    progress.advance(through="d4", done=4)  # days 1-3 skipped by the loop, day 4 gated
    clock.now += 1
    progress.advance(through="d5", done=5)  # within the interval: no line
    clock.now += 2
    progress.finish(detail="2 days gated")  # days 6-10 skipped: the last line anyway
    progress.finish()  # already written
    assert lines == [
        "progress: publish: 4/10 days (through d4), 240 days/min, ~1.5 s left",
        "progress: publish: 10/10 days, 150 days/min, done in 4.0 s; 2 days gated",
    ]


def test_finish_after_the_last_unit_adds_nothing_and_done_is_capped():
    clock, lines = Clock(), []
    progress = Progress("dbt build", 2, lines.append, unit="nodes", clock=clock)
    for _ in range(3):  # one more event than expected
        clock.now += 1
        progress.advance()
    progress.finish()
    assert lines == [
        "progress: dbt build: 1/2 nodes, 60 nodes/min, ~1.0 s left",
        "progress: dbt build: 2/2 nodes, 60 nodes/min, done in 2.0 s",
    ]


def test_without_the_first_line_the_first_comes_after_the_interval():
    clock, lines = Clock(), []
    progress = Progress("dbt build", 100, lines.append, unit="nodes", clock=clock, report_first=False)
    clock.now += 10  # start-up, then the first node
    progress.advance(through="stg_a")
    for node in range(2, 42):  # a node every 0.5 s: 30 s in all at node 41
        clock.now += 0.5
        progress.advance(through=f"n{node}")
    assert lines == ["progress: dbt build: 41/100 nodes (through n41), 82 nodes/min, ~43 s left"]


def test_no_rate_without_elapsed_time_and_a_negative_total_is_refused():
    lines: list[str] = []
    progress = Progress("x", 3, lines.append, clock=lambda: 5.0)
    progress.advance(through="a")
    assert lines == ["progress: x: 1/3 days (through a)"]
    with pytest.raises(ValueError, match="total must be >= 0"):
        Progress("x", -1, lines.append)


def test_formats():
    assert [format_duration(s) for s in (0.04, 9.94, 9.96, 45, 89.4, 95, 3599, 5300, 5400, 7500)] == [
        "0.0 s",
        "9.9 s",
        "10 s",
        "45 s",
        "89 s",
        "2 min",
        "60 min",
        "88 min",
        "1 h 30 min",
        "2 h 05 min",
    ]
    assert [format_rate(r) for r in (12345.6, 48.4, 3.46, 0.25, 0.0123)] == ["12,346", "48", "3.5", "0.25", "0.012"]
