"""The job, the daily schedule and the landing sensor."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from orchestration.partitions import DEPLOYMENT, daily_partitions
from orchestration.resources import RestockResource
from restock.config import LandingConfig
from restock.ingest.deliveries import fingerprint, is_complete, scan_landing, still_being_written

# Schedules and sensors start stopped so that `make dev` on demo data launches
# nothing by itself; production sets RESTOCK_AUTOMATION=on (or flips them in the UI).
_DEFAULT_STATUS = dg.DefaultScheduleStatus.RUNNING if DEPLOYMENT.automation else dg.DefaultScheduleStatus.STOPPED
_DEFAULT_SENSOR_STATUS = dg.DefaultSensorStatus(_DEFAULT_STATUS.value)
MAX_RUNS_PER_TICK = 30

daily_job = dg.define_asset_job(
    "restock_daily",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Every asset for one day (or, in a backfill, one range): raw extracts -> dbt models -> segments, forecasts, accuracy.",
)


@dg.schedule(
    name="restock_daily_schedule",
    job=daily_job,
    cron_schedule=f"{DEPLOYMENT.daily_run_at.minute} {DEPLOYMENT.daily_run_at.hour} * * *",
    execution_timezone=DEPLOYMENT.timezone,
    default_status=_DEFAULT_STATUS,
)
def daily_schedule(context: dg.ScheduleEvaluationContext, restock: RestockResource) -> dg.RunRequest | dg.SkipReason:
    """Run yesterday's partition, unless a file of that day is still being written (the
    sensor's rule): then skip, and the landing sensor launches the day once it is
    complete. A missing file is not waited for: the run fails and names it."""
    day = context.scheduled_execution_time.astimezone(ZoneInfo(DEPLOYMENT.timezone)).date() - timedelta(days=1)
    rules = restock.config.landing
    files = scan_landing(restock.landing, rules.marker_suffix).get(day, {})
    writing = still_being_written(files, time.time(), rules.settle_seconds)
    if writing:
        return dg.SkipReason(
            f"{day}: waiting for files still being written: {', '.join(writing)}; "
            "the landing sensor launches the day once they are complete"
        )
    return dg.RunRequest(partition_key=day.isoformat(), run_key=f"schedule:{day.isoformat()}")


@dg.sensor(job=daily_job, minimum_interval_seconds=60, default_status=_DEFAULT_SENSOR_STATUS)
def landing_sensor(
    context: dg.SensorEvaluationContext, restock: RestockResource
) -> dg.SkipReason | list[dg.RunRequest]:
    """Launch a day once its daily files (orders, inventory) have landed and no file of
    the day is still being written (restock/ingest/deliveries.py). A day delivered late
    or re-delivered after later days ran launches one run for the range from it to the
    latest day loaded, so every day derived from it is rebuilt and republished."""
    launched: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    requests, waiting = landing_requests(
        restock.landing,
        launched,
        time.time(),
        set(daily_partitions.get_partition_keys()),
        restock.config.landing,
        latest_loaded=_latest_loaded_day(context.instance),
    )
    if waiting:
        context.log.info(waiting)
    if not requests:
        message = f"no new or re-delivered complete day in {restock.landing}"
        return dg.SkipReason(f"{message}; {waiting}" if waiting else message)
    context.update_cursor(json.dumps(launched, sort_keys=True))
    return requests


RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"


def _latest_loaded_day(instance: dg.DagsterInstance) -> str | None:
    """The newest day whose orders reached the raw layer, by any run (schedule, sensor,
    backfill): the end of the range a corrected earlier day relaunches."""
    keys = instance.get_materialized_partitions(dg.AssetKey(["raw", "orders"]))
    return max(keys) if keys else None


def landing_requests(
    landing_dir: Path,
    launched: dict[str, str],
    now: float,
    valid_keys: set[str],
    rules: LandingConfig,
    latest_loaded: str | None = None,
) -> tuple[list[dg.RunRequest], str]:
    """(run requests, message naming the files still being written or "") for one tick at ``now``.

    ``launched`` (day -> fingerprint, the cursor) is updated with the days requested.
    A day whose files are all there but not all delivered is left for a later tick.
    New days after every day launched or loaded get a run each, in order. A day
    before the latest one launched or loaded (``latest_loaded``) that is new or
    re-delivered (late, or corrected) gets one run for the range from the earliest
    such day to the latest day, which takes in the new days of the tick too.
    ``rules``: restock.yaml's ``landing`` (settle_seconds, marker_suffix).
    """
    latest = max([k for k in (latest_loaded, *launched) if k is not None], default=None)
    changed: dict[str, str] = {}
    waiting: list[str] = []
    for day, files in sorted(scan_landing(landing_dir, rules.marker_suffix).items()):
        key = day.isoformat()
        if key not in valid_keys or not is_complete(files):
            continue
        fp = fingerprint(files)
        if launched.get(key) == fp:
            continue
        writing = still_being_written(files, now, rules.settle_seconds)
        if writing:
            waiting.extend(writing)
            continue
        changed[key] = fp
    past = [k for k in changed if latest is not None and k < latest]
    requests = []
    if past:
        end = max([latest, *changed])  # type: ignore[list-item]  # latest is set when past is
        digest = hashlib.sha256(json.dumps(changed, sort_keys=True).encode()).hexdigest()[:16]
        requests.append(
            dg.RunRequest(run_key=f"{past[0]}..{end}:{digest}", tags={RANGE_START: past[0], RANGE_END: end})
        )
        launched.update(changed)
    else:
        for key, fp in list(changed.items())[:MAX_RUNS_PER_TICK]:
            requests.append(dg.RunRequest(partition_key=key, run_key=f"{key}:{fp}"))
            launched[key] = fp
    if not waiting:
        return requests, ""
    shown = ", ".join(waiting[:10]) + (f" and {len(waiting) - 10} more" if len(waiting) > 10 else "")
    return requests, (
        f"waiting for files still being written: {shown} (a file counts once unchanged for "
        f"{rules.settle_seconds} s, or at once when '<file>{rules.marker_suffix}' is written after it)"
    )
