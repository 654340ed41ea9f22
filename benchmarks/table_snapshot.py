"""Prove a change leaves the numbers alone: back-fill the tiny demo and compare tables.

    python benchmarks/table_snapshot.py run OUT [--days 140]   # generate, backfill, dump
    python benchmarks/table_snapshot.py compare BEFORE AFTER   # floats to 1e-9

``run`` generates the tiny demo into OUT/landing, back-fills every asset through the
user's command (``python -m orchestration.cli backfill``, a fresh DAGSTER_HOME), and
writes every table of the warehouse (raw, staging, marts, analytics; views too) and
every published day to OUT/tables/<schema>.<table>.parquet, rows sorted. Columns that
record when something ran (load timestamps) are left out. It uses only the command
line and the environment variables of the README, so it runs against any commit.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
# Wall-clock columns: different on every run by design.
RUN_TIME_COLUMNS = {"loaded_at", "_loaded_at", "quarantined_at", "released_at", "published_at", "computed_at"}
# Columns naming a landing file: compared relative to the landing folder of the run.
SOURCE_FILE_COLUMNS = {"source_file", "_source_file"}


def run(out: Path, days: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    landing, data, home = out / "landing", out / "data", out / "dagster_home"
    for folder in (data, home):
        folder.mkdir(exist_ok=True)
    python = sys.executable
    subprocess.run(
        [python, "-m", "restock.demo", "--scale", "tiny", "--days", str(days), "--out", str(landing), "--if-missing"],
        check=True,
        cwd=ROOT,
    )
    env = {
        **os.environ,
        "RESTOCK_LANDING_DIR": str(landing),
        "RESTOCK_DATA_DIR": str(data),
        "RESTOCK_PARTITION_START": "2024-01-01",
        "DAGSTER_HOME": str(home),
    }
    env.pop("RESTOCK_POSTGRES_URL", None)
    started = time.monotonic()
    subprocess.run([python, "-m", "orchestration.cli", "backfill", "--demo-period"], check=True, cwd=ROOT, env=env)
    print(f"backfill: {time.monotonic() - started:.1f} s")
    dump(data / "warehouse.duckdb", out / "tables", landing)


def dump(warehouse: Path, target: Path, landing: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        relations = con.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall()
        for schema, name in relations:
            frame = con.execute(f'select * from "{schema}"."{name}"').df()
            frame = frame.drop(columns=[c for c in frame.columns if c in RUN_TIME_COLUMNS])
            for column in SOURCE_FILE_COLUMNS & set(frame.columns):
                frame[column] = frame[column].str.replace(str(landing), "<landing>", regex=False)
            frame = _sorted(frame)
            frame.to_parquet(target / f"{schema}.{name}.parquet", index=False)
            print(f"{schema}.{name}: {len(frame)} rows")
    finally:
        con.close()


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a stable order: by the non-float columns first (the keys), so a float
    that changes does not move its row."""
    if frame.empty:
        return frame.reset_index(drop=True)
    keys = frame.astype(str)
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    order = [c for c in frame.columns if c not in floats] + floats
    return frame.iloc[keys.sort_values(order).index].reset_index(drop=True)


def compare(before: Path, after: Path, tolerance: float = 1e-9) -> int:
    left = {p.name: p for p in (before / "tables").glob("*.parquet")}
    right = {p.name: p for p in (after / "tables").glob("*.parquet")}
    problems = []
    for name in sorted(set(left) - set(right)):
        problems.append(f"{name}: only before")
    for name in sorted(set(right) - set(left)):
        problems.append(f"{name}: only after (new table)")
    for name in sorted(set(left) & set(right)):
        a, b = pd.read_parquet(left[name]), pd.read_parquet(right[name])
        if list(a.columns) != list(b.columns):
            problems.append(f"{name}: columns differ {list(a.columns)} vs {list(b.columns)}")
            continue
        if len(a) != len(b):
            problems.append(f"{name}: {len(a)} rows before, {len(b)} after")
            continue
        for column in a.columns:
            x, y = a[column], b[column]
            if pd.api.types.is_float_dtype(x) and pd.api.types.is_float_dtype(y):
                same = np.isclose(x.to_numpy(), y.to_numpy(), rtol=tolerance, atol=tolerance, equal_nan=True)
            else:
                same = (x.astype(str) == y.astype(str)).to_numpy()
            if not same.all():
                first = int(np.argmin(same))
                problems.append(
                    f"{name}.{column}: {int((~same).sum())} rows differ, e.g. row {first}: "
                    f"{x.iloc[first]!r} vs {y.iloc[first]!r}"
                )
        print(f"{name}: {len(a)} rows compared")
    for line in problems:
        print("DIFF", line)
    print(f"{len(set(left) & set(right))} tables compared, {len(problems)} differences")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--days", type=int, default=140)
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    d = sub.add_parser("dump", help="re-dump OUT/data/warehouse.duckdb of an earlier run")
    d.add_argument("out", type=Path)
    args = parser.parse_args()
    if args.command == "run":
        run(args.out, args.days)
        return 0
    if args.command == "dump":
        dump(args.out / "data" / "warehouse.duckdb", args.out / "tables", args.out / "landing")
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
