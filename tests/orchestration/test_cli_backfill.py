"""`make backfill` end to end through the CLI, on a tiny data set in temp folders."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[2]


def test_make_backfill_materializes_the_range(landing_dir, tmp_path):
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "RESTOCK_LANDING_DIR": str(landing_dir),
        "RESTOCK_DATA_DIR": str(data_dir),
        "RESTOCK_PARTITION_START": "2024-01-01",
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    env.pop("RESTOCK_WAREHOUSE_PATH", None)
    (tmp_path / "dagster_home").mkdir()
    done = subprocess.run(
        ["make", "backfill", "START=2024-01-02", "END=2024-01-04"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "backfill 2024-01-02 .. 2024-01-04: done" in done.stdout
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    days = con.execute("select distinct as_of_date::varchar from marts.inventory_positions order by 1").fetchall()
    con.close()
    assert [d for (d,) in days] == ["2024-01-02", "2024-01-03", "2024-01-04"]


def test_make_backfill_without_range_explains_usage():
    done = subprocess.run(["make", "backfill"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode != 0 and "usage: make backfill START=YYYY-MM-DD END=YYYY-MM-DD" in done.stdout
