"""A run failed as run monitoring fails it, and what the daemon's auto-retry would
decide at the moment the failure's event row is written (orchestration/event_log.py,
RunStateBeforeEvent): shared by the SQLite and the PostgreSQL tests."""

from __future__ import annotations

import dagster as dg
import pytest


@dg.op
def nothing() -> None:
    pass


@dg.job
def one_op():
    nothing()


def watch_failure_writes(storage_class: type, monkeypatch: pytest.MonkeyPatch) -> dict[str, tuple]:
    """Wraps ``storage_class.store_event`` (the storage's own write of the row): for
    each RUN_FAILURE written, {storage class name: (run status, will_retry tag, runs
    the auto-retry would retry)} as things stand just before the row exists."""
    from dagster._core.storage.tags import WILL_RETRY_TAG
    from dagster._daemon.auto_run_reexecution.auto_run_reexecution import filter_runs_to_should_retry

    seen: dict[str, tuple] = {}
    write_row = storage_class.store_event

    def watched(self, event):
        if event.dagster_event_type == dg.DagsterEventType.RUN_FAILURE:
            run = self._instance.get_run_by_id(event.run_id)
            retried = list(filter_runs_to_should_retry([run], self._instance))
            seen[type(self).__name__] = (run.status, run.tags.get(WILL_RETRY_TAG), len(retried))
        write_row(self, event)

    monkeypatch.setattr(storage_class, "store_event", watched)
    return seen


def fail_a_started_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    """A started run of ``one_op`` failed as run monitoring does; the run afterwards,
    checked FAILURE, tagged for a retry, with one failure event."""
    from dagster._core.storage.tags import WILL_RETRY_TAG

    run = instance.create_run_for_job(one_op, status=dg.DagsterRunStatus.STARTED)
    instance.report_run_failed(run, "run worker pid 1 is gone (killed?)")
    after = instance.get_run_by_id(run.run_id)
    assert after is not None and after.status == dg.DagsterRunStatus.FAILURE
    assert after.tags.get(WILL_RETRY_TAG) == "true"
    failures = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records
    assert len(failures) == 1
    return after
