"""`make backfill` / `make demo`: one run for a date range, submitted to the run queue.

The run goes into the instance's run queue (DAGSTER_HOME, `dagster_home/dagster.yaml`:
one run at a time) exactly like a run launched in the UI, so a backfill waits for a
scheduled, sensor or UI run instead of colliding with it on the warehouse. It is one
run of the job `restock_daily` (or of the assets of --select) with the range as the
partition range tags, as the UI's *Materialize -> partition range* single-run
backfill makes. The command prints the run id and its UI link, reports every finished
step and the progress lines of long steps (days done of the total, rate, time left:
restock/progress.py), and exits 0 when the run succeeds, 1 with the reason when it fails.

Queued runs are started by the dagster-daemon. When none is running for the instance
(no recent heartbeat), the command starts one (`dagster-daemon run -w workspace.yaml`,
log in $DAGSTER_HOME/dagster-daemon.log) for as long as it waits; with `make dev`
or a production daemon running, that one starts the run, with its own environment.

    python -m orchestration.cli backfill --start 2024-01-01 --end 2024-01-31
    python -m orchestration.cli backfill --demo-period   # the range in the demo manifest
    python -m orchestration.cli backfill --start … --end … --select 'group:segmentation or group:forecasting'
    python -m orchestration.cli cancel RUN_ID             # cancel a queued or running run

Ctrl-C stops waiting; the run carries on in the queue.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import subprocess
import sys
import time
import warnings
from collections import Counter
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from restock.progress import PREFIX as PROGRESS_PREFIX
from restock.settings import PROJECT_ROOT, load_settings

if TYPE_CHECKING:
    import dagster as dg

WORKSPACE = PROJECT_ROOT / "workspace.yaml"
JOB_NAME = "restock_daily"  # orchestration/automation.py: every asset, daily partitions
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
POLL_SECONDS = 1.0
# A finished run's last event follows its status within milliseconds; bounded anyway.
FINAL_EVENT_SECONDS = 5.0
# The daemon that dequeues runs; a live dagster-daemon writes its heartbeat every
# 30 s, so one older than this belongs to a daemon that is gone.
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
HEARTBEAT_FRESH_SECONDS = 75.0

# The UI's launch: one run of a job (or of an asset subset of it) with tags.
LAUNCH_RUN = """
mutation LaunchRun($executionParams: ExecutionParams!) {
  launchRun(executionParams: $executionParams) {
    __typename
    ... on LaunchRunSuccess { run { runId status } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on PythonError { message stack }
    ... on Error { message }
  }
}
"""


def _demo_period(landing_dir: Path) -> tuple[date, date]:
    manifest = landing_dir / "_demo_manifest.json"
    if not manifest.exists():
        sys.exit(f"no demo manifest at {manifest}: generate the demo extracts first (make demo)")
    meta = json.loads(manifest.read_text())
    return date.fromisoformat(meta["start"]), date.fromisoformat(meta["end"])


def _environment() -> None:
    """Defaults for this process and the daemon it may start."""
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT / "dagster_home"))
    os.environ.setdefault("DO_NOT_TRACK", "1")
    # One "planned" event per asset for the range instead of one per asset per day,
    # written when the run is created (here): at two years x 18 assets that is 13,000
    # fewer SQLite writes (~3.5 min). The cost: if the run fails, its days show as
    # missing, not failed (the run itself shows the failure).
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    # The run's one materialization per asset per day, handed to the event log in
    # batches of up to this many (one write each with orchestration/event_log.py or
    # PostgreSQL storage; one by one otherwise): ~4 min of a two-year demo backfill.
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")
    # Single-run backfills and selection syntax are "beta": not news to a user here.
    from dagster_shared.utils.warnings import BetaWarning, PreviewWarning

    warnings.filterwarnings("ignore", category=BetaWarning)
    warnings.filterwarnings("ignore", category=PreviewWarning)


# --- the dagster-daemon ----------------------------------------------------------


def _queue_daemon_alive(instance: dg.DagsterInstance) -> bool:
    """True if a dagster-daemon dequeues this instance's runs (a recent heartbeat)."""
    from dagster._core.run_coordinator import QueuedRunCoordinator

    if not isinstance(instance.run_coordinator, QueuedRunCoordinator):
        return True  # runs are launched at once: nothing to dequeue them
    if instance.daemon_skip_heartbeats_without_errors:
        return True  # daemons that write no heartbeats: trust the deployment to run one
    beat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    return beat is not None and time.time() - beat.timestamp <= HEARTBEAT_FRESH_SECONDS


class _OwnDaemon:
    """A dagster-daemon this command started; it stops when the command stops waiting.

    Started in its own session, so a Ctrl-C in the terminal reaches only this command:
    a run the daemon has launched carries on (its code server outlives the daemon
    until the run ends). One such daemon per instance at a time (a lock file): two
    commands started together must not start two daemons, which could each start a
    run at the same moment."""

    def __init__(self, instance: dg.DagsterInstance, lock: IO[str]) -> None:
        # Not in $DAGSTER_HOME/logs: Dagster moves that folder away (telemetry queue).
        self.log_path = Path(instance.root_directory) / "dagster-daemon.log"
        self._known_ids = {beat.daemon_id for beat in instance.get_daemon_heartbeats().values()}
        self._instance, self._lock = instance, lock
        self._log = self.log_path.open("w")
        command = [str(Path(sys.executable).parent / "dagster-daemon"), "run", "-w", str(WORKSPACE)]
        self.process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @classmethod
    def start(cls, instance: dg.DagsterInstance) -> _OwnDaemon | None:
        """A new daemon, or None if another command's daemon is starting (holds the lock)."""
        lock = (Path(instance.root_directory) / ".cli-daemon.lock").open("w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            return None
        return cls(instance, lock)

    def exit_code(self) -> int | None:
        return self.process.poll()

    def log_tail(self, lines: int = 15) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join("    " + line for line in text[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # the daemon shuts its threads down on SIGTERM
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        # Its heartbeats would make the next command think a daemon is running (for
        # up to HEARTBEAT_FRESH_SECONDS): wipe them, as `dagster-daemon wipe` does,
        # unless another daemon has started writing meanwhile.
        beats = self._instance.get_daemon_heartbeats().values()
        if len({beat.daemon_id for beat in beats} - self._known_ids) <= 1:
            self._instance.wipe_daemon_heartbeats()
        self._lock.close()  # releases the lock


# --- submitting the run ----------------------------------------------------------


def _launch(instance: dg.DagsterInstance, start: date, end: date, select: str) -> tuple[str, int | None]:
    """Queue one run for the range; (run id, number of assets selected or None for all)."""
    import dagster as dg
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_graphql.cli import execute_query

    target = WorkspaceFileTarget(paths=[str(WORKSPACE)])
    with WorkspaceProcessContext(instance, target, code_server_log_level="WARNING") as workspace:
        context = workspace.create_request_context()
        entries = context.get_code_location_entries()
        if len(entries) != 1:
            sys.exit(f"{WORKSPACE} must name one code location, found {len(entries)}")
        location_name, entry = next(iter(entries.items()))
        if entry.load_error is not None:
            sys.exit(f"the code location {location_name} does not load:\n{entry.load_error.to_string()}")
        location = context.get_code_location(location_name)
        (repository,) = location.get_repositories().values()
        selector: dict[str, Any] = {
            "repositoryLocationName": location_name,
            "repositoryName": repository.name,
            "jobName": JOB_NAME,
        }
        selected = None
        if select.strip() != "*":
            try:
                keys = dg.AssetSelection.from_coercible(select.split(",")).resolve(repository.asset_graph)
            except Exception as error:  # a selection string Dagster cannot parse or resolve
                sys.exit(f"--select {select!r}: {error}")
            if not keys:
                sys.exit(f"--select {select!r} matches no asset")
            selector["assetSelection"] = [{"path": key.path} for key in sorted(keys)]
            selected = len(keys)
        params = {
            "selector": selector,
            "executionMetadata": {
                "tags": [
                    {"key": RANGE_START_TAG, "value": start.isoformat()},
                    {"key": RANGE_END_TAG, "value": end.isoformat()},
                ]
            },
        }
        answer = execute_query(workspace, LAUNCH_RUN, {"executionParams": params})
    result = (answer.get("data") or {}).get("launchRun") or {}
    if result.get("__typename") != "LaunchRunSuccess":
        detail = result.get("message") or "; ".join(e["message"] for e in result.get("errors", []))
        sys.exit(f"Dagster refused the run: {result.get('__typename')}: {detail or answer.get('errors')}")
    return result["run"]["runId"], selected


# --- following the run -----------------------------------------------------------


def _innermost(error: Any) -> str:
    """The message of the deepest cause of a serialized error (the user's exception)."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return f"{error.cls_name}: {error.message.strip()}" if error.cls_name else error.message.strip()


class _Follower:
    """Prints a run's progress from its event log and collects why it failed."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, started: float) -> None:
        self.instance, self.run_id, self.started = instance, run_id, started
        self.cursor: str | None = None
        self.materialized: dict[str, Counter[str]] = {}
        self.failures: list[str] = []
        self.run_failure: str | None = None
        self.ended = False  # the run's last event (success, failure, canceled) read
        self.status: str | None = None

    def say(self, text: str) -> None:
        print(f"  [{time.monotonic() - self.started:6.1f} s] {text}", flush=True)

    def poll(self) -> dg.DagsterRun:
        self._read_events()
        run = self.instance.get_run_by_id(self.run_id)
        assert run is not None
        if run.is_finished:
            # The run's status is written just before its last event, RUN_FAILURE or
            # RUN_SUCCESS (orchestration/event_log.py): read that one too.
            waited = time.monotonic()
            while not self.ended and time.monotonic() - waited < FINAL_EVENT_SECONDS:
                time.sleep(0.1)
                self._read_events()
        if run.status.value != self.status:
            self.status = run.status.value
            self.say(self._status_line(run))
        return run

    def _read_events(self) -> None:
        while True:
            # Every record, not only the event types _event reads: the steps' progress
            # lines are plain log messages (no event type to filter on).
            page = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, limit=1000)
            for record in page.records:
                self._event(record.event_log_entry)
            self.cursor = page.cursor
            if not page.has_more:
                break

    def _status_line(self, run: dg.DagsterRun) -> str:
        from dagster import DagsterRunStatus, RunsFilter

        if run.status == DagsterRunStatus.QUEUED:
            ahead = self.instance.get_runs(
                RunsFilter(statuses=[DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]), limit=3
            )
            if ahead:
                names = ", ".join(f"{r.run_id[:8]} ({r.job_name})" for r in ahead)
                return f"queued behind run {names}"
            return "queued"
        return run.status.value.lower()

    def _event(self, entry: Any) -> None:
        from dagster import DagsterEventType

        event = entry.dagster_event
        if event is None:
            # A step's progress line (restock/progress.py): "<step>: <label>: i/total days, rate, time left"
            if entry.user_message.startswith(PROGRESS_PREFIX):
                line = entry.user_message.removeprefix(PROGRESS_PREFIX)
                self.say(f"{entry.step_key}: {line}" if entry.step_key else line)
            return
        kind = event.event_type
        if kind == DagsterEventType.ASSET_MATERIALIZATION:
            self.materialized.setdefault(event.step_key or "", Counter())[event.asset_key.to_user_string()] += 1
        elif kind == DagsterEventType.STEP_SUCCESS:
            done = self.materialized.pop(event.step_key or "", Counter())
            assets = ", ".join(f"{key} x{n}" if n > 1 else key for key, n in sorted(done.items())[:4])
            if len(done) > 4:
                assets += f" and {len(done) - 4} more assets"
            self.say(entry.message.rstrip(".") + (f": {assets}" if assets else ""))
        elif kind == DagsterEventType.STEP_FAILURE:
            reason = _innermost(event.step_failure_data.error) if event.step_failure_data.error else entry.message
            self.failures.append(f"step {event.step_key}: {reason}")
            self.say(f"step {event.step_key} FAILED: {reason.splitlines()[0]}")
        elif kind == DagsterEventType.RUN_FAILURE:
            self.run_failure = entry.message
            self.ended = True
        elif kind in (DagsterEventType.RUN_SUCCESS, DagsterEventType.RUN_CANCELED):
            self.ended = True
        elif kind == DagsterEventType.ENGINE_EVENT and event.engine_event_data.error is not None:
            # e.g. the run's process crashed or run monitoring gave up on it
            self.failures.append(f"{entry.message} {_innermost(event.engine_event_data.error)}")

    def reason(self) -> str:
        lines = self.failures or [self.run_failure or "no failure event recorded; see the run's logs"]
        return "\n".join("    " + line.replace("\n", "\n    ") for line in lines)


def _retry_of(instance: dg.DagsterInstance, run_id: str) -> str | None:
    """The id of Dagster's automatic retry of a failed run, if it makes one (run_retries
    in dagster.yaml: crashed runs only), waiting for the daemon to create it."""
    from dagster._core.storage.tags import AUTO_RETRY_RUN_ID_TAG, WILL_RETRY_TAG

    if not instance.run_retries_enabled:
        return None
    asked = time.monotonic()
    while True:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        will_retry = run.tags.get(WILL_RETRY_TAG)
        if run.tags.get(AUTO_RETRY_RUN_ID_TAG):
            return run.tags[AUTO_RETRY_RUN_ID_TAG]
        waited = time.monotonic() - asked
        # The tag is written with the failure; the retry by the daemon's next tick.
        if will_retry == "false" or (will_retry is None and waited > 10) or waited > 180:
            return None
        time.sleep(POLL_SECONDS)


def backfill(start: date, end: date, select: str = "*", ui_url: str | None = None) -> int:
    """Queue one run for START..END (inclusive), follow it; the exit code. Links point
    at ``ui_url`` (default RESTOCK_UI_URL, else http://127.0.0.1:3000 as `make dev`)."""
    settings = load_settings()
    if end < start:
        sys.exit(f"END {end} is before START {start}")
    if start < settings.partition_start:
        sys.exit(
            f"START {start} is before the first partition {settings.partition_start}; "
            "set RESTOCK_PARTITION_START to cover it"
        )
    _environment()
    import dagster as dg

    from orchestration.partitions import daily_partitions

    last = daily_partitions.get_last_partition_key()
    if last is None or end.isoformat() > last:
        sys.exit(f"END {end} is after the last partition {last} (yesterday in {settings.timezone})")

    days = (end - start).days + 1
    print(f"backfill {start} .. {end} ({days} days) from {settings.landing_dir} into {settings.data_dir}", flush=True)
    started = time.monotonic()
    ui_url = (ui_url or settings.ui_url).rstrip("/")
    own: _OwnDaemon | None = None
    run_id: str | None = None
    with dg.DagsterInstance.get() as instance:
        try:
            if not _queue_daemon_alive(instance):
                # Started first: its start-up overlaps the run's submission.
                own = _OwnDaemon.start(instance)
                if own is not None:
                    print(
                        f"no dagster-daemon is running for {instance.root_directory}: started one (log {own.log_path})"
                    )
                else:
                    print("another make backfill is starting a dagster-daemon for this instance: it starts the run")
            else:
                print(
                    f"the dagster-daemon running for {instance.root_directory} starts the run, "
                    "with that daemon's environment (its RESTOCK_* folders)"
                )
            run_id, selected = _launch(instance, start, end, select)
            what = f"{selected} selected assets" if selected else f"job {JOB_NAME}"
            print(f"run {run_id} ({what}) queued: {ui_url}/runs/{run_id}", flush=True)
            follower = _Follower(instance, run_id, started)
            while True:
                run = follower.poll()
                if run.is_finished:
                    retry = _retry_of(instance, run_id) if run.is_failure else None
                    if retry is None:
                        break
                    follower.say(f"run {run_id} failed; Dagster retries it as run {retry}: {ui_url}/runs/{retry}")
                    run_id = retry
                    follower = _Follower(instance, run_id, started)
                    continue
                if run.status == dg.DagsterRunStatus.QUEUED:
                    if own is None and not _queue_daemon_alive(instance):
                        own = _OwnDaemon.start(instance)
                        if own is not None:
                            follower.say(f"no dagster-daemon is running any more: started one (log {own.log_path})")
                    elif own is not None and own.exit_code() is not None:
                        print(f"the dagster-daemon this command started exited ({own.exit_code()}):\n{own.log_tail()}")
                        print(f"run {run_id} stays queued: {ui_url}/runs/{run_id}")
                        return 1
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            current = instance.get_run_by_id(run_id) if run_id else None
            print("\nstopped waiting.", flush=True)
            if current is not None and not current.is_finished:
                print(f"run {run_id} carries on in the queue ({current.status.value.lower()}): {ui_url}/runs/{run_id}")
                print(f"  cancel it there (Terminate) or with: python -m orchestration.cli cancel {run_id}")
                if own is not None:
                    print(
                        "  (this command stops the dagster-daemon it started: a run already started "
                        "finishes; a queued run starts when a daemon runs again, e.g. make dev)"
                    )
            return 130
        finally:
            if own is not None:
                own.stop()
    elapsed = time.monotonic() - started
    if run.is_success:
        print(f"backfill {start} .. {end}: done in {elapsed:.1f} s (run {run_id})", flush=True)
        return 0
    print(
        f"backfill {start} .. {end}: FAILED ({run.status.value.lower()}) in {elapsed:.1f} s (run {run_id}):\n"
        f"{follower.reason()}\n  logs: {ui_url}/runs/{run_id}",
        flush=True,
    )
    return 1


def cancel(run_id: str) -> int:
    """Cancel a queued run, or terminate a started one (as the UI's Terminate)."""
    _environment()
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_run_by_id(run_id)
        if run is None:
            sys.exit(f"no run {run_id} in the instance at {instance.root_directory}")
        if run.is_finished:
            print(f"run {run_id} has already finished: {run.status.value.lower()}")
            return 0
        if not instance.run_coordinator.cancel_run(run_id):
            print(f"run {run_id} could not be canceled ({run.status.value.lower()}); try the UI's Terminate")
            return 1
        print(f"run {run_id}: cancel requested (was {run.status.value.lower()})")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    bf = sub.add_parser("backfill", help="queue one run for a date range and wait for it")
    bf.add_argument("--start", type=date.fromisoformat)
    bf.add_argument("--end", type=date.fromisoformat)
    bf.add_argument("--demo-period", action="store_true", help="use the range in the demo manifest")
    bf.add_argument(
        "--select", default="*", help="Dagster asset selection (default: every asset), e.g. 'group:forecasting'"
    )
    bf.add_argument("--ui-url", help="the Dagster UI, for the run's link (default: RESTOCK_UI_URL)")
    cn = sub.add_parser("cancel", help="cancel a queued or running run")
    cn.add_argument("run_id")
    args = parser.parse_args(argv)
    if args.command == "cancel":
        return cancel(args.run_id)
    if args.demo_period:
        start, end = _demo_period(load_settings().landing_dir)
    elif args.start and args.end:
        start, end = args.start, args.end
    else:
        parser.error("give --start and --end, or --demo-period")
    return backfill(start, end, args.select, args.ui_url)


if __name__ == "__main__":
    sys.exit(main())
