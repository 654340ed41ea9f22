"""A warm process that starts run workers by forking itself.

A run worker started as a new interpreter (what Dagster's code server does) spends
~5 s of a ~20 s daily run importing before it does any work: Dagster and the code
location (~1.7 s), Great Expectations at the first gate (~3.5-4 s), pandas, pyarrow and
DuckDB, and on a forecast day statsmodels and SciPy. This process imports them once;
each run worker is a fork of it that runs ``dagster api execute_run`` (what Dagster's
container run launchers run in a new container) with everything already imported.

Started and fed by :class:`orchestration.run_launcher.LocalRunLauncher` in the daemon:
``python -m orchestration.warm_worker``, one JSON request per line on stdin
(``{"args": ["api", "execute_run", ...]}``), one JSON reply per line on stdout
(``{"ready": ...}`` once the imports are done, then ``{"pid": N}`` per request). It
exits when its stdin closes (the daemon is gone or replaced it); run workers already
started keep running.

The process runs no threads and opens no files or connections before it forks, so a
worker inherits nothing but imported modules. Workers stay in the daemon's process
group (a service stop or a Ctrl-C reaches them, as it reaches the code server's).
This process reaps them as they exit (so their CPU time adds to its own children's,
as for any parent); in the worker SIGCHLD is back to the default.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import IO, NoReturn

# What a run imports on the way (raw gates: GE, pandas, pyarrow; forecasts:
# statsmodels, SciPy, holidays; publishing: matplotlib), found by comparing a daily
# run's modules with these. A module that fails to import here is imported by the
# worker that needs it, as without this process.
PRELOAD: tuple[str, ...] = (
    "dagster._cli",
    "orchestration.definitions",
    "pandas",
    "pyarrow",
    "pyarrow.parquet",
    "duckdb",
    "numpy",
    "great_expectations",
    "scipy.stats",
    "statsmodels.api",
    "statsmodels.tsa.holtwinters",
    "holidays",
    "matplotlib.figure",  # the daily report's and the asset pages' charts
    "matplotlib.backends.backend_agg",
    "restock.ingest.gated",
    "restock.quality.runner",
    "restock.segmentation.customers",
    "restock.segmentation.product_classes",
    "restock.calendar",
    "restock.forecasting.origins",
    "restock.replenishment.tables",
    "restock.performance.kpis",
    "restock.performance.replay",
    "restock.charts",
    "restock.publish.daily_report",
    "restock.publish.gated_publish",
)


def _say(stream: IO[str], message: dict[str, object]) -> None:
    stream.write(json.dumps(message) + "\n")
    stream.flush()


def preload(modules: Sequence[str] = PRELOAD) -> list[str]:
    """Import ``modules``; returns the lines to log for those that failed."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # noqa: BLE001 - the worker imports it itself then
            failed.append(f"{name}: {type(error).__name__}: {error}")
    try:  # the code location's repository, as each worker would build it
        from orchestration.definitions import defs

        defs.get_repository_def()
    except Exception as error:  # noqa: BLE001 - built by the worker then
        failed.append(f"orchestration.definitions repository: {type(error).__name__}: {error}")
    return failed


def _reap(_signum: int, _frame: object) -> None:
    """Collect every exited worker (a SIGCHLD may stand for several)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def run_worker(args: Sequence[str]) -> NoReturn:
    """In the forked child: ``dagster <args>`` in this process. It ends as that command's
    interpreter would: click's SystemExit (or an uncaught error) leaves through the
    interpreter's own shutdown, which runs the atexit handlers, waits for non-daemon
    threads and flushes the streams."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # subprocess.wait() of dbt needs its exit status
    sys.argv = ["dagster", *args]
    from dagster._cli import cli

    cli.main(args=list(args), prog_name="dagster", auto_envvar_prefix="DAGSTER_CLI")
    sys.exit(0)  # click exits by itself; this line is for a command that returns


def serve(requests: IO[str], replies: IO[str]) -> None:
    """Fork a run worker per request line until ``requests`` ends."""
    for line in requests:
        if not line.strip():
            continue
        args = json.loads(line)["args"]
        pid = os.fork()
        if pid == 0:
            requests.close()
            replies.close()
            run_worker(args)
        _say(replies, {"pid": pid})


def main() -> None:
    started = time.monotonic()
    # The protocol keeps its own copies of stdin and stdout; workers get no stdin and
    # write their stdout to this process's stderr (the daemon's log, as the code
    # server's run workers do).
    requests = os.fdopen(os.dup(0), "r")
    replies = os.fdopen(os.dup(1), "w")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    failed = preload()
    for line in failed:
        print(f"restock warm worker: not preloaded: {line}", file=sys.stderr, flush=True)
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if threads:  # a fork keeps only this thread: a lock another one held would stay held
        print(f"restock warm worker: threads running before any fork: {threads}", file=sys.stderr, flush=True)
    signal.signal(signal.SIGCHLD, _reap)
    _say(replies, {"ready": True, "seconds": round(time.monotonic() - started, 2), "not_preloaded": failed})
    serve(requests, replies)


if __name__ == "__main__":
    main()
