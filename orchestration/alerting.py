"""Alerts: a failed run, a blocked day and a stale published table reach a person.

- ``restock_run_failure_alerts`` (a run-failure sensor, every job of the code location):
  a run stopped by a failed *blocking* check (a raw gate such as raw/orders
  ``orders_contract``, or a publish gate ``publishable``) sends ``day_blocked`` naming
  the check, its message and the partition; any other failure sends ``run_failed``
  with the failing step and its error (or the run's own failure, e.g. a crashed worker).
- ``fresh``: a freshness check on every published table. It fails when the table's
  last materialization is older than restock.yaml's ``alerting.published_max_age_hours``
  (read when evaluated, like every rule of restock.yaml; loading the code location
  reads no YAML). It runs after each publish in the daily job, and
  ``restock_freshness_alerts`` evaluates it every few minutes without a run: the
  result is recorded on the check (visible in the UI) when it changes, and a table
  turning stale sends one ``stale_table`` alert, not one every tick (the cursor keeps
  the state per table).

Dagster 1.13 also has freshness policies (``FreshnessPolicy.time_window``, evaluated
by the daemon) and the superseded ``build_last_update_freshness_checks``; both fix the
limit in the definitions when the code location loads, so the limit could not live
in restock.yaml. The check here uses the same rule (last update within the limit of
now) with the limit read at evaluation.

Where alerts go: restock/alerts.py (a file in RESTOCK_DATA_DIR/alerts/, a webhook,
a command). The sensors start with the schedule (RESTOCK_AUTOMATION=on) and can be
switched on in the UI. A delivery problem is logged and never raises: an alert never
hides the failure it reports.
"""

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import dagster as dg

from orchestration.assets.publish import SOURCES
from orchestration.partitions import DEPLOYMENT
from orchestration.resources import RestockResource
from restock.settings import Settings

if TYPE_CHECKING:
    from restock.alerts import Alert

FRESHNESS_CHECK = "fresh"
FRESHNESS_INTERVAL_SECONDS = 300
PUBLISHED_KEYS = [dg.AssetKey(["published", table]) for table in SOURCES]
# The schedule's rule (orchestration/automation.py): running when RESTOCK_AUTOMATION=on.
_DEFAULT_SENSOR_STATUS = dg.DefaultSensorStatus.RUNNING if DEPLOYMENT.automation else dg.DefaultSensorStatus.STOPPED
PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
RETRY_NUMBER_TAG = "dagster/retry_number"


# --------------------------------------------------------------------------- failed runs


def run_partition(tags: dict[str, str] | Any) -> str | None:
    """The run's day, or "first..last" for a range (single-run backfill), or None."""
    if tags.get(PARTITION_TAG):
        return str(tags[PARTITION_TAG])
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}..{end}"
    return None


def _failed_blocking_checks(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    found: dict[tuple[str, str], dg.AssetCheckEvaluation] = {}
    for entry in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = entry.dagster_event.event_specific_data if entry.dagster_event else None
        if isinstance(evaluation, dg.AssetCheckEvaluation) and not evaluation.passed and evaluation.blocking:
            found[(evaluation.asset_key.to_user_string(), evaluation.check_name)] = evaluation
    return list(found.values())


def _metadata_text(metadata: Any, key: str) -> str | None:
    value = metadata.get(key)
    if value is None:
        return None
    text = str(getattr(value, "value", value)).strip()
    return text.removeprefix("```").removesuffix("```").strip() or None


def _check_reason(evaluation: dg.AssetCheckEvaluation) -> str:
    name = f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}"
    message = (
        _metadata_text(evaluation.metadata, "message")  # the raw gates
        or _metadata_text(evaluation.metadata, "first_failure")  # the publish gates
        or evaluation.description
        or "failed"
    )
    days = _metadata_text(evaluation.metadata, "failed_days")
    return f"{name} failed" + (f" for {days}" if days else "") + f": {message}"


def _error_text(error: Any) -> str:
    """The user's error, not Dagster's wrapper: the cause of a step execution error."""
    while error is not None and error.cls_name == "DagsterExecutionStepExecutionError" and error.cause:
        error = error.cause
    if error is None:
        return "failed"
    message = error.message.strip()
    qualified = message.split(":", 1)[0]  # "restock.ingest.loader.MissingDeliveryError"
    if qualified.endswith(error.cls_name):
        return error.cls_name + message[len(qualified) :]
    return f"{error.cls_name}: {message}"


def _step_reason(event: dg.DagsterEvent) -> str:
    data = event.step_failure_data
    if data.user_failure_data is not None and data.user_failure_data.description:
        text = data.user_failure_data.description.strip()
    else:
        text = _error_text(data.error)
    return f"step {event.step_key}: {text}"


def _blocked_days(event: dg.DagsterEvent) -> str:
    """The days a step failure says it blocked (metadata ``blocked_days``), or ""."""
    data = event.step_failure_data.user_failure_data
    value = data.metadata.get("blocked_days") if data is not None and data.metadata else None
    return str(getattr(value, "value", value) or "")


def failure_alert(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    failure_event: dg.DagsterEvent,
    step_failures: Sequence[dg.DagsterEvent],
    ui_url: str,
) -> "Alert":
    """The alert for a failed run: day_blocked when a blocking check failed, else run_failed."""
    from restock.alerts import Alert

    partition = run_partition(run.tags)
    link = f"{ui_url.rstrip('/')}/runs/{run.run_id}"
    retry = f" (retry {run.tags[RETRY_NUMBER_TAG]})" if run.tags.get(RETRY_NUMBER_TAG) else ""
    checks = _failed_blocking_checks(instance, run.run_id)
    if checks:
        subject = ", ".join(f"{c.asset_key.to_user_string()} {c.check_name}" for c in checks)
        reason = (
            f"Run {run.run_id} of {run.job_name}{retry} stopped at a blocking check: the day is blocked; "
            "nothing downstream of the check ran and the published tables keep the previous days.\n"
            + "\n".join(_check_reason(c) for c in checks)
        )
        return Alert("day_blocked", subject, reason, partition, run.run_id, link)
    gaps = [e for e in step_failures if _blocked_days(e)]
    if gaps:  # the publish step refused days whose raw history has gaps (quality.history_gaps)
        subject = ", ".join(f"step {e.step_key}: days {_blocked_days(e)} blocked" for e in gaps)
        reason = f"Run {run.run_id} of {run.job_name}{retry}: days not published.\n" + "\n".join(
            _step_reason(e) for e in gaps
        )
        return Alert("day_blocked", subject, reason, partition, run.run_id, link)
    if step_failures:
        subject = f"{run.job_name}: " + ", ".join(str(e.step_key) for e in step_failures)
        details = "\n".join(_step_reason(e) for e in step_failures)
    else:  # the run itself failed: a crashed worker, run monitoring, a cancelled start
        subject = run.job_name
        details = (failure_event.message or "the run failed").strip()
    reason = f"Run {run.run_id} of {run.job_name}{retry} failed.\n{details}"
    return Alert("run_failed", subject, reason, partition, run.run_id, link)


def send(alert: "Alert", restock: RestockResource, log: Any) -> list[Any]:
    """Deliver to restock.yaml's targets. When restock.yaml cannot be read (perhaps the
    very failure being reported), the alert still goes to the alerts file and the
    webhook variable's default name."""
    from restock.alerts import deliver
    from restock.config import AlertingConfig

    try:
        config = restock.config.alerting
    except Exception as exc:  # any config error: alert with the defaults
        log.warning(f"alerting targets from restock.yaml unavailable ({exc}); using the defaults")
        config = AlertingConfig()
    outcomes = deliver(alert, config, restock.data)
    for outcome in outcomes:
        (log.info if outcome.ok else log.warning)(f"alert {alert.summary()} -> {outcome}")
    return outcomes


# --------------------------------------------------------------------------- freshness


@dataclass(frozen=True)
class Freshness:
    """A published table's freshness at one moment."""

    key: dg.AssetKey
    last_update: float | None  # epoch seconds of the last materialization; None: never
    latest_day: str | None  # the newest published day, from that materialization
    max_age_hours: float
    stale_reason: str | None  # None: fresh
    checked_at: float  # epoch seconds of the evaluation

    @property
    def state(self) -> str:
        """What the sensor's cursor keeps: "fresh", or "stale:<last update>" (a new
        stale episode after a republish is a new state, and alerts again)."""
        return "fresh" if self.stale_reason is None else f"stale:{self.last_update}"

    def metadata(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"max_age_hours": self.max_age_hours}
        if self.last_update is not None:
            meta["last_updated"] = dg.MetadataValue.timestamp(self.last_update)
            meta["age_hours"] = round((self.checked_at - self.last_update) / 3600, 2)
        if self.latest_day:
            meta["latest_day"] = self.latest_day
        return meta

    def description(self) -> str:
        table = self.key.to_user_string()
        return f"{table}: {self.stale_reason}" if self.stale_reason else f"{table}: fresh"

    def result(self) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            asset_key=self.key,
            check_name=FRESHNESS_CHECK,
            passed=self.stale_reason is None,
            severity=dg.AssetCheckSeverity.WARN,
            description=self.description(),
            metadata=self.metadata(),
        )

    def evaluation(self) -> dg.AssetCheckEvaluation:
        return dg.AssetCheckEvaluation(
            asset_key=self.key,
            check_name=FRESHNESS_CHECK,
            passed=self.stale_reason is None,
            severity=dg.AssetCheckSeverity.WARN,
            description=self.description(),
            metadata=self.metadata(),
        )


def evaluate_freshness(
    instance: dg.DagsterInstance, keys: Sequence[dg.AssetKey], max_age_hours: float, now: float
) -> list[Freshness]:
    from restock.alerts import staleness

    records = {record.asset_entry.asset_key: record for record in instance.get_asset_records(list(keys))}
    out = []
    for key in keys:
        record = records.get(key)
        last = record.asset_entry.last_materialization if record else None
        latest_day = None
        if last is not None and last.asset_materialization is not None:
            latest_day = _metadata_text(last.asset_materialization.metadata, "latest_day")
        timestamp = last.timestamp if last is not None else None
        reason = staleness(timestamp, now, max_age_hours)
        out.append(Freshness(key, timestamp, latest_day, max_age_hours, reason, now))
    return out


@dg.multi_asset_check(
    name="published_freshness",
    specs=[
        dg.AssetCheckSpec(
            FRESHNESS_CHECK,
            asset=key,
            description=(
                "last materialized within restock.yaml's alerting.published_max_age_hours of now; "
                "evaluated after each publish and every few minutes by restock_freshness_alerts"
            ),
        )
        for key in PUBLISHED_KEYS
    ],
    can_subset=True,
)
def published_freshness(
    context: dg.AssetCheckExecutionContext, restock: RestockResource
) -> Iterator[dg.AssetCheckResult]:
    limit = restock.config.alerting.published_max_age_hours
    keys = [k.asset_key for k in sorted(context.selected_asset_check_keys, key=lambda k: k.to_user_string())]
    for freshness in evaluate_freshness(context.instance, keys, limit, time.time()):
        yield freshness.result()


def stale_alert(newly_stale: Sequence[Freshness], ui_url: str) -> "Alert":
    """One alert for the tables that turned stale in one evaluation (a stopped pipeline
    makes every table stale at once: one message, not seven)."""
    from restock.alerts import Alert

    tables = [f.key.to_user_string() for f in newly_stale]
    days = sorted(f.latest_day for f in newly_stale if f.latest_day)
    reason = (
        "Published tables older than restock.yaml's alerting.published_max_age_hours "
        f"({newly_stale[0].max_age_hours:g} h); BI reads the old data until a run publishes again.\n"
        + "\n".join(f.description() for f in newly_stale)
    )
    link = f"{ui_url.rstrip('/')}/assets/{newly_stale[0].key.to_user_string()}"
    return Alert("stale_table", ", ".join(tables), reason, days[0] if days else None, None, link)


# --------------------------------------------------------------------------- the sensors


def alerting_sensors(settings: Settings) -> list[dg.SensorDefinition]:
    """The run-failure and freshness alert sensors; links point at ``settings.ui_url``."""
    ui_url = settings.ui_url

    @dg.run_failure_sensor(
        name="restock_run_failure_alerts",
        default_status=_DEFAULT_SENSOR_STATUS,
        description=(
            "Sends an alert for every failed run: day_blocked when a blocking check stopped it, else "
            "run_failed (restock.yaml alerting; RESTOCK_DATA_DIR/alerts/alerts.jsonl)."
        ),
    )
    def restock_run_failure_alerts(context: dg.RunFailureSensorContext, restock: RestockResource) -> None:
        alert = failure_alert(
            context.instance, context.dagster_run, context.failure_event, context.get_step_failure_events(), ui_url
        )
        send(alert, restock, context.log)

    @dg.sensor(
        name="restock_freshness_alerts",
        minimum_interval_seconds=FRESHNESS_INTERVAL_SECONDS,
        default_status=_DEFAULT_SENSOR_STATUS,
        description=(
            "Evaluates the published tables' freshness checks; a table turning stale sends one stale_table alert."
        ),
    )
    def restock_freshness_alerts(context: dg.SensorEvaluationContext, restock: RestockResource) -> dg.SensorResult:
        limit = restock.config.alerting.published_max_age_hours
        seen: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        results = evaluate_freshness(context.instance, PUBLISHED_KEYS, limit, time.time())
        changed = [f for f in results if seen.get(f.key.to_user_string()) != f.state]
        newly_stale = [f for f in changed if f.stale_reason is not None]
        if newly_stale:
            send(stale_alert(newly_stale, ui_url), restock, context.log)
        stale = [f.key.to_user_string() for f in results if f.stale_reason is not None]
        summary = (
            f"stale: {', '.join(stale)}" + ("" if newly_stale else " (already alerted)")
            if stale
            else f"all {len(results)} published tables updated within {limit:g} h"
        )
        return dg.SensorResult(
            asset_events=[f.evaluation() for f in changed],
            cursor=json.dumps({f.key.to_user_string(): f.state for f in results}, sort_keys=True),
            skip_reason=summary,
        )

    return [restock_run_failure_alerts, restock_freshness_alerts]


freshness_checks = [published_freshness]
