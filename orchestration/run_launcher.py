"""The instance's run launcher: Dagster's default one, plus a health check of the run
worker so that run monitoring notices a run whose process is gone.

Dagster's DefaultRunLauncher starts each run in a process of the code server and
cannot tell run monitoring whether that process still lives. The code server itself
notices a run process that dies while it runs, but when both go (a reboot, the whole
service killed or out of memory) the run stays STARTED for ever and, with one run at
a time, blocks the queue. :class:`LocalRunLauncher` looks the process up by the pid
the run recorded ("Started process for run (pid: N)") and reports a run whose process
is gone as failed; the daemon then fails the run, frees the queue and retries it
(dagster_home/dagster.yaml, run_monitoring and run_retries).

It needs the daemon and the code server on one host (pids are per host), which is how
`make dev`, `dagster-daemon run -w workspace.yaml` and the production instance of
README.md run. Imported by every process that loads the instance: no heavy imports.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import DagsterEventType
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun

if TYPE_CHECKING:
    from dagster import DagsterInstance

PROC = Path("/proc")
# /proc/stat gives the boot time in whole seconds and a process's start in clock
# ticks: a worker's start, computed from them, may come out up to ~1 s after the
# event it wrote once started. A process that started later than this after that
# event is another one that got the pid (e.g. after a reboot). This compares wall
# clock readings: it assumes the clock is not stepped forward by more than this
# while a run runs (NTP adjusts gradually).
PID_REUSE_TOLERANCE_SECONDS = 5.0


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose run workers run monitoring can check (same host)."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        started = worker_pid(self._instance, run.run_id)
        if started is None:
            # Run monitoring fails a run on any answer but RUNNING or SUCCESS: a run
            # that recorded no process (yet) is not judged.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "no run worker pid recorded yet: not checked")
        pid, recorded_at = started
        problem = process_problem(pid, recorded_at)
        if problem is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"run worker pid {pid} is running")
        return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker pid {pid} {problem}", run_worker_id=str(pid))


def worker_pid(instance: DagsterInstance, run_id: str) -> tuple[int, float] | None:
    """(pid, event timestamp) of the process that runs ``run_id``: the first engine event
    with a pid ("Started process for run (pid: N)" from the code server, or "Executing
    steps in process (pid: N)" of a run executed in the process that created it)."""
    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.ENGINE_EVENT, limit=50).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.engine_event_data if event is not None else None
        value = data.metadata.get("pid") if data is not None else None
        if value is not None and str(value.value).isdigit():
            return int(str(value.value)), record.event_log_entry.timestamp
    return None


def process_problem(pid: int, recorded_at: float) -> str | None:
    """Why process ``pid`` (which reported itself at ``recorded_at``) is not running, or
    None if it is."""
    stat_path = PROC / str(pid) / "stat"
    if not (PROC / "self" / "stat").exists():  # no /proc (macOS): existence only
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return "is gone (killed?)"
        except PermissionError:
            pass  # exists, another user's
        return None
    try:
        stat = stat_path.read_text()
    except (FileNotFoundError, ProcessLookupError):
        return "is gone (killed?)"
    # "pid (comm) state ppid ..." - comm may hold spaces or parentheses: split after the last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    state, start_ticks = fields[0], int(fields[19])
    if state in ("Z", "X", "x"):  # exited; its parent (a code server) has not collected it
        return "is gone (killed?): it exited and was not reaped"
    started_at = _boot_time() + start_ticks / os.sysconf("SC_CLK_TCK")
    if started_at > recorded_at + PID_REUSE_TOLERANCE_SECONDS:
        return (
            f"is gone (killed?): pid {pid} now belongs to a process started at "
            f"{time.strftime('%H:%M:%S', time.localtime(started_at))}, after the run worker"
        )
    return None


def _boot_time() -> float:
    for line in (PROC / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime line")
