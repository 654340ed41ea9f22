"""The instance's SQLite event log (orchestration/event_log.py) writes a range run's
per-day materializations as one batch and stores exactly what Dagster's own SQLite
storage stores one event at a time."""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.event_log import ConsolidatedSqliteEventLogStorage

import orchestration.event_log as event_log
from orchestration.event_log import ROWS_PER_STATEMENT, BatchingSqliteEventLogStorage
from restock.settings import PROJECT_ROOT
from tests.orchestration.failed_runs import fail_a_started_run, watch_failure_writes

DAYS = dg.DailyPartitionsDefinition(start_date="2024-01-01", end_date="2025-12-31")
RANGE = {"dagster/asset_partition_range_start": "2024-01-01", "dagster/asset_partition_range_end": "2025-12-30"}
N_DAYS = 730  # more than ROWS_PER_STATEMENT: the batch takes two INSERT statements


@dg.asset(partitions_def=DAYS, backfill_policy=dg.BackfillPolicy.single_run())
def daily_rows(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"days": len(context.partition_keys)})


@contextmanager
def _materialize_range(home: Path) -> Iterator[dg.DagsterInstance]:
    """The instance at ``home`` after a range run of ``daily_rows``. Entered before the
    run: Dagster's definitions then read this instance's state storage (not whatever
    instance an earlier test left current)."""
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert dg.materialize([daily_rows], instance=instance, tags=RANGE).success
        yield instance


def _stored(db: Path) -> dict[str, list[tuple]]:
    """What the storage wrote, without ids and times: event rows (type, asset,
    partition, step), asset tags (asset, key, value) and the asset's latest partition."""
    with sqlite3.connect(db) as con:
        return {
            "events": con.execute(
                "select dagster_event_type, asset_key, partition, step_key from event_logs "
                "where dagster_event_type = 'ASSET_MATERIALIZATION' order by id"
            ).fetchall(),
            # a data version is derived from the run: compared as present, not by value
            "tags": con.execute(
                "select asset_key, key, case when key = 'dagster/data_version' then '(set)' else value end "
                "from asset_event_tags order by event_id, key"
            ).fetchall(),
            # the asset's latest materialization, and the event row its storage id names
            "latest": con.execute(
                "select a.asset_key, json_extract(a.last_materialization, '$.event_log_entry.dagster_event.event_specific_data.materialization.partition'), "
                "e.partition from asset_keys a "
                "left join event_logs e on e.id = json_extract(a.last_materialization, '$.storage_id')"
            ).fetchall(),
        }


@pytest.fixture
def homes(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """Two instances: the shipped dagster.yaml, and the same with Dagster's own
    consolidated SQLite storage (each with its event log in its own folder)."""
    ours, dagsters = tmp_path / "ours", tmp_path / "dagsters"
    shipped = (PROJECT_ROOT / "dagster_home" / "dagster.yaml").read_text()
    assert "base_dir:\n      env: DAGSTER_HOME" in shipped
    for home in (ours, dagsters):
        home.mkdir()
        # each event log in its own folder, not $DAGSTER_HOME's
        (home / "dagster.yaml").write_text(shipped.replace("base_dir:\n      env: DAGSTER_HOME", f"base_dir: {home}"))
    config = (dagsters / "dagster.yaml").read_text()
    (dagsters / "dagster.yaml").write_text(
        config.replace("module: orchestration.event_log", "module: dagster._core.storage.event_log").replace(
            "class: BatchingSqliteEventLogStorage", "class: ConsolidatedSqliteEventLogStorage"
        )
    )
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "1000")  # as the Makefile and the CLI set it
    return ours, dagsters


def test_a_range_run_stores_one_materialization_per_day_as_dagster_does(homes, tmp_path, monkeypatch):
    ours, dagsters = homes
    assert N_DAYS > ROWS_PER_STATEMENT
    batches: list[int] = []
    original = BatchingSqliteEventLogStorage.store_event_batch

    def counting(self, events):  # Dagster's batching on, and our write given the batch
        if events[0].dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            batches.append(len(events))
        original(self, events)

    monkeypatch.setattr(BatchingSqliteEventLogStorage, "store_event_batch", counting)
    with _materialize_range(ours) as ours_instance, _materialize_range(dagsters) as dagsters_instance:
        assert type(ours_instance.event_log_storage) is BatchingSqliteEventLogStorage
        assert type(dagsters_instance.event_log_storage) is ConsolidatedSqliteEventLogStorage
        assert batches == [N_DAYS]
        for instance in (ours_instance, dagsters_instance):
            days = instance.get_materialized_partitions(daily_rows.key)
            assert len(days) == N_DAYS and min(days) == "2024-01-01" and max(days) == "2025-12-30"
            latest = instance.get_latest_materialization_event(daily_rows.key)
            assert latest is not None and latest.dagster_event.partition == "2025-12-30"
            one_day = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=daily_rows.key, asset_partitions=["2024-06-09"]), limit=5
            ).records
            assert [r.partition_key for r in one_day] == ["2024-06-09"]
        records = dagsters_instance.get_records_for_run(
            dagsters_instance.get_runs(limit=1)[0].run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        ).records
    ours_rows, dagsters_rows = _stored(ours / "event_log.db"), _stored(dagsters / "event_log.db")
    assert len(ours_rows["events"]) == N_DAYS and len(ours_rows["tags"]) >= N_DAYS
    assert ours_rows["latest"] == [('["daily_rows"]', "2025-12-30", "2025-12-30")]
    assert ours_rows == dagsters_rows

    # Dagster's own events of that run, written again through each storage: the same
    # rows from a batch (of two INSERT statements) and from a batch of one.
    events = [r.event_log_entry for r in records]
    for batch in (events[: ROWS_PER_STATEMENT + 10], events[:1]):
        base = tmp_path / f"again-{len(batch)}"
        batched = BatchingSqliteEventLogStorage(str(base / "batched"))
        one_by_one = ConsolidatedSqliteEventLogStorage(str(base / "one_by_one"))
        batched.store_event_batch(batch)
        for event in batch:
            one_by_one.store_event(event)
        again = _stored(base / "batched" / "event_log.db")
        assert again == _stored(base / "one_by_one" / "event_log.db")
        assert len(again["events"]) == len(batch)


def _fail_a_run_in_each(homes, monkeypatch) -> dict[str, tuple]:
    """A started run failed in each instance (ours, Dagster's); what the auto-retry
    would decide as each writes the failure's row (tests/orchestration/failed_runs.py)."""
    seen = watch_failure_writes(ConsolidatedSqliteEventLogStorage, monkeypatch)
    for home in homes:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            assert instance.run_retries_enabled and instance.run_retries_max_retries > 0
            fail_a_started_run(instance)  # both end the same
    return seen


def test_a_failed_run_is_failed_and_tagged_before_its_failure_event_can_be_read(homes, monkeypatch):
    """The daemon's auto-retry reads new RUN_FAILURE events and retries the runs that
    are FAILURE at that moment (orchestration/event_log.py, RunStateBeforeEvent): with
    Dagster's order (event first, then the run) it sees a STARTED run and never
    retries it; with ours it retries it."""
    if not event_log.run_state_first():
        pytest.skip(
            f"this Dagster's run-event handling ({event_log.instance_source_hash()[:12]}) is not the known one: "
            "Dagster's order is kept; re-check RunStateBeforeEvent against it and update KNOWN_INSTANCE_SOURCE"
        )
    seen = _fail_a_run_in_each(homes, monkeypatch)
    assert seen["BatchingSqliteEventLogStorage"] == (dg.DagsterRunStatus.FAILURE, "true", 1)
    # Dagster's order, for the record: the run is still STARTED as its failure is written.
    assert seen["ConsolidatedSqliteEventLogStorage"] == (dg.DagsterRunStatus.STARTED, None, 0)


def test_another_dagster_release_keeps_dagsters_own_order(homes, monkeypatch, caplog):
    """Where the instance's handling is not the known one, the storage leaves it to the
    instance (nothing it added is skipped), says so, and the run ends the same."""
    event_log.run_state_first.cache_clear()
    monkeypatch.setattr(event_log, "KNOWN_INSTANCE_SOURCE", "0" * 64)
    try:
        with caplog.at_level("WARNING", logger="orchestration.event_log"):
            seen = _fail_a_run_in_each(homes, monkeypatch)
    finally:
        event_log.run_state_first.cache_clear()
    assert seen["BatchingSqliteEventLogStorage"] == seen["ConsolidatedSqliteEventLogStorage"]
    assert "differs from the known one" in caplog.text
