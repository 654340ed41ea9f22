"""Real Dagster processes for the run-queue tests (not a test module).

A temporary instance with the shipped `dagster_home/dagster.yaml`, the environment of
a tiny pipeline, `dagster-daemon` and `dagster-webserver` started on it as a user
starts them, the webserver's GraphQL API, and a dump of every warehouse and published
table to compare two runs (the logic of benchmarks/table_snapshot.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pandas as pd

from restock.settings import PROJECT_ROOT

if TYPE_CHECKING:
    import dagster as dg

BIN = Path(sys.executable).parent
WORKSPACE = PROJECT_ROOT / "workspace.yaml"
# Wall-clock columns: different on every run by design.
RUN_TIME_COLUMNS = {"loaded_at", "_loaded_at", "quarantined_at", "released_at", "published_at", "computed_at"}
# serving.duckdb's bookkeeping of the published files: version names are timestamps
# (and daily_reports lists the HTML reports by their paths in the data directory).
PUBLISH_BOOKKEEPING = {"published_files", "published_tables", "daily_reports"}


def instance_home(path: Path) -> Path:
    """A fresh DAGSTER_HOME holding a copy of the shipped dagster.yaml."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", path / "dagster.yaml")
    return path


def pipeline_env(landing: Path, data: Path, home: Path) -> dict[str, str]:
    """The environment of a tiny pipeline (no PostgreSQL: tests in parallel would share
    its schema) on the instance at ``home``."""
    env = {
        **os.environ,
        "RESTOCK_LANDING_DIR": str(landing),
        "RESTOCK_DATA_DIR": str(data),
        "RESTOCK_PARTITION_START": "2024-01-01",
        "DAGSTER_HOME": str(home),
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
        "DAGSTER_EVENT_BATCH_SIZE": "1000",
        "DO_NOT_TRACK": "1",
    }
    for name in ("RESTOCK_WAREHOUSE_PATH", "RESTOCK_POSTGRES_URL", "RESTOCK_AUTOMATION"):
        env.pop(name, None)
    return env


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """A long-running process in its own session, stopped (the whole group) at the end."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


@contextmanager
def open_instance(home: Path | str) -> Iterator[dg.DagsterInstance]:
    """The instance at ``home`` (its dagster.yaml reads DAGSTER_HOME: set meanwhile)."""
    import dagster as dg

    before = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            yield instance
    finally:
        if before is None:
            del os.environ["DAGSTER_HOME"]
        else:
            os.environ["DAGSTER_HOME"] = before


@contextmanager
def daemon(env: dict[str, str], log: Path, workspace: Path = WORKSPACE) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` on the instance of ``env``, up once it dequeues runs."""
    with process([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env, log) as proc:
        deadline = time.monotonic() + 180
        with open_instance(env["DAGSTER_HOME"]) as instance:
            while "QUEUED_RUN_COORDINATOR" not in instance.get_daemon_heartbeats():
                assert proc.poll() is None, f"dagster-daemon exited: {log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, f"no daemon heartbeat in 180 s: {log.read_text()[-3000:]}"
                time.sleep(0.5)
        yield proc


def wait_finished(instance: dg.DagsterInstance, run_id: str, within: float) -> dg.DagsterRun:
    """The run ``run_id`` once it has finished (success, failure or cancel), waiting up to ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        run = instance.get_run_by_id(run_id)
        assert run is not None, f"no run {run_id}"
        if run.is_finished:
            return run
        assert time.monotonic() < deadline, f"run {run_id} still {run.status} after {within:.0f} s"
        time.sleep(0.25)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(port: int, query: str, variables: dict | None = None) -> dict:
    """One request to the webserver's GraphQL endpoint, as the UI sends it."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    assert not answer.get("errors"), answer["errors"]
    return answer["data"]


@contextmanager
def webserver(env: dict[str, str], log: Path) -> Iterator[int]:
    """`dagster-webserver` on 127.0.0.1; yields its port once it answers GraphQL."""
    port = free_port()
    command = [str(BIN / "dagster-webserver"), "-w", str(WORKSPACE), "-h", "127.0.0.1", "-p", str(port)]
    with process(command, env, log) as proc:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"webserver exited: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"webserver did not answer in 180 s: {log.read_text()[-3000:]}"
            try:
                graphql(port, "{ version }")
                break
            except OSError:
                time.sleep(0.5)
        yield port


def snapshot(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Every warehouse table and published table (serving.duckdb's views over the
    published Parquet), rows sorted, without the columns that record when it ran."""
    tables: dict[str, pd.DataFrame] = {}
    for name, path in (("warehouse", data_dir / "warehouse.duckdb"), ("serving", data_dir / "serving.duckdb")):
        con = duckdb.connect(str(path), read_only=True)
        try:
            relations = con.execute(
                "select table_schema, table_name from information_schema.tables order by 1, 2"
            ).fetchall()
            for schema, table in relations:
                if name == "serving" and table in PUBLISH_BOOKKEEPING:
                    continue
                frame = con.execute(f'select * from "{schema}"."{table}"').df()
                frame = frame.drop(columns=[c for c in frame.columns if c in RUN_TIME_COLUMNS])
                tables[f"{name}:{schema}.{table}"] = _sorted(frame)
        finally:
            con.close()
    return tables


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a stable order: by the non-float columns first (the keys)."""
    if frame.empty:
        return frame.reset_index(drop=True)
    keys = frame.astype(str)
    floats = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])]
    order = [c for c in frame.columns if c not in floats] + floats
    return frame.iloc[keys.sort_values(order).index].reset_index(drop=True)


def differences(left: dict[str, pd.DataFrame], right: dict[str, pd.DataFrame], tolerance: float = 1e-9) -> list[str]:
    """What differs between two snapshots (floats compared to ``tolerance``)."""
    problems = [f"{name}: only in the first" for name in sorted(set(left) - set(right))]
    problems += [f"{name}: only in the second" for name in sorted(set(right) - set(left))]
    for name in sorted(set(left) & set(right)):
        a, b = left[name], right[name]
        if list(a.columns) != list(b.columns):
            problems.append(f"{name}: columns {list(a.columns)} vs {list(b.columns)}")
            continue
        if len(a) != len(b):
            problems.append(f"{name}: {len(a)} rows vs {len(b)}")
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
                    f"{name}.{column}: {int((~same).sum())} rows differ, e.g. {x.iloc[first]!r} vs {y.iloc[first]!r}"
                )
    return problems
