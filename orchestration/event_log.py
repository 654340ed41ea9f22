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

Imported by every process that loads the instance: no heavy imports.
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster import DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable

# Event rows per INSERT statement: each row binds ~10 values and SQLite allows 32,766
# bound values per statement.
ROWS_PER_STATEMENT = 500
# Dagster's own PostgreSQL storage batches these two kinds only.
BATCHED_TYPES = ({DagsterEventType.ASSET_MATERIALIZATION}, {DagsterEventType.ASSET_OBSERVATION})


class BatchingSqliteEventLogStorage(ConsolidatedSqliteEventLogStorage):
    """ConsolidatedSqliteEventLogStorage whose batch write is one write, not a loop."""

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        if not events or {e.get_dagster_event().event_type for e in events} not in BATCHED_TYPES:
            super().store_event_batch(events)
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
