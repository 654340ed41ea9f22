"""History before 2015 (issue 11): `make backfill` on a tiny generated set dated 2005.

Spring Festival dates come from the holidays package for any year 1950-2100, not from
a table of 2015-2035: the demo generator builds 2005 extracts, and forecasts whose
calendar regressors span Spring Festival 2006 are fitted, not on a fallback rule.

The span is the shortest that gets a series to 12 weeks of history (the new-SKU rule's
limit): 2005-10-03 .. 2005-12-25 (12 weeks). The origin 2005-12-25 refits on the class
default (its selection origin, 2005-07-03, is before the data); the combination uses the
calendar regressors over 2005-10-03 .. 2006-02-13, across Spring Festival 2006
(29 January). With the old table those series fell back ("no Spring Festival date for
2005: the table covers 2015-2035"). ~110 s on a 2-core machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]
START, END = "2005-10-03", "2005-12-25"
DAYS = 84  # START .. END
LAST_ORIGIN = "2005-12-25"  # a Sunday: 12 complete weeks of history


def test_backfill_of_2005_history_forecasts_across_spring_festival(tmp_path):
    landing_dir, data_dir, dagster_home = tmp_path / "landing", tmp_path / "data", tmp_path / "dagster_home"
    dagster_home.mkdir()
    env = {
        **os.environ,
        "RESTOCK_LANDING_DIR": str(landing_dir),
        "RESTOCK_DATA_DIR": str(data_dir),
        "RESTOCK_PARTITION_START": START,
        "DAGSTER_HOME": str(dagster_home),
    }
    env.pop("RESTOCK_WAREHOUSE_PATH", None)
    generated = subprocess.run(
        [sys.executable, "-m", "restock.demo", "--scale", "tiny", "--start", START, "--days", str(DAYS)]
        + ["--customers", "20", "--skus", "6", "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stdout[-4000:] + generated.stderr[-4000:]

    done = subprocess.run(
        ["make", "backfill", f"START={START}", f"END={END}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert f"backfill {START} .. {END}: done" in done.stdout

    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("select count(*) from analytics.segment_forecasts").fetchone()[0]
        reasons = [
            reason
            for (reason,) in con.execute(
                "select distinct fallback_reason from analytics.segment_forecasts where fallback_reason is not null"
            ).fetchall()
        ]
        # Fitted on the calendar regressors (12 weeks of history + 8 ahead, across
        # Spring Festival 2006), with no fallback.
        calendar_fits = con.execute(
            """select count(*) from analytics.segment_forecasts
               where forecast_origin = ? and model in ('combination', 'sarimax_calendar')
                 and fallback_reason is null""",
            [LAST_ORIGIN],
        ).fetchone()[0]
    finally:
        con.close()
    assert rows > 0
    calendar_failures = [r for r in reasons if "Spring Festival" in r or "table covers" in r]
    assert calendar_failures == []
    assert calendar_fits > 0

    serving = duckdb.connect(str(data_dir / "serving.duckdb"), read_only=True)
    try:
        published = serving.execute(
            "select count(*), max(period_start)::varchar from demand_forecasts where forecast_origin = ?",
            [LAST_ORIGIN],
        ).fetchone()
    finally:
        serving.close()
    assert published[0] > 0
    assert published[1] >= "2006-01-29"  # the horizon reaches past Spring Festival 2006
