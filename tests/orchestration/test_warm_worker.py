"""Run workers started from the warm process (orchestration/run_launcher.py and
orchestration/warm_worker.py), with a real dagster-daemon launching runs of a one-op
code location (warm_probe.py) on a temporary instance with the shipped dagster.yaml.

A run's worker is a fork of the warm process (its parent), with the warm process's
imports already done (Great Expectations, which the probe never imports); the next
run reuses the warm process, and a changed project file gets a new one. Cancelling a
run interrupts its worker. ``warm_worker: false`` gives the code server's start.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster_processes import BIN, daemon, instance_home, open_instance, wait_finished

from orchestration.run_launcher import PROJECT_ROOT, WarmProcess, WarmWorkerError, code_stamp, worker_pid

PROBE = Path(__file__).with_name("warm_probe.py")
WARM_EVENT = re.compile(r"from the warm process \(pid (\d+)\)")
RUN_WITHIN = 120.0  # a one-op run, started warm or by the code server


def test_the_code_stamp_follows_the_projects_files(tmp_path):
    (tmp_path / "restock").mkdir()
    (tmp_path / "restock" / "__pycache__").mkdir()
    (tmp_path / "dbt_project" / "target").mkdir(parents=True)
    module = tmp_path / "restock" / "models.py"
    module.write_text("x = 1\n")
    manifest = tmp_path / "dbt_project" / "target" / "manifest.json"
    manifest.write_text("{}")
    paths = ("restock", "orchestration", "dbt_project/target/manifest.json")  # orchestration/ missing: no files

    first = code_stamp(tmp_path, paths)
    assert code_stamp(tmp_path, paths) == first
    (tmp_path / "restock" / "__pycache__" / "models.cpython-311.pyc").write_bytes(b"compiled")
    assert code_stamp(tmp_path, paths) == first, "compiled files are not the code"

    before = module.stat()
    os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    touched = code_stamp(tmp_path, paths)
    assert touched != first
    manifest.write_text('{"nodes": {}}')
    assert code_stamp(tmp_path, paths) not in (first, touched)
    (tmp_path / "restock" / "new.py").write_text("")
    assert len({first, touched, code_stamp(tmp_path, paths)}) == 3


def test_a_warm_process_that_does_not_start_says_so():
    warm = WarmProcess("/bin/false", None, stamp="")  # exits at once: no "ready" line
    with pytest.raises(WarmWorkerError, match=r"exited \(code 1\)"):
        warm.start_worker(["--version"])
    warm.close()
    assert not warm.alive()


def _workspace(path: Path) -> Path:
    path.write_text(
        yaml.safe_dump(
            {"load_from": [{"python_file": {"relative_path": str(PROBE), "working_directory": str(PROJECT_ROOT)}}]}
        )
    )
    return path


def _env(home: Path, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "DO_NOT_TRACK": "1",
        "WARM_PROBE_OUT": str(tmp_path / "probes.jsonl"),
        "WARM_PROBE_HOLD": str(tmp_path / "hold"),
    }


def _launch(env: dict[str, str], workspace: Path, instance: dg.DagsterInstance) -> str:
    """`dagster job launch`, as a user queues a run from a shell; the new run's id."""
    before = {r.run_id for r in instance.get_runs()}
    subprocess.run(
        [str(BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", "probe_job"],
        env=env,
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        timeout=180,
    )
    (run_id,) = {r.run_id for r in instance.get_runs()} - before
    return run_id


def _probe(env: dict[str, str], run_id: str, within: float = 60.0) -> dict:
    deadline = time.monotonic() + within
    while True:
        path = Path(env["WARM_PROBE_OUT"])
        found = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
        for record in found:
            if record["run_id"] == run_id:
                return record
        assert time.monotonic() < deadline, f"the op of run {run_id} never started"
        time.sleep(0.1)


def _warm_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    for record in instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records:
        found = WARM_EVENT.search(record.event_log_entry.message or "")
        if found:
            return int(found[1])
    return None


@pytest.fixture
def probe_instance(tmp_path: Path) -> Iterator[tuple[dict[str, str], Path, Path]]:
    home = instance_home(tmp_path / "home")
    yield _env(home, tmp_path), _workspace(tmp_path / "workspace.yaml"), home


def test_runs_start_as_forks_of_one_warm_process_replaced_when_the_code_changes(probe_instance, tmp_path):
    env, workspace, home = probe_instance
    source = PROJECT_ROOT / "orchestration" / "warm_worker.py"
    with daemon(env, tmp_path / "daemon.log", workspace), open_instance(home) as instance:
        first = _launch(env, workspace, instance)
        assert wait_finished(instance, first, RUN_WITHIN).status == dg.DagsterRunStatus.SUCCESS
        probe, warm = _probe(env, first), _warm_pid(instance, first)
        assert warm is not None, "no run worker started from the warm process"
        assert probe["ppid"] == warm, "the run worker is not a fork of the warm process"
        assert probe["great_expectations_loaded"], "the worker did not inherit the warm process's imports"
        assert worker_pid(instance, first)[0] == probe["pid"], "run monitoring would watch another process"
        assert GRPC_INFO_TAG not in instance.get_run_by_id(first).tags

        second = _launch(env, workspace, instance)
        assert wait_finished(instance, second, RUN_WITHIN).status == dg.DagsterRunStatus.SUCCESS
        assert _warm_pid(instance, second) == warm == _probe(env, second)["ppid"], "the warm process was not reused"

        stat = source.stat()
        try:
            os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
            third = _launch(env, workspace, instance)
            assert wait_finished(instance, third, RUN_WITHIN).status == dg.DagsterRunStatus.SUCCESS
        finally:
            os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        replaced = _warm_pid(instance, third)
        assert replaced not in (None, warm), "a changed project file kept the old warm process"
        assert _probe(env, third)["ppid"] == replaced
        assert not Path(f"/proc/{warm}").exists(), "the replaced warm process is still there"


def test_cancelling_a_run_interrupts_its_warm_worker(probe_instance, tmp_path):
    env, workspace, home = probe_instance
    hold = Path(env["WARM_PROBE_HOLD"])
    hold.touch()
    try:
        with daemon(env, tmp_path / "daemon.log", workspace), open_instance(home) as instance:
            run_id = _launch(env, workspace, instance)
            worker = _probe(env, run_id)["pid"]  # the op is running, waiting on the hold file
            assert instance.run_coordinator.cancel_run(run_id)
            assert wait_finished(instance, run_id, 60).status == dg.DagsterRunStatus.CANCELED
            deadline = time.monotonic() + 30
            while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not Path(f"/proc/{worker}").exists(), "the cancelled run's worker is still running"
    finally:
        hold.unlink(missing_ok=True)


def test_without_the_warm_worker_the_code_server_starts_the_run(probe_instance, tmp_path):
    env, workspace, home = probe_instance
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    config["run_launcher"]["config"] = {"warm_worker": False}
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with daemon(env, tmp_path / "daemon.log", workspace), open_instance(home) as instance:
        run_id = _launch(env, workspace, instance)
        assert wait_finished(instance, run_id, RUN_WITHIN).status == dg.DagsterRunStatus.SUCCESS
        assert _warm_pid(instance, run_id) is None
        assert GRPC_INFO_TAG in instance.get_run_by_id(run_id).tags
        probe = _probe(env, run_id)
        assert not probe["great_expectations_loaded"]
        assert worker_pid(instance, run_id)[0] == probe["pid"]


def test_a_failed_warm_process_is_not_tried_again_until_the_code_changes(tmp_path, monkeypatch):
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.errors import DagsterInvariantViolationError
    from dagster._core.launcher import LaunchRunContext
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._core.utils import make_new_run_id

    home = instance_home(tmp_path / "home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))  # the event log's base_dir
    # An interpreter that exits at once: the warm process never says it is ready.
    origin = JobPythonOrigin(
        "probe_job", RepositoryPythonOrigin("/bin/false", ModuleCodePointer("warm_probe", "defs", str(tmp_path)))
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        run = instance.add_run(
            dg.DagsterRun(
                job_name="probe_job",
                run_id=make_new_run_id(),
                job_code_origin=origin,
                status=dg.DagsterRunStatus.STARTING,
            )
        )
        for _ in range(2):
            # then the code server's start, which needs the daemon's workspace: none here
            with pytest.raises(DagsterInvariantViolationError, match="requires a workspace"):
                instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        messages = [
            r.event_log_entry.message
            for r in instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records
        ]
        assert len(messages) == 2, messages
        assert "could not start the run worker" in messages[0] and "exited (code 1)" in messages[0]
        assert "failed earlier with this code" in messages[1], "a failing warm process was started again"

        source = PROJECT_ROOT / "orchestration" / "warm_worker.py"
        stat = source.stat()
        try:
            os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
            with pytest.raises(DagsterInvariantViolationError, match="requires a workspace"):
                instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        finally:
            os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        last = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT).records[-1]
        assert "could not start the run worker" in last.event_log_entry.message, "changed code was not tried warm"
