"""The instance's run launcher: run workers that start warm, and a health check of
the run worker so that run monitoring notices a run whose process is gone.

**Warm start.** Instead of a new interpreter in the code server (Dagster's
DefaultRunLauncher), each run's worker is a fork of a process that has imported
Dagster, the code location, Great Expectations, pandas and statsmodels once
(orchestration/warm_worker.py); it runs ``dagster api execute_run``, the command
Dagster's container run launchers run. That saves each run ~5 s of imports (~20-25 % of
a daily run). The warm process is the daemon's child; it is replaced when a file of
the project's code (restock/, orchestration/) or the dbt manifest changed since it
started, so a run always runs the code on disk, as a new interpreter would.
``warm_worker: false`` in dagster.yaml, or any failure of the warm process (said on
the run), gives the code server's start instead.

**Health.** DefaultRunLauncher cannot tell run monitoring whether a run's process
still lives. The code server notices a run process of its own that dies while it
runs, but when both go (a reboot, the whole service killed or out of memory), or for
a warm-started worker, nothing would: the run stays STARTED for ever and, with one
run at a time, blocks the queue. :class:`LocalRunLauncher` looks the process up by
the pid the run recorded ("Started process for run (pid: N)") and reports a run
whose process is gone as failed; the daemon then fails the run, frees the queue and
retries it (dagster_home/dagster.yaml, run_monitoring and run_retries).

Both need the daemon and the code server on one host (pids are per host), which is
how `make dev`, `dagster-daemon run -w workspace.yaml` and the production instance
of README.md run. Imported by every process that loads the instance: no heavy imports.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import DagsterEventType, Field
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, LaunchRunContext, WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import GRPC_INFO_TAG

if TYPE_CHECKING:
    from dagster import DagsterInstance
    from dagster._serdes.config_class import ConfigurableClassData

PROC = Path("/proc")
# /proc/stat gives the boot time in whole seconds and a process's start in clock
# ticks: a worker's start, computed from them, may come out up to ~1 s after the
# event it wrote once started. A process that started later than this after that
# event is another one that got the pid (e.g. after a reboot). This compares wall
# clock readings: it assumes the clock is not stepped forward by more than this
# while a run runs (NTP adjusts gradually).
PID_REUSE_TOLERANCE_SECONDS = 5.0

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# What a warm process has imported from the project: when one of these files changes,
# the next run gets a new warm process.
WARM_CODE = ("restock", "orchestration", "dbt_project/target/manifest.json")
# The warm process's imports on a cold, busy machine; then one fork.
WARM_READY_SECONDS = 300.0
WARM_FORK_SECONDS = 30.0


class WarmWorkerError(RuntimeError):
    """The warm process could not start a run worker."""


class LocalRunLauncher(DefaultRunLauncher):
    """DefaultRunLauncher whose run workers run monitoring can check (same host), started
    from a warm process (see the module docstring)."""

    def __init__(self, inst_data: ConfigurableClassData | None = None, warm_worker: bool = True):
        super().__init__(inst_data=inst_data)
        self._warm_worker = warm_worker
        self._warm: dict[tuple[str, str | None], WarmProcess] = {}
        # The code (code_stamp) a warm process failed with: not tried again until it changes.
        self._warm_failed: dict[tuple[str, str | None], str] = {}
        self._warm_lock = threading.Lock()

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {
            "warm_worker": Field(
                bool,
                is_required=False,
                default_value=True,
                description="Start run workers as forks of a process with the imports done (False: the code server's new interpreter).",
            )
        }

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> LocalRunLauncher:
        return cls(inst_data=inst_data, warm_worker=bool(config_value.get("warm_worker", True)))

    @property
    def warm_worker(self) -> bool:
        """Whether run workers start from the warm process (dagster.yaml ``warm_worker``)."""
        return self._warm_worker

    def launch_run(self, context: LaunchRunContext) -> None:
        warm = self._warm_worker and self.has_instance and hasattr(os, "fork")  # no fork on Windows
        if not (warm and self._launch_warm(context.dagster_run)):
            super().launch_run(context)

    def _launch_warm(self, run: DagsterRun) -> bool:
        """Start ``run``'s worker from the warm process; False (and why, on the run) when
        it cannot, for the code server to start it."""
        from dagster._core.events import EngineEventData
        from dagster._grpc.types import ExecuteRunArgs

        origin = run.job_code_origin
        if origin is None:
            return False
        args = ExecuteRunArgs(job_origin=origin, run_id=run.run_id, instance_ref=self._instance.get_ref())
        command = list(args.get_command_args())
        entry, dagster_args = command[:-3], command[-3:]
        executable = origin.executable_path
        if entry not in (["dagster"], [str(Path(executable).parent / "dagster")], [executable, "-m", "dagster"]):
            return False  # a code location with an entry point of its own: started as it says
        key = (executable, getattr(origin.repository_origin.code_pointer, "working_directory", None))
        stamp = code_stamp()
        if self._warm_failed.get(key) == stamp:
            self._instance.report_engine_event(
                "The warm process failed earlier with this code (see the daemon's log); the code server starts the run.",
                run,
                cls=type(self),
            )
            return False
        try:
            with self._warm_lock:
                warm = self._warm_process(key, stamp)
                try:
                    pid = warm.start_worker(dagster_args)
                except WarmWorkerError:
                    self._warm.pop(key, None)
                    warm.close()
                    raise
        except (WarmWorkerError, OSError) as error:
            self._warm_failed[key] = stamp
            self._instance.report_engine_event(
                f"The warm process could not start the run worker ({error}); the code server starts it instead, "
                "and later runs too until the project's code changes.",
                run,
                cls=type(self),
            )
            return False
        missing = f"; not preloaded: {', '.join(warm.not_preloaded)}" if warm.not_preloaded else ""
        self._instance.report_engine_event(
            f"Started process for run (pid: {pid}) from the warm process (pid {warm.pid}{missing}).",
            run,
            EngineEventData.in_process(pid),
            cls=type(self),
        )
        return True

    def _warm_process(self, key: tuple[str, str | None], stamp: str) -> WarmProcess:
        """The warm process of (interpreter, folder) for the code of ``stamp``."""
        warm = self._warm.get(key)
        if warm is not None and (warm.stamp != stamp or not warm.alive()):
            warm.close()
            warm = None
        if warm is None:
            warm = self._warm[key] = WarmProcess(*key, stamp=stamp)
        return warm

    def terminate(self, run_id: str) -> bool:
        """Interrupt the run worker (SIGINT, as the code server's cancel does): Dagster
        stops the run at its next step boundary or interruptible point and marks it
        canceled. A run the code server started is cancelled through it."""
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        if run is None or run.is_finished:
            return False
        if GRPC_INFO_TAG in run.tags:
            return super().terminate(run_id)
        started = worker_pid(self._instance, run_id)
        self._instance.report_run_canceling(run)
        if started is None or process_problem(*started) is not None:
            self._instance.report_engine_event(
                "No running run worker to interrupt; run monitoring fails the run.", run, cls=type(self)
            )
            return False
        os.kill(started[0], signal.SIGINT)
        return True

    def dispose(self) -> None:
        with self._warm_lock:
            for warm in self._warm.values():
                warm.close()
            self._warm.clear()
        super().dispose()

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


class WarmProcess:
    """``python -m orchestration.warm_worker`` in folder ``where``, a child of this process."""

    def __init__(self, executable: str, where: str | None, stamp: str):
        self.stamp = stamp
        self._ready: dict[str, Any] | None = None
        self._process = subprocess.Popen(
            [executable, "-m", "orchestration.warm_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=where,
            text=True,
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def not_preloaded(self) -> list[str]:
        """The modules it could not import (each run imports them itself)."""
        return list((self._ready or {}).get("not_preloaded") or [])

    def alive(self) -> bool:
        return self._process.poll() is None

    def start_worker(self, args: Sequence[str]) -> int:
        """Fork a worker running ``dagster <args>``; its pid."""
        if self._ready is None:
            self._ready = self._reply(WARM_READY_SECONDS)
        assert self._process.stdin is not None
        try:
            self._process.stdin.write(json.dumps({"args": list(args)}) + "\n")
            self._process.stdin.flush()
        except (BrokenPipeError, ValueError) as error:
            raise WarmWorkerError(f"the warm process {self.pid} is gone ({error})") from error
        try:
            return int(self._reply(WARM_FORK_SECONDS)["pid"])
        except (KeyError, TypeError, ValueError) as error:
            raise WarmWorkerError(f"the warm process {self.pid} answered no pid ({error!r})") from error

    def _reply(self, seconds: float) -> dict[str, Any]:
        # One request, one line back: nothing is ever left in the pipe's buffer.
        assert self._process.stdout is not None
        readable, _, _ = select.select([self._process.stdout], [], [], seconds)
        if not readable:
            raise WarmWorkerError(f"the warm process {self.pid} did not answer within {seconds:.0f} s")
        line = self._process.stdout.readline()
        if not line:
            raise WarmWorkerError(f"the warm process {self.pid} exited (code {self._process.wait()})")
        try:
            return dict(json.loads(line))
        except ValueError as error:
            raise WarmWorkerError(f"the warm process {self.pid} answered {line.strip()[:200]!r}") from error

    def close(self) -> None:
        """End the warm process (its run workers keep running)."""
        for stream in (self._process.stdin, self._process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def code_stamp(root: Path = PROJECT_ROOT, paths: Sequence[str] = WARM_CODE) -> str:
    """A digest of the name, size and modification time of every file of ``paths``
    under ``root`` (~150 files: ~4 ms)."""
    digest = hashlib.sha256()
    for name in paths:
        top = root / name
        files = [top] if top.is_file() else sorted(top.rglob("*"))
        for path in files:
            if "__pycache__" in path.parts or not path.is_file():
                continue
            stat = path.stat()
            digest.update(f"{path.relative_to(root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


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
