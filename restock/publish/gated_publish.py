"""Publish a day's tables for BI: gate each table, then publish them all, or none.

For each ``as_of_date`` D (plain Python, no Dagster import):

1. read D's rows of every published table from the working warehouse (the source
   relation of each published table in ``restock/warehouse_tables.yml``);
2. run each table's suite ``expectations/published_<table>.json`` on them, with the
   parameters computed here from the warehouse (previous published row count,
   active SKUs and customers, ``forecasting.horizon_weeks``...);
3. only when every table passes: publish the day of every table as one unit
   (``versions.publish_tables``: immutable Parquet + symlink swaps, serving.duckdb
   rebuilt once, one PostgreSQL transaction for all tables when the caller passes a
   URL). A failing gate, or a failure while publishing, publishes nothing: readers
   keep the previous complete days.

Retention (``publishing.retain_days``): only days within that many days of the newest
day are served; older days are unpublished at the end of every run (the warehouse
keeps them), and superseded versions are cleaned up. A serving.duckdb that does not
name the current files (a run killed mid-publish) is rebuilt at the start.

After a day is published its HTML report is written (``restock.publish.daily_report``:
published/report/<day>.html and report_latest.html). A report that fails to build is
logged as an error naming the day and never unpublishes the day or fails the run; the
reports follow retention (a day unpublished loses its report).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from restock.config import ReplenishmentConfig, RestockConfig
from restock.publish.catalog import load_catalog
from restock.publish.paths import current_files, published_days, published_tables
from restock.publish.postgres import DEFAULT_SCHEMA, delete_days_before
from restock.publish.serving import ensure_serving, serving_is_current
from restock.publish.versions import cleanup_versions, publish_tables, row_count, unpublish_day

if TYPE_CHECKING:
    import duckdb
    import pandas as pd

log = logging.getLogger(__name__)

INACTIVE_LIFECYCLE = ("churned", "closed")


@dataclass
class DayOutcome:
    as_of_date: date
    published: bool
    rows: dict[str, int] = field(default_factory=dict)
    gates: dict[str, Any] = field(default_factory=dict)  # table -> restock.quality.GateResult
    skipped_reason: str | None = None  # not gated: outside retention, or no data yet
    blocked_reason: str | None = None  # not gated: the caller blocked it (e.g. gaps in its history)
    seconds: float = 0.0
    report: Path | None = None  # the day's HTML report (None: not published, or its build failed)

    @property
    def failed_tables(self) -> list[str]:
        return [t for t, g in self.gates.items() if not g.passed]

    def message(self) -> str:
        if self.skipped_reason:
            return f"{self.as_of_date}: not published ({self.skipped_reason})"
        if self.blocked_reason:
            return f"{self.as_of_date}: NOT published, blocked: {self.blocked_reason}"
        if self.published:
            return f"{self.as_of_date}: published {sum(self.rows.values())} rows in {len(self.rows)} tables"
        parts = [f"{self.as_of_date}: NOT published, gate failed for {', '.join(self.failed_tables)}"]
        parts += [self.gates[t].message() for t in self.failed_tables]
        return "\n".join(parts)


def published_catalog() -> dict[str, dict[str, Any]]:
    """table -> {source, key, description, columns, ...} (restock/warehouse_tables.yml)."""
    tables: dict[str, dict[str, Any]] = load_catalog()["tables"]
    return tables


def read_day(con: duckdb.DuckDBPyConnection, source: str, day: date, order_by: list[str]) -> pa.Table:
    """The rows of ``day`` in warehouse relation ``source``, in ``order_by`` order."""
    order = ", ".join(f'"{c}"' for c in order_by)
    return con.sql(
        f"select * from {source} where as_of_date = $day order by {order}", params={"day": day}
    ).to_arrow_table()


def _relation_exists(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, name = qualified.split(".", 1)
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchall()[0][0]
    )


# --------------------------------------------------------------------- gate inputs


def gate_parameters(
    con: duckdb.DuckDBPyConnection,
    day: date,
    config: RestockConfig,
    previous_rows: Mapping[str, int],
    forecasts: pa.Table,
) -> dict[str, dict[str, Any]]:
    """Suite parameters per table, computed from the warehouse independently of the
    code that built the tables (so a dropped join shows up as a failed gate).
    ``forecasts``: the day's demand_forecasts rows, already read for publishing."""
    publishing = config.publishing
    # float: a failure message quotes the limit, the same however restock.yaml wrote it
    common = {"partition_date": day, "max_quantity": float(publishing.max_quantity)}
    params = {}
    for table, rows in previous_rows.items():
        # A drop of exactly the configured share passes; anything beyond it fails.
        params[table] = dict(common, min_row_count=math.ceil(rows * (1 - publishing.max_row_drop_share) - 1e-9))
    params.setdefault("demand_forecasts", dict(common))["horizon"] = config.forecasting.horizon_weeks
    params.setdefault("replenishment_plan", dict(common))["active_skus"] = [
        r[0]
        for r in con.execute(
            """select distinct i.sku from marts.inventory_positions i
               join marts.products p on p.sku = i.sku and p.as_of_date = i.as_of_date
               where i.as_of_date = ? and p.is_active order by 1""",
            [day],
        ).fetchall()
    ]
    params.setdefault("kpis", dict(common))["windows_weeks"] = sorted(set(config.kpis.windows_weeks))
    params.setdefault("customer_order_suggestions", dict(common))["active_customers"] = _active_customers(
        con, day, config.replenishment, forecasts
    )
    return params


# forecast_qty -> suggested_qty under replenishment.suggestion_rounding, in SQL (the
# same doubles as restock.replenishment.allocation.customer_order_suggestions).
SUGGESTION_SQL = {
    "nearest": "floor(f.forecast_qty + 0.5)",
    "up": "ceil(f.forecast_qty - 1e-9)",
    "down": "floor(f.forecast_qty + 1e-9)",
}


def _active_customers(
    con: duckdb.DuckDBPyConnection, day: date, replenishment: ReplenishmentConfig, forecasts: pa.Table
) -> list[str]:
    """Customers active on ``day`` (status active, lifecycle not churned/closed), in a
    region served by a warehouse, with a forecast for their next order cycle that
    rounds to at least one unit (``suggestion_rounding``; only such suggestions are
    stored): the week holding the first ``order_weekday`` strictly after ``day``
    (without a weekday: the first week starting after ``day``). Written here in SQL on
    purpose, apart from restock.replenishment.cycles, so the two cross-check each other."""
    regions = list(replenishment.region_warehouse)
    any_region = replenishment.default_warehouse is not None
    region_filter = "" if any_region else "and list_contains($regions::varchar[], s.region)"
    params: dict[str, Any] = {"day": day} | ({} if any_region else {"regions": regions})
    con.register("_day_forecasts", forecasts)
    try:
        rows = con.sql(
            f"""with active as (
                    select s.customer_id, m.order_weekday,
                           $day::date + (case when (m.order_weekday - isodow($day::date) + 7) % 7 = 0 then 7
                                              else (m.order_weekday - isodow($day::date) + 7) % 7 end)::int as next_cycle
                    from analytics.customer_segments s
                    left join marts.customers m on m.customer_id = s.customer_id and m.as_of_date = s.as_of_date
                    where s.as_of_date = $day and s.customer_status = 'active'
                      and s.lifecycle_state not in {INACTIVE_LIFECYCLE} {region_filter})
                select distinct a.customer_id
                from active a
                join _day_forecasts f
                  on f.level = 'customer' and f.customer_id = a.customer_id
                 and {SUGGESTION_SQL[replenishment.suggestion_rounding]} >= 1
                 and case when a.next_cycle is null
                          then f.period_start > $day and f.period_start <= $day::date + 7
                          else a.next_cycle between f.period_start and f.period_start + 6 end
                order by 1""",
            params=params,
        ).fetchall()
    finally:
        con.unregister("_day_forecasts")
    return [r[0] for r in rows]


def gate_frame(
    table: str, data: pa.Table, config: RestockConfig, con: duckdb.DuckDBPyConnection, day: date
) -> pd.DataFrame:
    """The pandas frame a published suite validates: the table's rows plus the
    columns a suite needs that the table itself does not carry."""
    # demand_forecasts holds ~450,000 rows a demo day (~2.6 M a city day) of few distinct
    # keys: as categoricals its string columns convert, null-check and deduplicate in
    # ~0.5 s less a demo day than as Python strings (the values, and so the gate, are the same).
    frame = data.to_pandas(strings_to_categorical=table == "demand_forecasts")
    frame.insert(0, "_source_file", f"{table} as_of_date={day}")
    frame.insert(1, "_source_row", range(1, len(frame) + 1))
    if table == "customer_order_suggestions":
        frame = _with_availability(frame, con, day, config.replenishment.allocation.available_includes_in_transit)
    if table == "demand_forecasts":
        frame = _with_level_checks(frame)
    if table == "kpis":
        frame = _with_level_sums(frame, KPI_LEVEL_KEYS, KPI_ADDITIVE, by=["window_weeks"])
    if table == "replenishment_replay":
        frame = _with_level_sums(frame, REPLAY_LEVEL_KEYS, REPLAY_ADDITIVE, by=[])
    return frame


# Key columns each level of kpis fills (the others are null); abc_class may be null on
# warehouse_sku and abc_class rows (a SKU without a class), so it is free there.
KPI_LEVEL_KEYS = {
    "warehouse_sku": ("warehouse_id", "sku"),
    "warehouse": ("warehouse_id",),
    "total": (),
    "abc_class": (),
    "tier": ("tier",),
}
KPI_ADDITIVE = ("requested_qty", "supplied_qty", "on_hand_qty", "stockout_days")
REPLAY_LEVEL_KEYS = {"warehouse_sku": ("warehouse_id", "sku"), "warehouse": ("warehouse_id",), "total": ()}
REPLAY_ADDITIVE = (
    "demand_qty",
    "actual_supplied_qty",
    "plan_supplied_qty",
    "plan_avg_on_hand_qty",
    "plan_stockout_days",
    "plan_orders",
)


def _with_level_sums(
    frame: pd.DataFrame, level_keys: Mapping[str, tuple[str, ...]], additive: tuple[str, ...], by: list[str]
) -> pd.DataFrame:
    """_level_columns_ok (a row fills its level's key columns and no other) and _sum_gap
    (warehouse rows: how far from the sum of their warehouse x SKU rows; total rows: from
    the sum of the warehouse rows; the largest over ``additive``, relative to max(1, the
    row's value); null on other levels), per ``by``. Computed independently of the code
    that built the rows."""
    import numpy as np
    import pandas as pd

    key_columns = [c for c in ("warehouse_id", "sku", "abc_class", "tier") if c in frame.columns]
    ok = np.zeros(len(frame), dtype=bool)
    for level, filled in level_keys.items():
        good = (frame["level"] == level).to_numpy()
        for column in key_columns:
            present = frame[column].notna().to_numpy()
            if column in filled:
                good &= present
            elif not (column == "abc_class" and level in ("warehouse_sku", "abc_class")):
                good &= ~present
        ok |= good
    frame["_level_columns_ok"] = ok
    gap = np.full(len(frame), np.nan)
    for parent, child, on in (("warehouse", "warehouse_sku", ["warehouse_id"]), ("total", "warehouse", [])):
        group = [*by, *on]
        parents = frame[frame["level"] == parent]
        children = frame[frame["level"] == child]
        if parents.empty:
            continue
        if group:
            sums = children.groupby(group)[list(additive)].sum(min_count=1).reset_index()
            joined = parents[group].merge(sums, on=group, how="left")
        else:
            joined = pd.DataFrame([children[list(additive)].sum(min_count=1)] * len(parents))
        worst = np.zeros(len(parents))
        for column in additive:
            mine = parents[column].to_numpy(dtype=float)
            theirs = joined[column].to_numpy(dtype=float)
            diff = np.abs(np.nan_to_num(mine) - np.nan_to_num(theirs)) / np.maximum(1.0, np.abs(np.nan_to_num(mine)))
            worst = np.maximum(worst, diff)
        gap[parents.index.to_numpy()] = worst
    frame["_sum_gap"] = gap
    return frame


# Key columns each level of demand_forecasts fills (the others are null); customer rows
# may lack a warehouse (a region no warehouse serves), so warehouse_id is free there.
LEVEL_KEYS = {
    "total": (),
    "sku": ("sku",),
    "warehouse": ("warehouse_id", "sku"),
    "segment": ("segment_id", "sku"),
    "customer": ("customer_id", "segment_id", "sku"),
}


def _with_level_checks(frame: pd.DataFrame) -> pd.DataFrame:
    """_level_columns_ok (a row fills its level's key columns and no other, and names
    its model unless it is a warehouse row) and _children_gap (how far a row is from
    the sum of the level below it, relative to max(1, its quantity); null where the
    level below has no rows for it). Computed independently of the view.

    The string columns are factorized once and the rows grouped and joined on the
    integer codes (a city day has ~2.6 M rows: string comparisons and string groupbys
    cost seconds); the groups, their row order and so their sums are the same."""
    import numpy as np
    import pandas as pd

    key_columns = ("warehouse_id", "segment_id", "customer_id", "sku")
    level_codes, level_names = pd.factorize(frame["level"])
    level_index = {name: i for i, name in enumerate(level_names)}

    def rows_of(level: str) -> np.ndarray:
        code = level_index.get(level)
        return np.zeros(len(frame), dtype=bool) if code is None else level_codes == code

    present = {column: frame[column].notna().to_numpy() for column in key_columns}
    named = frame["model"].notna().to_numpy()
    ok = np.zeros(len(frame), dtype=bool)
    for level, filled in LEVEL_KEYS.items():
        good = rows_of(level)
        for column in key_columns:
            if column in filled:
                good &= present[column]
            elif not (level == "customer" and column == "warehouse_id"):
                good &= ~present[column]
        if level != "warehouse":
            good &= named
        ok |= good
    frame["_level_columns_ok"] = ok
    # NaN keys get code -1: one group of their own, as groupby(dropna=False) and the
    # merge (NaN matches NaN) treat them.
    codes = pd.DataFrame(
        {
            "segment_id": pd.factorize(frame["segment_id"])[0],
            "sku": pd.factorize(frame["sku"])[0],
            "horizon": frame["horizon"].to_numpy(),
            "forecast_qty": frame["forecast_qty"].to_numpy(dtype=float),
        },
        index=frame.index,
    )
    gap = np.full(len(frame), np.nan)
    week = ["horizon"]
    for parent, child, on in (
        ("total", "sku", []),
        ("sku", "segment", ["sku"]),
        ("segment", "customer", ["segment_id", "sku"]),
    ):
        sums = codes[rows_of(child)].groupby([*on, *week], dropna=False)["forecast_qty"].sum()
        parents = codes[rows_of(parent)]
        joined = parents[[*on, *week, "forecast_qty"]].merge(
            sums.rename("_children").reset_index(), on=[*on, *week], how="left"
        )
        scale = np.maximum(1.0, joined["forecast_qty"].to_numpy(dtype=float))
        gap[np.flatnonzero(rows_of(parent))] = (
            np.abs(joined["forecast_qty"].to_numpy(dtype=float) - joined["_children"].to_numpy(dtype=float)) / scale
        )
    # Warehouse rows: their sum may fall short of the SKU (customers without a warehouse), never exceed it.
    warehouses = codes[rows_of("warehouse") & (codes["sku"] >= 0)].groupby(["sku", "horizon"])["forecast_qty"].sum()
    skus = codes[rows_of("sku")]
    joined = skus[["sku", "horizon", "forecast_qty"]].merge(
        warehouses.rename("_warehouses").reset_index(), on=["sku", "horizon"], how="left"
    )
    over = np.maximum(0.0, joined["_warehouses"].to_numpy(dtype=float) - joined["forecast_qty"].to_numpy(dtype=float))
    over = over / np.maximum(1.0, joined["forecast_qty"].to_numpy(dtype=float))
    sku_rows = np.flatnonzero(rows_of("sku"))
    gap[sku_rows] = np.fmax(gap[sku_rows], over)  # fmax: a NaN (no segment rows) yields the other
    frame["_children_gap"] = gap
    return frame


def _with_availability(
    frame: pd.DataFrame, con: duckdb.DuckDBPyConnection, day: date, in_transit: bool
) -> pd.DataFrame:
    """_available_qty (the warehouse x SKU's quantity available for allocation that
    day, as restock.yaml defines it) and _allocated_total (the sum allocated). Holds for
    every SKU: an unconstrained one is one whose suggestions fit in what is available.
    ``in_transit``: replenishment.allocation.available_includes_in_transit."""
    stock = con.execute(
        f"""select warehouse_id, sku,
                   greatest(on_hand_qty {"+ in_transit_qty" if in_transit else ""} - allocated_qty, 0) as available
            from marts.inventory_positions where as_of_date = ?""",
        [day],
    ).df()
    key = ["warehouse_id", "sku"]
    frame["_allocated_total"] = frame.groupby(key)["allocated_qty"].transform("sum").astype(float).to_numpy()
    frame["_available_qty"] = frame[key].merge(stock, on=key, how="left")["available"].fillna(0.0).to_numpy()
    return frame


# --------------------------------------------------------------------- publishing


def days_to_publish(days: Iterable[date], already: Iterable[date], retain_days: int) -> tuple[list[date], date | None]:
    """The days of ``days`` inside the retention window, and the window's first day."""
    days = sorted(set(days))
    newest = max([*days, *already], default=None)
    if newest is None:
        return [], None
    first = newest - timedelta(days=retain_days - 1)
    return [d for d in days if d >= first], first


def publish_days(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    days: Iterable[date],
    config: RestockConfig,
    *,
    postgres_url: str | None = None,
    postgres_schema: str = DEFAULT_SCHEMA,
    data_docs_dir: Path | None = None,
    progress: Callable[[DayOutcome], None] | None = None,
    blocked: Mapping[date, str] | None = None,
) -> list[DayOutcome]:
    """Gate and publish each day (see the module docstring); returns one outcome per day.

    ``blocked``: day -> why it must not be published (the caller's checks, e.g. gaps
    in the raw history); such a day is neither gated nor published.

    With ``postgres_url`` every published day is also loaded into ``postgres_schema``
    of that database, and days leaving retention are deleted there too."""
    from restock.quality import validate_frame

    data_dir = Path(data_dir)
    catalog = published_catalog()
    retain_days = config.publishing.retain_days
    all_days = sorted(set(days))
    if not serving_is_current(data_dir) and published_tables(data_dir):
        # An earlier run was killed between swapping a day in and rebuilding serving.duckdb.
        log.warning("serving.duckdb did not name the current published files: rebuilt")
        ensure_serving(data_dir, {t: spec["description"] for t, spec in catalog.items()})
    already = {d for t in catalog for d in published_days(data_dir, t)}
    wanted, _ = days_to_publish(all_days, already, retain_days)
    outcomes = [
        DayOutcome(d, False, skipped_reason=f"older than publishing.retain_days={retain_days}")
        for d in all_days
        if d not in wanted
    ]
    missing = [t for t, spec in catalog.items() if not _relation_exists(con, spec["source"])]
    for day in wanted:
        started = time.perf_counter()
        if blocked and day in blocked:
            outcomes.append(DayOutcome(day, False, blocked_reason=blocked[day]))
            log.error(outcomes[-1].message())
            continue
        if missing:
            outcome = DayOutcome(day, False, skipped_reason=f"no source table yet for {', '.join(missing)}")
            outcomes.append(outcome)
            continue
        data = {t: read_day(con, spec["source"], day, spec["key"]) for t, spec in catalog.items()}
        empty = [t for t in ("demand_forecasts", "replenishment_plan") if t in data and data[t].num_rows == 0]
        if empty:
            # Before the first forecast there is nothing to plan from (the replenishment
            # asset skips those days too): nothing to publish, not an error.
            outcomes.append(DayOutcome(day, False, skipped_reason=f"no rows yet in {', '.join(empty)}"))
            continue
        previous = {t: _previous_rows(data_dir, t, day) for t in catalog}
        params = gate_parameters(con, day, config, previous, data["demand_forecasts"])
        outcome = DayOutcome(day, False)
        for table, rows in data.items():
            frame = gate_frame(table, rows, config, con, day)
            suite, table_params = f"published_{table}", params.get(table, {"partition_date": day})
            outcome.gates[table] = validate_frame(suite, frame, table_params)
            if not outcome.gates[table].passed and data_docs_dir is not None:
                # Data Docs only for a failure (building them costs ~0.5 s a table-day).
                outcome.gates[table] = validate_frame(suite, frame, table_params, data_docs_dir=data_docs_dir)
        if not outcome.failed_tables:
            # Keys were checked by the gate (a key may hold nulls, e.g. customer_id of segment rows).
            results = publish_tables(
                data_dir,
                day,
                data,
                descriptions={t: catalog[t]["description"] for t in data},
                postgres_url=postgres_url,
                postgres_schema=postgres_schema,
            )
            outcome.rows = {t: r.rows for t, r in results.items()}
            outcome.published = True
            outcome.report = _build_report(con, data_dir, day, config)
        outcome.seconds = time.perf_counter() - started
        log.info(outcome.message())
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    # Reconciled on every run, whatever this one published: days that left the window
    # (also those an interrupted run left in PostgreSQL), and superseded versions.
    newest = max((d for t in catalog for d in published_days(data_dir, t)), default=None)
    if newest is not None:
        _apply_retention(data_dir, catalog, newest - timedelta(days=retain_days - 1), postgres_url, postgres_schema)
    _sync_reports(data_dir, {d for t in catalog for d in published_days(data_dir, t)})
    cleanup_versions(data_dir)
    return sorted(outcomes, key=lambda o: o.as_of_date)


def _build_report(con: duckdb.DuckDBPyConnection, data_dir: Path, day: date, config: RestockConfig) -> Path | None:
    """The day's HTML report; a failure is logged (with the day and the traceback) and
    returns None: the day stays published and the run goes on. The day's previous
    report, if any, is removed: it would show what was published before."""
    try:
        from restock.publish.daily_report import write_report

        return write_report(con, data_dir, day, config)
    except Exception:
        log.exception(
            "%s: the daily HTML report could not be built; the day stays published "
            "(rebuild it with: python -m restock.publish.daily_report --day %s)",
            day,
            day,
        )
    try:
        from restock.publish.daily_report import discard_report

        if discard_report(data_dir, day):
            log.warning("%s: its previous report was removed (it showed the day as published before)", day)
    except Exception:
        log.exception("%s: the previous report could not be removed", day)
    return None


def _sync_reports(data_dir: Path, published: set[date]) -> None:
    """Reports of days no longer published are removed; report_latest.html follows the
    newest report. A failure is logged, never raised."""
    try:
        from restock.publish.daily_report import sync_reports

        sync_reports(data_dir, published)
    except Exception:
        log.exception("keeping the daily HTML reports in step with the published days failed")


def _previous_rows(data_dir: Path, table: str, day: date) -> int:
    """Rows of the last published day before ``day`` (0 if none). For
    customer_order_suggestions only its rows with ``suggested_qty > 0``: days published
    before zero suggestions stopped being stored must not make the first day after it
    look like a drop in rows."""
    earlier = [d for d in published_days(data_dir, table) if d < day]
    if not earlier:
        return 0
    if table != "customer_order_suggestions":
        return row_count(data_dir, table, earlier[-1])
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    data_file = current_files(data_dir, table).get(earlier[-1])
    if data_file is None:
        return 0
    suggested = pq.read_table(data_file, columns=["suggested_qty"]).column("suggested_qty")
    return int(pc.sum(pc.greater(suggested, 0)).as_py() or 0)


def _apply_retention(
    data_dir: Path, catalog: Mapping[str, Any], first_kept: date, postgres_url: str | None, postgres_schema: str
) -> None:
    dropped = 0
    for table in catalog:
        for day in published_days(data_dir, table):
            if day < first_kept:
                unpublish_day(data_dir, table, day, postgres_url=postgres_url, postgres_schema=postgres_schema)
                dropped += 1
        if postgres_url:  # days whose Parquet is gone but whose rows stayed (an interrupted run)
            delete_days_before(postgres_url, table, first_kept, schema=postgres_schema)
    if dropped:
        ensure_serving(data_dir, {t: spec["description"] for t, spec in catalog.items()})
        log.info("retention: %d table-days before %s unpublished", dropped, first_kept)


__all__ = ["DayOutcome", "publish_days", "days_to_publish", "gate_parameters", "gate_frame", "read_day"]
