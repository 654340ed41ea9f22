"""The job, the daily schedule and the landing sensor."""


import json
import os
from datetime import date

import dagster as dg

from orchestration.environment import CONFIG, SETTINGS
from orchestration.partitions import daily_partitions
from restock.ingest.deliveries import fingerprint, is_complete, scan_landing

# Schedules and sensors start stopped so that `make dev` on demo data launches
# nothing by itself; production sets RESTOCK_AUTOMATION=on (or flips them in the UI).
_DEFAULT_STATUS = (
    dg.DefaultScheduleStatus.RUNNING if os.environ.get("RESTOCK_AUTOMATION") == "on" else dg.DefaultScheduleStatus.STOPPED
)
_DEFAULT_SENSOR_STATUS = dg.DefaultSensorStatus(_DEFAULT_STATUS.value)
MAX_RUNS_PER_TICK = 30

daily_job = dg.define_asset_job(
    "restock_daily",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Every asset for one day (or, in a backfill, one range): raw extracts -> dbt models -> segments, forecasts, accuracy.",
)

daily_schedule = dg.build_schedule_from_partitioned_job(
    daily_job,
    hour_of_day=int(CONFIG["schedule"]["hour_of_day"]),
    minute_of_hour=int(CONFIG["schedule"]["minute_of_hour"]),
    default_status=_DEFAULT_STATUS,
)


@dg.sensor(job=daily_job, minimum_interval_seconds=60, default_status=_DEFAULT_SENSOR_STATUS)
def landing_sensor(context: dg.SensorEvaluationContext):
    """Launch a day once its daily files (orders, inventory) have landed; again on re-delivery."""
    launched: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    valid_keys = set(daily_partitions.get_partition_keys())
    requests = []
    for day, files in sorted(scan_landing(SETTINGS.landing_dir).items()):
        key = day.isoformat()
        if key not in valid_keys or not is_complete(files):
            continue
        fp = fingerprint(files)
        if launched.get(key) == fp:
            continue
        requests.append(dg.RunRequest(partition_key=key, run_key=f"{key}:{fp}"))
        launched[key] = fp
        if len(requests) >= MAX_RUNS_PER_TICK:
            break
    if not requests:
        return dg.SkipReason(f"no new or re-delivered complete day in {SETTINGS.landing_dir}")
    context.update_cursor(json.dumps(launched, sort_keys=True))
    return requests


