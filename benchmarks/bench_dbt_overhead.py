"""dbt's cost over its own SQL (issue 13: "dbt layer <= 1.5 x the same SQL run directly
in DuckDB"): one `dbt build` of a window, as the dbt asset runs it, against every SQL
statement of that build replayed directly in DuckDB.

    .venv/bin/python benchmarks/bench_dbt_overhead.py --warehouse data/warehouse.duckdb \\
        --start 2025-12-31 --end 2025-12-31 [--repeat 3]

Runs in the product's venv; not part of ``make test``. The warehouse must hold the raw
tables of the window (a backfill did it); it is not changed: each repetition works on
fresh copies of it (the copies' time is not counted).

1. **dbt**: on copy A, the run window table and ``dbt build`` with the asset's
   arguments (orchestration/assets/dbt.py: vars, no unit tests, the kept
   partial-parse state), in its own target folder. Reported: the command's wall
   (process start, imports, manifest, threads, logging, artifacts included), dbt's
   own elapsed (its last log line), and the time its statements took inside DuckDB
   (Σ of dbt's per-statement ``SQLQueryStatus`` elapsed; two threads may overlap).
2. **direct**: on copy B (the same starting state), every statement dbt sent
   (``SQLQuery`` events of its debug log, in the order they started: a node starts
   after its parents finished), executed one after the other on one DuckDB
   connection, each committed on its own (dbt's BEGIN / COMMIT left out). This is
   the SQL a hand-written script would run, with dbt's introspection queries
   (relation lists, column lookups) included; the "models and tests only" line
   (copy C) leaves out the statements that neither build a model nor run a test.

The ratio dbt wall / direct wall is the issue's figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass
class Statement:
    sql: str
    started: datetime
    connection: str


@dataclass
class Repetition:
    dbt_wall: float
    dbt_elapsed: float
    sql_in_dbt: float
    direct_wall: float
    direct_build_wall: float
    statements: int
    build_statements: int


def read_log(log: Path) -> tuple[list[Statement], float, float]:
    """dbt's statements in start order, Σ of their elapsed, and dbt's own elapsed."""
    statements, in_sql, elapsed = [], 0.0, 0.0
    first = last = None
    for line in log.read_text().splitlines():
        record = json.loads(line)
        info, data = record["info"], record.get("data") or {}
        ts = datetime.fromisoformat(info["ts"].rstrip("Z"))
        first = first or ts
        last = ts
        if info["name"] == "SQLQuery":
            statements.append(Statement(data["sql"], ts, data.get("conn_name", "")))
        elif info["name"] == "SQLQueryStatus":
            in_sql += float(data.get("elapsed") or 0.0)
        elif info["name"] == "CommandCompleted":
            elapsed = float(data.get("elapsed") or (ts - first).total_seconds())
    if not statements:
        raise SystemExit(f"no SQLQuery events in {log}: is the file log at debug level?")
    statements.sort(key=lambda s: s.started)
    return statements, in_sql, elapsed or ((last - first).total_seconds() if first and last else 0.0)


def builds(statement: Statement) -> bool:
    """A statement that builds a model or runs a test (not dbt's introspection)."""
    return statement.connection.startswith(("model.", "test.")) and "information_schema" not in statement.sql


TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK"}


def _bare(sql: str) -> str:
    return re.sub(r"/\*.*?\*/", "", sql, flags=re.S).strip().rstrip(";").strip().upper()


def replay(path: Path, statements: list[Statement]) -> float:
    """The statements one after the other, each committed on its own: dbt's BEGIN and
    COMMIT are left out (its threads each held a transaction; one connection cannot)."""
    import duckdb

    work = [s.sql for s in statements if _bare(s.sql) not in TRANSACTION_CONTROL]
    with duckdb.connect(str(path)) as con:
        started = time.perf_counter()
        for sql in work:
            con.execute(sql).fetchall()
        return time.perf_counter() - started


def repetition(warehouse: Path, first: date, last: date, work: Path, threads: int | None = None) -> Repetition:
    from orchestration.assets.dbt import (
        DBT_PROJECT_DIR,
        dbt_build_args,
        dbt_vars,
        fresh_target_path,
        partial_parse_file,
        run_window,
    )
    from orchestration.resources import WarehouseResource, dbt_executable
    from restock.config import load_config
    from restock.settings import load_settings

    settings = load_settings()
    config = load_config(settings.config_path)
    # named as the warehouse: dbt's SQL names the catalog, which DuckDB takes from the file name
    copies = {name: work / name / warehouse.name for name in ("dbt", "direct", "direct_build")}
    for copy in copies.values():
        copy.parent.mkdir(exist_ok=True)
        shutil.copyfile(warehouse, copy)

    def window(copy: Path):  # the dbt asset's run window table, on that copy
        return run_window(WarehouseResource(path=str(copy)), first, last)

    # the partial-parse state of this warehouse path, after one parse (not timed)
    kept = work / "partial_parse.msgpack"
    args = dbt_build_args(dbt_vars(config, str(copies["dbt"]), settings.duckdb_memory_limit))
    target = fresh_target_path("bench-dbt-overhead", kept, work / "target")
    dbt = [
        dbt_executable(),
        *args,
        "--target-path",
        str(target),
        "--log-path",
        str(target),
        "--log-format-file",
        "json",
        *(["--threads", str(threads)] if threads else []),
    ]
    env = {**os.environ, "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR), "DO_NOT_TRACK": "1"}
    if not kept.exists():
        subprocess.run(
            [dbt_executable(), "parse", "--vars", args[2], "--target-path", str(target)],
            cwd=DBT_PROJECT_DIR,
            env=env,
            check=True,
            capture_output=True,
        )
        shutil.copyfile(target / partial_parse_file(work).name, kept)
    with window(copies["dbt"]):
        started = time.perf_counter()
        done = subprocess.run(dbt, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
        dbt_wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"dbt build failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    statements, in_sql, elapsed = read_log(target / "dbt.log")
    build_only = [s for s in statements if builds(s)]
    with window(copies["direct"]):
        direct = replay(copies["direct"], statements)
    with window(copies["direct_build"]):
        direct_build = replay(copies["direct_build"], build_only)
    shutil.rmtree(target, ignore_errors=True)
    for copy in copies.values():
        copy.unlink()
    return Repetition(dbt_wall, elapsed, in_sql, direct, direct_build, len(statements), len(build_only))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", type=Path, required=True, help="a warehouse with the window's raw tables")
    parser.add_argument("--start", type=date.fromisoformat, required=True)
    parser.add_argument("--end", type=date.fromisoformat, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workdir", type=Path, help="where the copies go (default: the system's temp folder)")
    parser.add_argument("--threads", type=int, help="dbt's --threads (default: profiles.yml's, 2)")
    args = parser.parse_args()
    reps = []
    with tempfile.TemporaryDirectory(prefix="bench-dbt-", dir=args.workdir) as work:
        for i in range(args.repeat):
            rep = repetition(args.warehouse, args.start, args.end, Path(work), args.threads)
            print(
                f"run {i + 1}: dbt build {rep.dbt_wall:.2f} s (dbt's own {rep.dbt_elapsed:.2f} s, its SQL "
                f"{rep.sql_in_dbt:.2f} s); the same {rep.statements} statements directly {rep.direct_wall:.2f} s, "
                f"the {rep.build_statements} that build models and run tests {rep.direct_build_wall:.2f} s",
                flush=True,
            )
            reps.append(rep)

    dbt_wall, dbt_own, dbt_sql, direct, build = (
        statistics.median(getattr(r, field) for r in reps)
        for field in ("dbt_wall", "dbt_elapsed", "sql_in_dbt", "direct_wall", "direct_build_wall")
    )
    print(
        f"\nwindow {args.start} .. {args.end}, medians of {len(reps)}: dbt build {dbt_wall:.2f} s "
        f"(dbt's own {dbt_own:.2f} s, its SQL {dbt_sql:.2f} s); "
        f"direct: every statement {direct:.2f} s, models and tests only {build:.2f} s\n"
        f"dbt / direct = {dbt_wall / direct:.2f} (target <= 1.5); dbt / models and tests = {dbt_wall / build:.2f}"
    )


if __name__ == "__main__":
    main()
