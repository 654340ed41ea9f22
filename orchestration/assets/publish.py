"""Publishing: each day's tables gated (expectations/published_*.json) then published
to RESTOCK_DATA_DIR (Parquet + serving.duckdb) and PostgreSQL when configured.

Thin wiring around restock.publish.gated_publish. The gate of each table is reported as a
blocking asset check of its published asset; a day whose gates fail is not published
at all (the previous published days stay as they were) and the step fails.
"""

import time
from collections.abc import Iterator
from typing import Any

import dagster as dg

from orchestration.partitions import daily_partitions, window_days
from orchestration.resources import RestockResource, WarehouseResource

# published table -> the asset that computes it
SOURCES = {
    "customer_segments": dg.AssetKey(["segmentation", "customer_segments"]),
    "product_classes": dg.AssetKey(["segmentation", "product_classes"]),
    "demand_forecasts": dg.AssetKey(["forecasting", "demand_forecasts"]),
    "forecast_accuracy": dg.AssetKey(["forecasting", "forecast_accuracy"]),
    "replenishment_plan": dg.AssetKey(["replenishment", "replenishment_plan"]),
    "customer_order_suggestions": dg.AssetKey(["replenishment", "customer_order_suggestions"]),
    "inventory_alerts": dg.AssetKey(["replenishment", "inventory_alerts"]),
    "kpis": dg.AssetKey(["performance", "kpis"]),
    "replenishment_replay": dg.AssetKey(["performance", "replenishment_replay"]),
}
GATE = "publishable"


def _key(table: str) -> dg.AssetKey:
    return dg.AssetKey(["published", table])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            _key(table),
            deps=[source],
            group_name="published",
            kinds={"parquet", "duckdb"},
            skippable=True,
            description=(
                f"{table} as published for BI: RESTOCK_DATA_DIR/serving.duckdb views {table} and {table}_latest, "
                f"Parquet under published/{table}/as_of_date=<day>/, PostgreSQL when RESTOCK_POSTGRES_URL is set. "
                "Columns: docs/tables.md."
            ),
        )
        for table, source in SOURCES.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            GATE,
            asset=_key(table),
            blocking=True,
            description=f"expectations/published_{table}.json passes on the day's rows before they are published",
        )
        for table in SOURCES
    ],
    partitions_def=daily_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def published_tables(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource, restock: RestockResource
) -> Iterator[Any]:
    from restock.progress import Progress
    from restock.publish.gated_publish import DayOutcome, days_to_publish, publish_days

    days = window_days(context)
    started = time.monotonic()
    done = []
    # Only the days inside publishing.retain_days are gated, in order; a day skipped
    # before the first forecast counts as done when a later day is reported.
    wanted, _ = days_to_publish(days, (), restock.config.publishing.retain_days)
    position = {day: i for i, day in enumerate(wanted, 1)}
    tracker = Progress("publish", len(wanted), context.log.info)

    def progress(outcome: DayOutcome) -> None:
        done.append(outcome)
        published = sum(o.published for o in done)
        tracker.advance(
            through=outcome.as_of_date,
            done=position.get(outcome.as_of_date, tracker.done),
            detail=f"{len(done)} days gated, {published} published",
        )

    with warehouse.connect() as con:
        blocked = _history_gaps(context, con, days, restock)
        outcomes = publish_days(
            con,
            restock.data,
            days,
            restock.config,
            postgres_url=restock.postgres_url,
            postgres_schema=restock.postgres_schema,
            data_docs_dir=restock.data_docs_dir,
            progress=progress,
            blocked=blocked,
        )
    tracker.finish(detail=f"{len(done)} days gated, {sum(o.published for o in done)} published")
    published = [o for o in outcomes if o.published]
    failed = [o for o in outcomes if (o.gates or o.blocked_reason) and not o.published]
    skipped = [o for o in outcomes if o.skipped_reason]
    if skipped:
        context.log.info(
            f"{len(skipped)} days not published (retention or no forecast yet), e.g. "
            f"{skipped[0].message()}; {skipped[-1].message()}"
        )
    seconds = round(time.monotonic() - started, 2)
    serving = restock.data / "serving.duckdb"

    for table in SOURCES:
        if published:
            last = published[-1]
            yield dg.MaterializeResult(
                asset_key=_key(table),
                metadata={
                    "days_published": len(published),
                    "latest_day": str(last.as_of_date),
                    "row_count": last.rows.get(table, 0),
                    "serving": dg.MetadataValue.path(str(serving)),
                    "parquet": dg.MetadataValue.path(str(restock.data / "published" / table)),
                    "seconds": seconds,
                },
            )
        gated = [o for o in outcomes if table in o.gates]
        bad = [o for o in gated if not o.gates[table].passed]
        metadata = {
            "days_gated": len(gated),
            "days_failed": len(bad),
            "gate_seconds": round(sum(o.gates[table].elapsed_s for o in gated), 2),
        }
        if bad:
            first = bad[0].gates[table]
            metadata["failed_days"] = ", ".join(str(o.as_of_date) for o in bad[:20])
            metadata["first_failure"] = dg.MetadataValue.md(f"```\n{first.message()}\n```")
            if first.data_docs_path:
                metadata["data_docs"] = dg.MetadataValue.path(str(first.data_docs_path))
        elif gated:
            last = gated[-1].gates[table]
            metadata.update(rows=last.row_count, expectations=last.evaluated)
        yield dg.AssetCheckResult(
            asset_key=_key(table),
            check_name=GATE,
            passed=not bad,
            metadata=metadata,
            severity=dg.AssetCheckSeverity.ERROR,
        )
    if failed:
        summary = "\n\n".join(o.message() for o in failed[:5])
        why = (
            "gaps in their raw history (quality.history_gaps)"
            if all(o.blocked_reason for o in failed)
            else "the published-table gates failed or their raw history has gaps"
        )
        raise dg.Failure(
            description=(
                f"{len(failed)} day(s) not published: {why}; the previously published days are unchanged.\n{summary}"
            ),
            metadata={
                "failed_days": ", ".join(str(o.as_of_date) for o in failed),
                "blocked_days": ", ".join(str(o.as_of_date) for o in failed if o.blocked_reason),
            },
        )


MAX_GAPS_NAMED = 5


def _history_gaps(context: dg.AssetExecutionContext, con: Any, days: list[Any], restock: RestockResource) -> dict:
    """day -> why it is blocked, for the days whose lookback holds a missing daily file
    or an open quarantine (restock/ingest/history.py); {} in quality.history_gaps
    action "warn" (then logged as warnings)."""
    from restock.ingest.history import history_gaps

    rules = restock.config.quality.history_gaps
    gaps = history_gaps(con, days, rules.lookback_weeks * 7, restock.landing)
    blocked = {}
    for day, found in gaps.items():
        named = "; ".join(g.describe() for g in found[:MAX_GAPS_NAMED])
        more = f" and {len(found) - MAX_GAPS_NAMED} more" if len(found) > MAX_GAPS_NAMED else ""
        reason = f"{len(found)} gap(s) in the {rules.lookback_weeks} weeks before it: {named}{more}"
        if rules.action == "warn":
            context.log.warning(f"{day}: published although {reason} (quality.history_gaps.action: warn)")
        else:
            blocked[day] = reason
    return blocked


publish_assets = [published_tables]
