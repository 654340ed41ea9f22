"""The instance's event log on SQLite: Dagster's consolidated SQLite storage, writing
the asset events of a partition range in one transaction instead of three per event.

A range run records one materialization per asset per day: a two-year demo backfill
writes ~26,000 of them. Dagster's SQLite storage writes each as its own event row,
asset tags and asset row, three transactions (~9.6 ms an event here, ~4 min of that
backfill). Dagster hands the events of one step output over as one batch when
DAGSTER_EVENT_BATCH_SIZE is set (the Makefile and orchestration/cli.py set it), but
only its PostgreSQL storage writes a batch at once; the SQLite storage writes them one
by one. :class:`BatchingSqliteEventLogStorage` does what dagster-postgres does: the
event rows in one statement, their asset tags and the asset's latest event in one
more transaction. The rows written are the same as one by one.

It also records a run's new state (status, and for a failure whether Dagster will
retry it) *before* the event that announces it, where Dagster's instance does it
after storing the event: see :class:`RunStateBeforeEvent`.

Imported by every process that loads the instance: no heavy imports.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import logging
from collections.abc import Sequence

from dagster import DagsterEventType
from dagster._core.events import RunFailureReason
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster._core.storage.tags import RUN_FAILURE_REASON_TAG, WILL_RETRY_TAG
from dagster._time import datetime_from_timestamp

# Event rows per INSERT statement: each row binds ~10 values and SQLite allows 32,766
# bound values per statement.
ROWS_PER_STATEMENT = 500
# Dagster's own PostgreSQL storage batches these two kinds only.
BATCHED_TYPES = ({DagsterEventType.ASSET_MATERIALIZATION}, {DagsterEventType.ASSET_OBSERVATION})
# sha256 of the source of the instance's run-event handling that RunStateBeforeEvent
# does in the other order (EventMethods.handle_new_event and _should_retry_run in
# dagster 1.13.27, dagster/_core/instance/methods/event_methods.py).
KNOWN_INSTANCE_SOURCE = "f0e6d8a7cc4b8275b873e6afe4ae7b99e1a807598ee7bc6c9ba68d63ad458f73"

log = logging.getLogger(__name__)


def instance_source_hash() -> str:
    from dagster._core.instance.methods.event_methods import EventMethods

    methods = (EventMethods.handle_new_event, EventMethods._should_retry_run)
    return hashlib.sha256("".join(inspect.getsource(m) for m in methods).encode()).hexdigest()


@functools.cache
def run_state_first() -> bool:
    """Whether the instance's handling is the one RunStateBeforeEvent repeats. Another
    Dagster release (pyproject allows <1.14) may do more there: its own order is then
    kept, said once in the log, rather than skipping what it added."""
    try:
        found = instance_source_hash()
    except (OSError, TypeError):  # no source to compare
        found = "unknown"
    if found != KNOWN_INSTANCE_SOURCE:
        log.warning(
            "Dagster's run-event handling differs from the known one (%s): runs are updated in Dagster's "
            "order (event first), and an automatic retry can be missed; see orchestration/event_log.py",
            found[:12],
        )
        return False
    return True


class RunStateBeforeEvent:
    """An event log storage that records a run's state before the event announcing it.

    Dagster's instance stores a run event (started, failed, ...) and only then updates
    the run's status and, for a failure, adds the `dagster/will_retry` tag. The
    daemon's auto-retry (EventLogConsumerDaemon) reads new RUN_FAILURE events every
    few seconds, moves its cursor past them, and retries a run only if it is already
    FAILURE then. A failure it reads between the two writes is never retried: a killed
    run stays failed and its days are not computed (the likely cause of a killed run
    left without a retry in 2 of 5 CI runs of tests/orchestration/test_kill_recover.py).
    With this storage the run is FAILURE and tagged before its event can be read; the
    instance leaves the run alone (``handles_run_events_in_store_event``). The writes
    are the instance's own (dagster/_core/instance/methods/event_methods.py), in the
    other order, and only for the Dagster release whose handling is known
    (:func:`run_state_first`). The price: a process dying between the two writes leaves
    a failed run without its failure event (no retry either), where Dagster's order
    leaves an event whose run still looks started, which run monitoring then fails again.
    """

    @property
    def handles_run_events_in_store_event(self) -> bool:
        return run_state_first() and self._live_instance() is not None

    def _live_instance(self):  # noqa: ANN202 - a DagsterInstance, or None
        """The instance this storage was registered with, if it still exists (a storage
        can outlive it): without one, the calling instance updates the run itself."""
        ref = getattr(self, "_instance_weakref", None)
        return ref() if ref is not None else None

    def store_event(self, event: EventLogEntry) -> None:
        dagster_event = event.dagster_event
        # A storage opened on its own (no instance) has no runs to update.
        instance = self._live_instance()
        if dagster_event is not None and dagster_event.is_job_event and instance is not None and run_state_first():
            instance.run_storage.handle_run_event(event.run_id, dagster_event, datetime_from_timestamp(event.timestamp))
            run = instance.get_run_by_id(event.run_id)
            if run is not None and dagster_event.is_run_failure and instance.run_retries_enabled:
                reason = run.tags.get(RUN_FAILURE_REASON_TAG)
                will_retry = instance._should_retry_run(run, RunFailureReason(reason) if reason else None)
                instance.add_run_tags(event.run_id, {WILL_RETRY_TAG: str(will_retry).lower()})
        super().store_event(event)  # type: ignore[misc]


class BatchingSqliteEventLogStorage(RunStateBeforeEvent, ConsolidatedSqliteEventLogStorage):
    """ConsolidatedSqliteEventLogStorage whose batch write is one write, not a loop,
    and that records a run's state before its events."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not events or {e.get_dagster_event().event_type for e in events} not in BATCHED_TYPES:
            super().store_event_batch(events)  # event by event, through store_event above
            return
        event_ids: list[int] = []
        with self._connect() as conn:  # one transaction
            for start in range(0, len(events), ROWS_PER_STATEMENT):
                chunk = events[start : start + ROWS_PER_STATEMENT]
                statement = self.prepare_insert_event_batch(chunk).returning(SqlEventLogStorageTable.c.id)
                # SQLite numbers a statement's rows in the order of its VALUES but may
                # return them in any order.
                event_ids += sorted(int(row[0]) for row in conn.execute(statement).fetchall())
        with self.index_transaction() as conn:
            self._store_asset_event_tags(conn, events, event_ids)
            # The asset's row holds its latest event: the batch's last.
            self._store_asset_event(conn, events[-1], event_ids[-1])
