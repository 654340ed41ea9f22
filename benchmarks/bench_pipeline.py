"""The whole pipeline per scale (issue 13, "Speed"): wall time, CPU time and peak RSS
per stage of a backfill and of daily runs, storage per year of history, and the cost
ratios between scales.

    make bench                                          # tiny and demo, appends to RESULTS.md
    make bench ARGS='--scale tiny'                      # ~5 min on the 2-core machine
    make bench ARGS='--scale city --days 91 --keep'     # a city's first quarter
    .venv/bin/python benchmarks/bench_pipeline.py --scale tiny demo city --keep
    .venv/bin/python benchmarks/bench_pipeline.py --scale tiny --no-write --workdir /var/tmp

Runs in the product's venv (needs nothing else); not part of ``make test``.

**What runs**, per scale, in a fresh temporary folder (``--workdir``, default the
system's temp folder; removed at the end unless ``--keep``) with its own landing
folder, data folder and DAGSTER_HOME (a copy of ``dagster_home/dagster.yaml``), set
through RESTOCK_LANDING_DIR / RESTOCK_DATA_DIR / RESTOCK_PARTITION_START / DAGSTER_HOME
(RESTOCK_POSTGRES_URL, RESTOCK_AUTOMATION and RESTOCK_WAREHOUSE_PATH are unset;
RESTOCK_CONFIG passes through and is printed when set):

1. ``python -m restock.demo --scale S`` writes the extracts;
2. ``python -m orchestration.cli backfill --demo-period``, exactly as ``make demo``:
   one run of every asset over the whole generated period, through the run queue, with
   the dagster-daemon the command starts (none runs for a fresh instance);
3. daily runs, ``python -m orchestration.cli backfill --start D --end D``. The
   generated data has no day after the backfilled period, so the first daily run
   re-runs its **last day** (each extract of the day is re-validated and replaces the
   day, dbt re-builds its window, every stage recomputes the day); the second is the
   other kind of day: the last **forecast day** (restock.yaml
   ``forecasting.cutoff_weekday``, Sunday) before it when the last day is not one,
   else the last **Wednesday** before it (mid-week). Re-running an earlier day after
   later ones is what a late correction does. As in production, a dagster-daemon runs
   for the instance during the daily runs (started before them, not measured), so the
   command does not start one; besides the command's wall (CLI start-up and submission
   included) the report gives each daily run "as a scheduled run": from queued to
   finished, what a run the schedule queues costs.

Storage (file sizes, the rows of the warehouse's largest tables and of
``customer_order_suggestions``, per year of history) is read after the backfill.

**How it measures.** A sampler thread reads ``/proc/<pid>/stat`` every ``--interval``
seconds (0.25) for every process of the measured command's tree: the command and its
descendants (the CLI, the dagster-daemon, the code servers, the warm process, the run
worker, dbt's subprocess, the forecasting pool's workers) plus any process whose
environment holds this DAGSTER_HOME (one re-parented to init after its parent died).

- *CPU* of a process = utime + stime + cutime + cstime (user + system of the process
  and of the children it has waited for). Between two samples the tree's CPU grows by
  the growth of every process seen in both, plus all of a new process's CPU; a process
  gone since the last sample was reaped by an ancestor, whose cutime now holds all of
  its CPU, so what was already counted of it is subtracted. CPU a process used after
  its last sample is lost if no measured process waits for it: an orphan, such as the
  daemon's code server and the command itself (reaped by init and by this script).
  Processes that outlive the command (a code server shutting down) are sampled until
  they exit (at most LINGER_SECONDS); their CPU counts in "shut-down". (The kernel's
  rusage of this script's children is no check: it misses every orphan, e.g. the run
  worker under the daemon's warm process.) The line "CPU by process" sums each
  process's own user + system time as last sampled, by role: the CLI, its code server
  and the daemon's, the daemon, the daemon's warm process (orchestration/warm_worker.py,
  the run worker's parent), the run worker, the run worker's children (dbt commands,
  forecasting pool, compute-log tails).
- *Per stage*: the step windows (STEP_START .. STEP_SUCCESS / STEP_FAILURE) and the run
  window (RUN_START .. RUN_SUCCESS) come from the run's Dagster event log (timestamps
  written by the run worker on this host, compared with this script's ``time.time()``).
  A stage's CPU is what the **run worker's subtree** (the worker, dbt, the pool) gained
  within its steps' windows; CPU of the daemon, the code servers and the CLI's polling
  during a step counts as overhead. Each sampling interval's CPU is split over the
  windows it overlaps in proportion to the overlap (a uniform rate is assumed within
  an interval): at each window edge the error is at most one interval's CPU, and a
  step shorter than an interval gets a proportional share only.
- *Peak RSS* = the largest sum of RSS over the tree among the samples whose interval
  overlaps the window (so possibly the first sample after it). Pages shared between
  processes (libraries, copy-on-write after fork) count once per process, so the sum
  overstates the memory needed; a spike shorter than an interval is missed.
- *Wall*: a stage = the sum of its steps' windows; "overhead in run" = run wall − Σ
  step walls (event-log writes, resource set-up, Dagster between steps); "start-up" =
  from starting the command to RUN_START (the CLI's imports and code location, the
  queue, the daemon, the run worker loading the code location); "shut-down" = from
  RUN_SUCCESS to the command's exit (the CLI notices, stops its daemon). Shares are of
  the command's wall.
- The machine may be shared: the load average before and after each scale is printed;
  figures from a loaded machine are too high.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    import dagster as dg

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
MB = 2**20
SCALE_ORDER = ("tiny", "demo", "city")
# The stages of issue 13, in pipeline order; a step key of the job -> its stage.
STAGES = (
    "raw + gates",
    "dbt",
    "segments",
    "product classes",
    "forecasts",
    "accuracy",
    "replenishment",
    "gating + publishing",
)
# Step keys are asset keys joined by "__" (raw__orders, segmentation__customer_segments);
# the last part names the asset or multi-asset.
STEP_STAGES = {
    "restock_dbt_models": "dbt",
    "customer_segments": "segments",
    "product_classes": "product classes",
    "demand_forecasts": "forecasts",
    "forecast_accuracy": "accuracy",
    "replenishment": "replenishment",
    "published_tables": "gating + publishing",
    "published_freshness": "gating + publishing",  # the published tables' freshness checks
}
IN_RUN = "overhead in run"
START_UP = "start-up"
SHUT_DOWN = "shut-down"
SUGGESTIONS = "customer_order_suggestions"
LINGER_SECONDS = 120.0  # how long processes outliving a command are waited for
DAEMON_READY_SECONDS = 90.0  # how long the daily runs' dagster-daemon may take to start
BIG_TABLES = 8  # rows of this many largest warehouse tables are reported
RUN_ID = re.compile(r"\brun ([0-9a-f-]{36}) \(")
RETRY_ID = re.compile(r"Dagster retries it as run ([0-9a-f-]{36})")


class BenchError(RuntimeError):
    """A command of the benchmark failed (its output was passed through)."""


def stage_of(step_key: str) -> str:
    if step_key.startswith("raw__"):
        return "raw + gates"
    return STEP_STAGES.get(step_key.rsplit("__", 1)[-1], f"other: {step_key}")


# --- sampling /proc ----------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    """One process at one sample."""

    ppid: int
    start: int  # clock ticks after boot: tells a reused pid apart
    cpu: float  # seconds: utime + stime + cutime + cstime
    rss: int  # bytes
    own: float = 0.0  # seconds: utime + stime (without its reaped children)


Snapshot = dict[int, Proc]


@dataclass(frozen=True)
class Interval:
    """What happened between two samples (t0, t1]; a zero-length one at t0 == t1."""

    t0: float
    t1: float
    cpu: float
    rss: int  # at t1


def read_proc(pid: int) -> Proc | None:
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    rest = text[text.rindex(")") + 2 :].split()  # the name in (...) may hold spaces
    # rest[k] is field k + 3 of proc(5): ppid 4, utime 14 .. cstime 17, starttime 22, rss 24
    own = int(rest[11]) + int(rest[12])
    ticks = own + int(rest[13]) + int(rest[14])
    return Proc(
        ppid=int(rest[1]),
        start=int(rest[19]),
        cpu=ticks / CLOCK_TICKS,
        rss=int(rest[21]) * PAGE_SIZE,
        own=own / CLOCK_TICKS,
    )


def _same(a: Proc | None, b: Proc | None) -> bool:
    return a is not None and b is not None and a.start == b.start


def _reaper(pid: int, prev: Snapshot, cur: Snapshot) -> int | None:
    """The nearest ancestor (in ``prev``) of a process gone since ``prev`` that still
    lives in ``cur``: the one whose cutime now holds the gone process's CPU."""
    seen = {pid}
    parent = prev[pid].ppid
    while parent in prev and not _same(prev[parent], cur.get(parent)) and parent not in seen:
        seen.add(parent)
        parent = prev[parent].ppid
    return parent if parent in cur else None


def cpu_growth(prev: Snapshot, cur: Snapshot, members: set[int] | None = None) -> float:
    """CPU seconds the processes of ``members`` (pids; None = every process of the
    snapshots) used between two snapshots, counting exited children through their
    reaper's cutime (see the module docstring)."""

    def member(pid: int) -> bool:
        return members is None or pid in members

    total = 0.0
    for pid, now in cur.items():
        if not member(pid):
            continue
        before = prev.get(pid)
        total += now.cpu - before.cpu if before is not None and _same(before, now) else now.cpu
    for pid, before in prev.items():
        if not member(pid) or _same(before, cur.get(pid)):
            continue
        reaper = _reaper(pid, prev, cur)
        if reaper is not None and member(reaper):
            total -= before.cpu  # its whole CPU is in the reaper's cutime, counted above
    return total


def subtree(snapshot: Snapshot, root: int) -> set[int]:
    """``root`` and its descendants in ``snapshot`` (empty if root is not in it)."""
    if root not in snapshot:
        return set()
    children: dict[int, list[int]] = {}
    for pid, proc in snapshot.items():
        children.setdefault(proc.ppid, []).append(pid)
    found, todo = {root}, [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def intervals(samples: Sequence[tuple[float, Snapshot]], root: int | None = None) -> list[Interval]:
    """The samples as intervals: CPU used in each, the tree's RSS at its end. With
    ``root``, only that process's subtree counts (membership as of each snapshot)."""
    result: list[Interval] = []
    prev_t: float | None = None
    prev: Snapshot = {}
    for t, snap in samples:
        if root is None:
            cpu = cpu_growth(prev, snap)
            rss = sum(p.rss for p in snap.values())
        else:
            now_members = subtree(snap, root)
            members = now_members | subtree(prev, root)
            cpu = cpu_growth(prev, snap, members)
            rss = sum(snap[pid].rss for pid in now_members)
        result.append(Interval(t if prev_t is None else prev_t, t, cpu, rss))
        prev_t, prev = t, snap
    return result


class TreeSampler:
    """Samples the process tree of ``root`` (plus processes started after it whose
    environment contains ``marker``) every ``interval`` seconds in a thread, until stopped."""

    def __init__(self, root: int, marker: bytes | None, interval: float) -> None:
        self.root, self.marker, self.interval = root, marker, interval
        found = read_proc(root)
        self.root_start = found.start if found is not None else 0
        self.samples: list[tuple[float, Snapshot]] = []
        self.names: dict[int, str] = {}  # pid -> command line (the last process with that pid)
        self._tracked: dict[tuple[int, int], bool] = {}  # (pid, start) -> in the tree
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-sampler", daemon=True)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> list[tuple[float, Snapshot]]:
        self._stop.set()
        self._thread.join()
        return self.samples

    def _loop(self) -> None:
        while True:
            self.samples.append(self.sample())
            if self._stop.wait(self.interval):
                self.samples.append(self.sample())
                return

    def _has_marker(self, pid: int, start: int) -> bool:
        # One started before the command (e.g. a code server of the previous command
        # still shutting down) is not part of this measurement.
        if self.marker is None or start < self.root_start:
            return False
        try:
            return self.marker in (PROC / str(pid) / "environ").read_bytes().split(b"\0")
        except OSError:  # another user's process, or gone
            return False

    def sample(self) -> tuple[float, Snapshot]:
        before = time.time()
        everything: Snapshot = {}
        for entry in os.scandir(PROC):
            if entry.name.isdigit():
                proc = read_proc(int(entry.name))
                if proc is not None:
                    everything[int(entry.name)] = proc

        def tracked(pid: int) -> bool:
            proc = everything[pid]
            key = (pid, proc.start)
            if key not in self._tracked:
                self._tracked[key] = False  # a cycle guard while resolving
                self._tracked[key] = (
                    pid == self.root
                    or (proc.ppid in everything and tracked(proc.ppid))
                    or self._has_marker(pid, proc.start)
                )
                if self._tracked[key]:
                    self.names[pid] = _command_line(pid)
            return self._tracked[key]

        snap = {pid: proc for pid, proc in everything.items() if tracked(pid)}
        return (before + time.time()) / 2, snap


def _command_line(pid: int) -> str:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


# --- attributing samples to windows ------------------------------------------------


@dataclass(frozen=True)
class Window:
    label: str
    start: float
    end: float


def _overlap(interval: Interval, window: Window) -> float:
    """Share of ``interval`` inside ``window`` (a zero-length interval: 1 if inside)."""
    if interval.t1 <= interval.t0:
        return 1.0 if window.start <= interval.t0 <= window.end else 0.0
    inside = min(interval.t1, window.end) - max(interval.t0, window.start)
    return max(inside, 0.0) / (interval.t1 - interval.t0)


def attribute(spans: Iterable[Interval], windows: Sequence[Window]) -> dict[str, tuple[float, int]]:
    """Per window label: (CPU seconds, peak RSS bytes). Each interval's CPU is split over
    the windows in proportion to its overlap with them; the rest goes to label "". An
    interval that overlaps a window gives it its RSS as a candidate peak."""
    cpu: dict[str, float] = {}
    peak: dict[str, int] = {}
    for span in spans:
        left = 1.0
        for window in windows:
            share = _overlap(span, window)
            if share <= 0:
                continue
            share = min(share, left)
            left -= share
            cpu[window.label] = cpu.get(window.label, 0.0) + span.cpu * share
            peak[window.label] = max(peak.get(window.label, 0), span.rss)
        if left > 1e-12:
            cpu[""] = cpu.get("", 0.0) + span.cpu * left
            peak[""] = max(peak.get("", 0), span.rss)
    return {label: (cpu.get(label, 0.0), peak.get(label, 0)) for label in cpu.keys() | peak.keys()}


def gaps(start: float, end: float, busy: Sequence[Window], label: str) -> list[Window]:
    """The parts of [start, end] outside every window of ``busy``, labelled ``label``."""
    result, at = [], start
    for window in sorted(busy, key=lambda w: w.start):
        if window.start > at:
            result.append(Window(label, at, min(window.start, end)))
        at = max(at, window.end)
    if at < end:
        result.append(Window(label, at, end))
    return result


# --- running a measured command ----------------------------------------------------


@dataclass
class Measured:
    label: str
    command: list[str]
    pid: int
    started: float
    ended: float
    returncode: int
    output: str
    samples: list[tuple[float, Snapshot]]
    names: dict[int, str] = field(default_factory=dict)  # pid -> command line
    lingered: float = 0.0  # seconds processes of the tree ran on after the command exited

    @property
    def wall(self) -> float:
        return self.ended - self.started

    @cached_property
    def tree(self) -> list[Interval]:
        return intervals(self.samples)

    @property
    def cpu(self) -> float:
        return sum(span.cpu for span in self.tree)

    @property
    def peak_rss(self) -> int:
        return max((span.rss for span in self.tree), default=0)


def measure(label: str, command: list[str], env: dict[str, str], prefix: str, interval: float) -> Measured:
    """Run ``command``, passing its output through with ``prefix``, sampling its tree."""
    started = time.time()
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    marker = f"DAGSTER_HOME={env['DAGSTER_HOME']}".encode() if "DAGSTER_HOME" in env else None
    sampler = TreeSampler(proc.pid, marker, interval).start()
    lines = []
    assert proc.stdout is not None
    for line in proc.stdout:
        lines.append(line)
        print(f"{prefix}{line.rstrip()}", flush=True)
    returncode = proc.wait()
    ended = time.time()
    # Processes that outlive the command (a code server shutting down after its daemon)
    # are sampled until they exit: their CPU counts, and the next command starts alone.
    while sampler.samples[-1][1] and time.time() - ended < LINGER_SECONDS:
        time.sleep(interval)
    samples = sampler.stop()
    lingered = max([t - ended for t, snap in samples if snap] + [0.0])
    if samples[-1][1]:
        left = ", ".join(f"{pid} ({sampler.names.get(pid, '?')[:60]})" for pid in samples[-1][1])
        print(f"{prefix}still running {LINGER_SECONDS:.0f} s after the command exited, not measured further: {left}")
    elif lingered > interval:
        print(f"{prefix}(processes of the command ran on for {lingered:.1f} s after it exited)", flush=True)
    return Measured(
        label,
        command,
        proc.pid,
        started,
        ended,
        returncode,
        "".join(lines),
        samples,
        dict(sampler.names),
        lingered,
    )


# --- the run's event log -----------------------------------------------------------


@dataclass
class RunEvents:
    run_id: str
    enqueued: float | None
    started: float
    ended: float
    steps: list[Window]  # label = step key
    worker_pid: int | None


@contextmanager
def open_instance(home: Path) -> Iterator[dg.DagsterInstance]:
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


def run_id_of(output: str) -> str | None:
    """The run the CLI followed last (a retry replaces the first run)."""
    retries = RETRY_ID.findall(output)
    if retries:
        return retries[-1]
    found = RUN_ID.findall(output)
    return found[-1] if found else None


def read_run(home: Path, run_id: str) -> RunEvents:
    import dagster as dg

    from orchestration.run_launcher import worker_pid

    kinds = {
        dg.DagsterEventType.RUN_ENQUEUED,
        dg.DagsterEventType.RUN_START,
        dg.DagsterEventType.RUN_SUCCESS,
        dg.DagsterEventType.RUN_FAILURE,
        dg.DagsterEventType.STEP_START,
        dg.DagsterEventType.STEP_SUCCESS,
        dg.DagsterEventType.STEP_FAILURE,
    }
    with open_instance(home) as instance:
        entries = instance.all_logs(run_id, of_type=kinds)
        pid = worker_pid(instance, run_id)
    times: dict[dg.DagsterEventType, float] = {}
    step_start: dict[str, float] = {}
    steps = []
    for entry in entries:
        event = entry.dagster_event
        if event is None:
            continue
        kind = event.event_type
        if kind == dg.DagsterEventType.STEP_START:
            step_start[event.step_key or ""] = entry.timestamp
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            key = event.step_key or ""
            steps.append(Window(key, step_start.pop(key, entry.timestamp), entry.timestamp))
        else:
            times.setdefault(kind, entry.timestamp)
    start = times.get(dg.DagsterEventType.RUN_START)
    end = times.get(dg.DagsterEventType.RUN_SUCCESS) or times.get(dg.DagsterEventType.RUN_FAILURE)
    if start is None or end is None:
        raise RuntimeError(f"run {run_id} has no start or end event in {home}")
    enqueued = times.get(dg.DagsterEventType.RUN_ENQUEUED)
    return RunEvents(run_id, enqueued, start, end, steps, pid[0] if pid else None)


# --- one measured run: rows per stage ----------------------------------------------


@dataclass
class Row:
    stage: str
    wall: float
    cpu: float
    peak_rss: int


@dataclass
class RunResult:
    label: str
    kind: str  # e.g. "Sun, forecast day"
    measured: Measured
    events: RunEvents
    rows: list[Row]  # stages, then overhead in run, start-up, shut-down
    roles: dict[str, float]  # CPU seconds by process role

    @property
    def forecast_day(self) -> bool:
        return self.kind.endswith("forecast day")

    @property
    def step_wall(self) -> float:
        return sum(w.end - w.start for w in self.events.steps)

    @property
    def scheduled_wall(self) -> float:
        """Queued to finished: a scheduled run's wall (the schedule queues it; no CLI)."""
        e = self.events
        return e.ended - (e.enqueued if e.enqueued else e.started)

    @property
    def total(self) -> Row:
        return Row(
            "total", self.measured.wall, sum(r.cpu for r in self.rows), max((r.peak_rss for r in self.rows), default=0)
        )


def cpu_by_role(measured: Measured, worker: int | None, root: int) -> dict[str, float]:
    """Each process's own user + system CPU as last sampled, summed by role."""
    last: dict[tuple[int, int], Proc] = {}
    parent: dict[int, int] = {}
    for _t, snap in measured.samples:
        for pid, proc in snap.items():
            last[(pid, proc.start)] = proc
            parent[pid] = proc.ppid

    def under_worker(pid: int) -> bool:
        seen: set[int] = set()
        while pid in parent and pid not in seen:
            seen.add(pid)
            pid = parent[pid]
            if pid == worker:
                return True
        return False

    roles: dict[str, float] = {}
    for (pid, _start), proc in last.items():
        command = measured.names.get(pid, "")
        if pid == root:
            role = "CLI"
        elif pid == worker:
            role = "run worker"
        elif worker is not None and under_worker(pid):
            role = "run worker's children"
        elif "dagster-daemon" in command:
            role = "daemon"
        elif " api grpc" in command:
            role = "code servers"
        elif "orchestration.warm_worker" in command:
            role = "warm process"  # the run worker's parent (orchestration/run_launcher.py)
        else:
            role = "other"
        roles[role] = roles.get(role, 0.0) + proc.own
    return roles


def stage_rows(measured: Measured, events: RunEvents) -> list[Row]:
    """Wall, CPU and peak RSS per stage and per kind of overhead (module docstring)."""
    steps = [Window(stage_of(w.label), w.start, w.end) for w in events.steps]
    run_start, run_end = events.started, events.ended
    windows = [
        # open-ended: the first sample's CPU and the last sample (after the exit) land here
        Window(START_UP, measured.started - 3600, run_start),
        *steps,
        *gaps(run_start, run_end, steps, IN_RUN),
        Window(SHUT_DOWN, run_end, measured.ended + 3600),
    ]
    tree = attribute(measured.tree, windows)
    if events.worker_pid is not None:
        worker = attribute(intervals(measured.samples, events.worker_pid), steps)
    else:  # no pid recorded: the whole tree's CPU within the steps
        worker = {label: value for label, value in tree.items() if label in {w.label for w in steps}}
    wall: dict[str, float] = {}
    for window in steps:
        wall[window.label] = wall.get(window.label, 0.0) + window.end - window.start
    names = [s for s in STAGES if s in wall] + sorted(s for s in wall if s not in STAGES)
    rows = [Row(name, wall[name], worker.get(name, (0.0, 0))[0], tree.get(name, (0.0, 0))[1]) for name in names]
    in_run_cpu = sum(tree.get(label, (0.0, 0))[0] for label in [*names, IN_RUN]) - sum(r.cpu for r in rows)
    in_run_wall = run_end - run_start - sum(wall.values())
    rows.append(Row(IN_RUN, in_run_wall, in_run_cpu, tree.get(IN_RUN, (0.0, 0))[1]))
    for label, span in ((START_UP, run_start - measured.started), (SHUT_DOWN, measured.ended - run_end)):
        cpu, peak = tree.get(label, (0.0, 0))
        rows.append(Row(label, span, cpu, peak))
    return rows


def run_cli(
    label: str, kind: str, args: list[str], env: dict[str, str], home: Path, prefix: str, interval: float
) -> RunResult:
    command = [sys.executable, "-m", "orchestration.cli", "backfill", *args]
    measured = measure(label, command, env, prefix, interval)
    if measured.returncode != 0:
        raise BenchError(f"{label}: `{' '.join(command)}` exited {measured.returncode} (output above)")
    run_id = run_id_of(measured.output)
    if run_id is None:
        raise BenchError(f"{label}: no run id in the output of `{' '.join(command)}`")
    events = read_run(home, run_id)
    roles = cpu_by_role(measured, events.worker_pid, measured.pid)
    return RunResult(label, kind, measured, events, stage_rows(measured, events), roles)


@contextmanager
def running_daemon(env: dict[str, str], home: Path, prefix: str) -> Iterator[None]:
    """A dagster-daemon for the instance at ``home`` for the duration, started and
    waited for (its queue heartbeat) before the first command, stopped after."""
    from orchestration.cli import QUEUE_DAEMON, WORKSPACE

    log = (home / "bench-daemon.log").open("w")
    command = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(WORKSPACE)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    started = time.time()
    try:
        while True:
            with open_instance(home) as instance:
                beat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
            if beat is not None and beat.timestamp >= started:
                break
            if process.poll() is not None or time.time() - started > DAEMON_READY_SECONDS:
                raise BenchError(f"the dagster-daemon did not start (log {home / 'bench-daemon.log'})")
            time.sleep(0.5)
        print(f"{prefix}running (ready in {time.time() - started:.1f} s, not counted in the daily runs)", flush=True)
        yield
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()
        with open_instance(home) as instance:
            instance.wipe_daemon_heartbeats()  # the next command must not count on it


# --- storage -----------------------------------------------------------------------


def folder_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (symlinks not followed)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                status = os.lstat(os.path.join(folder, name))
            except OSError:
                continue
            if not os.path.islink(os.path.join(folder, name)):
                total += status.st_size
    return total


@dataclass
class Storage:
    sizes: list[tuple[str, int]]
    rows: list[tuple[str, int]]  # schema.table, rows; largest first


def read_storage(landing: Path, data: Path) -> Storage:
    import duckdb

    sizes = []
    for name, path in (
        ("warehouse.duckdb", data / "warehouse.duckdb"),
        ("serving.duckdb", data / "serving.duckdb"),
        ("published/", data / "published"),
        ("landing/ (the extracts)", landing),
    ):
        if path.exists():
            sizes.append((name, path.stat().st_size if path.is_file() else folder_size(path)))
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    try:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()
        rows = []
        for schema, table in tables:
            count = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()
            rows.append((f"{schema}.{table}", int(count[0]) if count else 0))
    finally:
        con.close()
    rows.sort(key=lambda item: -item[1])
    shown = rows[:BIG_TABLES] + [r for r in rows[BIG_TABLES:] if r[0].endswith("." + SUGGESTIONS)]
    return Storage(sizes, shown)


# --- one scale ---------------------------------------------------------------------


@dataclass
class ScaleResult:
    scale: str
    customers: int
    skus: int
    first: date
    last: date
    days: int
    generation: Measured
    backfill: RunResult
    daily: list[RunResult]
    storage: Storage
    load: tuple[float, float]  # 1-minute load average before and after
    notes: list[str] = field(default_factory=list)

    @property
    def units(self) -> int:
        """customer·SKU·days of the backfill."""
        return self.customers * self.skus * self.days


def _env(landing: Path, data: Path, home: Path, first: str) -> dict[str, str]:
    env = {
        **os.environ,
        "RESTOCK_LANDING_DIR": str(landing),
        "RESTOCK_DATA_DIR": str(data),
        "RESTOCK_PARTITION_START": first,
        "DAGSTER_HOME": str(home),
        "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true",
        "DAGSTER_EVENT_BATCH_SIZE": "1000",
        "DO_NOT_TRACK": "1",
        "PYTHONUNBUFFERED": "1",
    }
    for name in ("RESTOCK_WAREHOUSE_PATH", "RESTOCK_POSTGRES_URL", "RESTOCK_AUTOMATION"):
        env.pop(name, None)
    return env


def daily_days(last: date, cutoff_weekday: int) -> list[tuple[date, str]]:
    """The days of the daily runs: the last day, then the other kind of day before it
    (the last forecast day, or the last Wednesday when the last day is a forecast day)."""

    def kind(day: date) -> str:
        name = day.strftime("%a")
        return f"{name}, forecast day" if day.isoweekday() == cutoff_weekday else f"{name}, no forecast"

    if last.isoweekday() == cutoff_weekday:
        other = last - timedelta(days=(last.isoweekday() - 3) % 7 or 7)  # the Wednesday before
    else:
        other = last - timedelta(days=(last.isoweekday() - cutoff_weekday) % 7 or 7)
    return [(last, kind(last)), (other, kind(other))]


def run_scale(scale: str, workdir: Path | None, keep: bool, interval: float, days: int | None = None) -> ScaleResult:
    from restock.config import load_config
    from restock.demo.generator import read_manifest
    from restock.settings import load_settings

    base = Path(tempfile.mkdtemp(prefix=f"restock-bench-{scale}-", dir=workdir))
    landing, data, home = base / "landing", base / "data", base / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    print(f"== {scale}: working in {base}", flush=True)
    load_before = os.getloadavg()[0]
    finished = False
    try:
        env = _env(landing, data, home, "2024-01-01")
        prefix = f"  {scale} generate | "
        generation = measure(
            "generate",
            [sys.executable, "-m", "restock.demo", "--scale", scale, "--out", str(landing), "--quiet"]
            + (["--days", str(days)] if days else []),
            env,
            prefix,
            interval,
        )
        if generation.returncode != 0:
            raise BenchError(f"{scale}: generating the extracts failed ({generation.returncode})")
        manifest = read_manifest(landing)
        first, last = date.fromisoformat(manifest["start"]), date.fromisoformat(manifest["end"])
        env = _env(landing, data, home, first.isoformat())
        print(f"  {scale} generate | done in {generation.wall:.1f} s", flush=True)

        # exactly as make demo
        backfill = run_cli(
            "backfill", "the demo period", ["--demo-period"], env, home, f"  {scale} backfill | ", interval
        )
        print(f"  {scale} backfill | done in {backfill.measured.wall:.1f} s", flush=True)
        storage = read_storage(landing, data)

        cutoff = load_config(load_settings(env).config_path).forecasting.cutoff_weekday
        daily = []
        # As in production, a dagster-daemon already runs for the instance (`make dev`,
        # a service): the schedule's runs pay no daemon start, the CLI none either.
        # The daemon's first run also starts its warm process (orchestration/run_launcher.py),
        # which a daemon that has been running for days has: the last day is measured
        # both as that first run and again after it.
        (last_day, last_kind), (other_day, other_kind) = daily_days(last, cutoff)
        plan = [
            (last_day, last_kind, "the daemon's first run, starting its warm process"),
            (last_day, last_kind, "the last day, re-run"),
            (other_day, other_kind, "re-run"),
        ]
        with running_daemon(env, home, f"  {scale} daemon | "):
            for day, kind, note in plan:
                label = f"daily {day} ({kind}; {note})"
                prefix = f"  {scale} daily {day} | "
                days = ["--start", day.isoformat(), "--end", day.isoformat()]
                run = run_cli(label, kind, days, env, home, prefix, interval)
                print(
                    f"{prefix}done in {run.measured.wall:.1f} s (as a scheduled run, queued to finished: "
                    f"{run.scheduled_wall:.1f} s)",
                    flush=True,
                )
                daily.append(run)
        config = manifest["config"]
        result = ScaleResult(
            scale=scale,
            customers=int(config["n_customers"]),
            skus=int(config["n_skus"]),
            first=first,
            last=last,
            days=int(manifest["days"]),
            generation=generation,
            backfill=backfill,
            daily=daily,
            storage=storage,
            load=(load_before, os.getloadavg()[0]),
        )
        if os.environ.get("RESTOCK_CONFIG"):
            result.notes.append(f"RESTOCK_CONFIG={os.environ['RESTOCK_CONFIG']}")
        finished = True
        return result
    finally:
        if keep or not finished:
            print(f"== {scale}: kept {base}" + ("" if finished else " (for inspection: it failed)"), flush=True)
        else:
            shutil.rmtree(base, ignore_errors=True)


# --- the report --------------------------------------------------------------------


def _mb(value: int) -> str:
    return f"{value / MB:,.0f}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _stage_table(run: RunResult) -> list[str]:
    total = run.total
    rows = [
        (r.stage, f"{r.wall:.1f}", f"{r.cpu:.1f}", _mb(r.peak_rss), f"{r.wall / total.wall:.0%}")
        for r in [*run.rows, total]
    ]
    return _table(("stage", "wall s", "CPU s", "peak RSS MB", "share of wall"), rows)


def _roles(run: RunResult) -> str:
    order = ("run worker", "run worker's children", "warm process", "code servers", "CLI", "daemon", "other")
    names = [name for name in order if name in run.roles] + sorted(set(run.roles) - set(order))
    return "CPU by process: " + ", ".join(f"{name} {run.roles[name]:.1f} s" for name in names)


def _split(run: RunResult) -> str:
    e, m = run.events, run.measured
    assets = run.step_wall
    overhead = m.wall - assets
    submit = (e.enqueued - m.started) if e.enqueued else None
    queue = (e.started - e.enqueued) if e.enqueued else None
    parts = [
        f"submitting (CLI start-up, code location, enqueue) {submit:.1f} s" if submit is not None else None,
        f"queue, daemon and run start-up {queue:.1f} s" if queue is not None else None,
        f"between steps {e.ended - e.started - assets:.1f} s",
        f"after the run {m.ended - e.ended:.1f} s",
    ]
    split = (
        f"assets {assets:.1f} s ({assets / m.wall:.0%}), overhead {overhead:.1f} s ({overhead / m.wall:.0%}): "
        + ", ".join(p for p in parts if p)
    )
    if not run.label.startswith("daily"):
        return split
    scheduled = run.scheduled_wall
    return (
        f"{split}; as a scheduled run (queued to finished, no CLI) {scheduled:.1f} s, "
        f"overhead {scheduled - assets:.1f} s ({(scheduled - assets) / scheduled:.0%})"
    )


def scale_report(r: ScaleResult) -> list[str]:
    years = r.days / 365.25
    lines = [
        f"### {r.scale}: {r.customers:,} customers × {r.skus:,} SKUs × {r.days} days "
        f"({r.first} .. {r.last}) = {r.units:,} customer·SKU·days",
        "",
        f"Load average (1 min) {r.load[0]:.2f} before, {r.load[1]:.2f} after."
        + "".join(f" {note}." for note in r.notes),
        "",
    ]
    phases = [("generate the extracts", r.generation), (f"backfill ({r.days} days, one run)", r.backfill.measured)]
    phases += [(run.label, run.measured) for run in r.daily]
    lines += _table(
        ("phase", "wall s", "CPU s", "peak RSS MB"),
        ((name, f"{m.wall:.1f}", f"{m.cpu:.1f}", _mb(m.peak_rss)) for name, m in phases),
    )
    for run in [r.backfill, *r.daily]:
        lines += ["", f"**{run.label}** (run {run.events.run_id[:8]}): {_split(run)}. {_roles(run)}.", ""]
        lines += _stage_table(run)
    lines += ["", f"Storage after the backfill ({r.days} days = {years:.2f} years of history):", ""]
    lines += _table(
        ("file", "MB", "MB per year"),
        ((name, _mb(size), f"{size / MB / years:,.0f}") for name, size in r.storage.sizes),
    )
    lines += [""]
    lines += _table(
        ("warehouse table", "rows", "rows per year"),
        ((name, f"{rows:,}", f"{rows / years:,.0f}") for name, rows in r.storage.rows),
    )
    return lines


def ratio_report(results: Sequence[ScaleResult]) -> list[str]:
    """Cost per customer·SKU·day of the backfill (per customer·SKU of a daily run) at
    each scale, and its ratio to the first scale's: 1 or below = no worse than linear."""
    base = results[0]

    def cells(values: Sequence[float], unit_scale: float) -> list[str]:
        first = values[0]
        return [f"{v * unit_scale:,.2f}" + (f" (×{v / first:.2f})" if first > 0 else "") for v in values]

    def stage(run: RunResult, name: str, what: str) -> float:
        return next((getattr(row, what) for row in run.rows if row.stage == name), 0.0)

    rows: list[list[str]] = [["customer·SKU·days"] + [f"{r.units:,} (×{r.units / base.units:,.0f})" for r in results]]
    per_unit: list[tuple[str, list[float]]] = [
        ("generation wall", [r.generation.wall / r.units for r in results]),
        ("backfill wall", [r.backfill.measured.wall / r.units for r in results]),
        ("backfill CPU", [r.backfill.total.cpu / r.units for r in results]),
    ]
    for name in STAGES:
        for what in ("wall", "cpu"):
            values = [stage(r.backfill, name, what) / r.units for r in results]
            per_unit.append((f"backfill {name} {'CPU' if what == 'cpu' else what}", values))
    for name, values in per_unit:
        rows.append([f"{name}, µs per customer·SKU·day", *cells(values, 1e6)])
    for forecast in (False, True):
        # the last run of the kind: a long-running daemon's (see run_scale)
        runs = [next((d for d in reversed(r.daily) if d.forecast_day == forecast), None) for r in results]
        if any(run is None for run in runs):
            continue
        kind = "forecast day" if forecast else "no forecast"
        for what in ("wall", "assets"):
            values = [
                (run.measured.wall if what == "wall" else run.step_wall) / (r.customers * r.skus)
                for run, r in zip(runs, results, strict=True)
                if run is not None
            ]
            rows.append([f"daily run ({kind}) {what}, ms per customer·SKU", *cells(values, 1e3)])
    return [
        f"### Cost per unit of work, and its ratio to {base.scale}",
        "",
        "A ratio of 1 or below: the cost grows no faster than linearly in customers, SKUs and days. "
        "A daily run's wall includes its fixed start-up; its assets (Σ step walls) do not.",
        "",
        *_table(("", *(r.scale for r in results)), rows),
    ]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def report(
    results: Sequence[ScaleResult], argv: Sequence[str], interval: float, failure: str | None = None
) -> list[str]:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [line for line in _git("status", "--porcelain", "--untracked-files=no").splitlines() if line.strip()]
    tree = f"dirty ({len(changed)} tracked files changed)" if changed else "clean"
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    lines = [
        f"# Pipeline benchmark ({datetime.now():%Y-%m-%d %H:%M}, commit {commit}, tree {tree})",
        "",
        f"Command: `python benchmarks/bench_pipeline.py {' '.join(argv)}`; {os.cpu_count()} cores, "
        f"{memory / 2**30:.1f} GB RAM; /proc sampled every {interval} s (method: the script's docstring). "
        "The backfill's command starts its own dagster-daemon (counted in its start-up); the daily runs re-run "
        "days of the backfilled period (the data has no later day) with a daemon already running, as in "
        "production, and 'as a scheduled run' is their wall from queued to finished (no CLI). A stage's CPU is the run worker's and its children's "
        "within the stage's steps; the CPU of 'overhead in run' adds the daemon's, the code servers' and the "
        "CLI's during the whole run.",
        "",
    ]
    for result in results:
        lines += scale_report(result) + [""]
    if len(results) > 1:
        lines += ratio_report(results) + [""]
    if failure:
        lines += [f"**{failure}**", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_pipeline.py", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale",
        nargs="+",
        action="extend",
        choices=SCALE_ORDER,
        help="scales to run, smallest first (default: tiny demo)",
    )
    parser.add_argument("--keep", action="store_true", help="keep each scale's temporary folder")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS.md", help="append the report here")
    parser.add_argument("--no-write", action="store_true", help="print the report only")
    parser.add_argument("--workdir", type=Path, help="where the temporary folders go (default: the system's)")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between /proc samples")
    parser.add_argument(
        "--days",
        type=int,
        help="generate and backfill only the first DAYS days of each scale (default: the preset's 731); "
        "a city's first months in well under its two years' hours",
    )
    args = parser.parse_args(argv)
    if not (ROOT / "dbt_project" / "target" / "manifest.json").exists():
        parser.error("no dbt manifest: run `make manifest` first (make bench does)")
    scales = sorted(set(args.scale or ["tiny", "demo"]), key=SCALE_ORDER.index)
    results: list[ScaleResult] = []
    failure = None
    for scale in scales:
        try:
            results.append(run_scale(scale, args.workdir, args.keep, args.interval, args.days))
        except BenchError as error:  # report the scales done so far
            failure = f"{scale}: FAILED: {error}"
            print(failure, file=sys.stderr, flush=True)
            break
        if scale != scales[-1]:  # its figures, in case a later scale fails
            print("\n".join(["", *scale_report(results[-1])]), flush=True)
    if not results:
        return 1
    text = "\n".join(report(results, sys.argv[1:] if argv is None else argv, args.interval, failure))
    print("\n" + text, flush=True)
    if not args.no_write:
        with args.out.open("a", encoding="utf-8") as out:
            out.write("\n" + text)
        print(f"\nappended to {args.out}")
    return 0 if failure is None else 1


if __name__ == "__main__":
    sys.exit(main())
