"""A day delivered late, then corrected, through the real job and the landing sensor:
the days after it are first blocked (their history has a gap), then rebuilt by one
range run, and end equal to a clean backfill of the same files."""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import dagster as dg
import duckdb
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from restock.alerts import read_alerts
from tests.orchestration.conftest import tiny_settings
from tests.orchestration.dagster_processes import differences, snapshot

FIRST, BEFORE, LATE, AFTER = "2024-01-01", "2024-01-07", "2024-01-08", "2024-01-09"


def _range(first: str, last: str) -> dict[str, str]:
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def _tick(sensor, instance, defs, cursor):
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"restock": defs.resources["restock"]}
    ) as context:
        result = sensor.evaluate_tick(context)
        return result, result.cursor if result.cursor is not None else context.cursor


def _range_of(request: dg.RunRequest) -> dict[str, str]:
    return {
        k: v for k, v in request.tags.items() if k in (ASSET_PARTITION_RANGE_START_TAG, ASSET_PARTITION_RANGE_END_TAG)
    }


def _landing_until(source: Path, target: Path, last: str) -> Path:
    """A copy of the landing folder with the days up to ``last``."""
    for path in source.rglob("*"):
        if path.is_file() and (path.parent == source or path.name[:10] <= last):
            out = target / path.relative_to(source)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, out)
    return target


def _orders_file(landing: Path, day: str) -> Path:
    (path,) = (landing / "orders").glob(f"{day}.*")
    return path


def _correct(path: Path) -> None:
    """Re-deliver the file with one line's quantity changed (a correction)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    column = next(c for c in ("requested_qty", "quantity", "qty") if c in rows[0])
    rows[0][column] = str(float(rows[0][column]) + 3)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    with opener(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write(buf.getvalue())


def test_a_late_then_corrected_day_rebuilds_every_later_day_like_a_clean_backfill(landing_dir, tmp_path, monkeypatch):
    from orchestration import automation
    from orchestration.automation import landing_sensor

    # The sensor's clock an hour ahead: every file written here has settled.
    monkeypatch.setattr(automation, "time", SimpleNamespace(time=lambda: time.time() + 3600))
    from orchestration.definitions import build_definitions

    landing = _landing_until(landing_dir, tmp_path / "landing", AFTER)
    late_file = _orders_file(landing, LATE)
    held_back = tmp_path / late_file.name
    shutil.move(late_file, held_back)
    settings = dataclasses.replace(tiny_settings(landing, tmp_path / "data"), postgres_url=None)
    defs = build_definitions(settings)

    (tmp_path / "dagster_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster_home")) as instance:
        job = defs.resolve_job_def("restock_daily")

        def tick(cursor: str | None):
            with dg.build_sensor_context(
                instance=instance, cursor=cursor, definitions=defs, resources=defs.resources
            ) as context:
                return landing_sensor.evaluate_tick(context)

        # The sensor launches every complete day; LATE is not complete (no orders file).
        first = tick(None)
        assert [r.partition_key for r in first.run_requests] == [
            f"2024-01-{d:02d}" for d in range(1, 10) if f"2024-01-{d:02d}" != LATE
        ]
        assert job.execute_in_process(instance=instance, tags=_range(FIRST, BEFORE)).success
        # AFTER runs while LATE's orders are missing: its tables are not published.
        alerts = defs.resolve_sensor_def("restock_run_failure_alerts")
        _, alert_cursor = _tick(alerts, instance, defs, None)  # the first tick starts the cursor
        blocked = job.execute_in_process(instance=instance, partition_key=AFTER, raise_on_error=False)
        assert not blocked.success
        failure = next(e for e in blocked.all_events if e.is_step_failure)
        message = failure.step_failure_data.error.message
        assert f"orders {LATE}: no accepted file" in message and str(landing / "orders" / LATE) in message, message
        _tick(alerts, instance, defs, alert_cursor)
        (alert,) = read_alerts(settings.data_dir)
        assert alert["kind"] == "day_blocked" and alert["partition"] == AFTER, alert
        assert f"orders {LATE}: no accepted file" in alert["reason"], alert
        con = duckdb.connect(str(settings.data_dir / "serving.duckdb"), read_only=True)
        assert con.execute("select max(as_of_date)::varchar from replenishment_plan").fetchone()[0] == BEFORE
        con.close()

        # LATE arrives: one run for LATE .. AFTER.
        shutil.move(held_back, late_file)
        late = tick(first.cursor)
        (request,) = late.run_requests
        assert request.partition_key is None and _range_of(request) == _range(LATE, AFTER)
        assert job.execute_in_process(instance=instance, tags=_range_of(request)).success

        # LATE is corrected: the same range again.
        _correct(late_file)
        corrected = tick(late.cursor)
        (request,) = corrected.run_requests
        assert _range_of(request) == _range(LATE, AFTER) and request.run_key != late.run_requests[0].run_key
        assert job.execute_in_process(instance=instance, tags=_range_of(request)).success
        assert not tick(corrected.cursor).run_requests
    incremental = snapshot(settings.data_dir)

    clean_settings = dataclasses.replace(tiny_settings(landing, tmp_path / "clean"), postgres_url=None)
    (tmp_path / "clean_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "clean_home")) as instance:
        job = build_definitions(clean_settings).resolve_job_def("restock_daily")
        assert job.execute_in_process(instance=instance, tags=_range(FIRST, AFTER)).success
    clean = snapshot(clean_settings.data_dir)

    assert incremental["serving:main.replenishment_plan"]["as_of_date"].astype(str).max() == AFTER
    assert differences(incremental, clean) == []
