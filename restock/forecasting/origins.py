"""Compute and store the forecasts of each forecast origin (I/O: reads the marts and
segments, writes the tables of :mod:`restock.forecasting.tables`).

Point in time: an origin O ≤ D uses weekly demand of weeks complete on O and the
customer segments of O only; its rows never change unless O itself is re-run.

Population (no demand lost): a segment × SKU series is the weekly demand of every
customer of the segment on O that has not closed, churned ones included
(:func:`_series_members`) — the lifecycle states decide who gets a share of the
forecast (:mod:`restock.forecasting.disaggregation`), not whose demand counts;
``forecast_members`` stores that population, the one the accuracy review compares
the forecasts with.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from restock import table_registry
from restock.calendar import first_forecast_week, last_complete_week_start
from restock.config import ForecastingConfig, RestockConfig
from restock.forecasting.calibration import apply_scales, calibrate
from restock.forecasting.disaggregation import RATIO_WINDOW_WEEKS, WeeklyCells, customer_shares
from restock.forecasting.levels import RunPastOrigins, aggregate_tasks, reconcile_origin, reconciliation_row
from restock.forecasting.panel import (
    build_series,
    choices_from_frame,
    forecast_origin,
    forecast_panel,
    selection_origin_for,
)
from restock.forecasting.promotions import attach_promotions, read_promotions
from restock.forecasting.reselection import (
    POPULATION_ACTUAL,
    RunPopulationActual,
    build_population_actual,
    series_to_reselect,
    series_tracking_signals,
)
from restock.forecasting.tables import CHOICE_COLUMNS, FORECAST_COLUMNS, LEVEL_COLUMNS
from restock.warehouse import replace_day, replace_rows

log = logging.getLogger(__name__)


@dataclass
class OriginResult:
    origin: date
    status: str  # computed / reused / no_segments
    series: int = 0
    selected: int = 0  # choices stored: selections, class-default fits, failed refits selected again
    reselected: int = 0  # of which series selected again because out of control
    fallbacks: int = 0  # series on a rule (new/short, failed fit) instead of a fitted model
    failed_fits: int = 0  # of which a model failed to fit
    forecast_rows: int = 0
    share_rows: int = 0
    unallocated_series: int = 0
    reconciliation: str = ""  # method that made the levels coherent
    interval_scales: dict[int, float] = field(default_factory=dict)  # calibration factor per horizon
    seconds: float = 0.0


def run_forecasts(
    con,
    days: Iterable[date],
    config: RestockConfig,
    pool: Executor | None = None,
    progress: Callable[[OriginResult], None] | None = None,
) -> list[OriginResult]:
    """Forecasts for every day of ``days`` (a run's partition range).

    Each origin that is itself one of ``days`` is computed (its run is the one that
    owns it); an earlier origin is computed only when it has no forecasts yet, else
    its rows are reused. ``forecast_runs`` maps every day to its origin.
    """
    settings = config.forecasting
    days = sorted(days)
    in_run = set(days)
    results = []
    population = RunPopulationActual(settings.quantity)
    past = RunPastOrigins()
    try:
        for origin in sorted({forecast_origin(d, settings.cutoff_weekday) for d in days}):
            results.append(_run_origin(con, origin, days, in_run, config, pool, population, past))
            if progress:
                progress(results[-1])
    finally:
        population.close(con)
    return results


def _run_origin(
    con: DuckDBPyConnection,
    origin: date,
    days: list[date],
    in_run: set[date],
    config: RestockConfig,
    pool: Executor | None,
    population: RunPopulationActual,
    past: RunPastOrigins,
) -> OriginResult:
    """Compute or reuse one origin of :func:`run_forecasts` and map its days to it."""
    settings = config.forecasting
    found = con.execute(
        "select count(*) from analytics.segment_forecasts where forecast_origin = ?", [origin]
    ).fetchone()
    exists = found[0] if found else 0
    if origin in in_run or not exists:
        result = compute_origin(con, origin, config, settings, pool, population, past)
    else:
        result = OriginResult(origin, "reused", forecast_rows=exists)
    mapped = [d for d in days if forecast_origin(d, settings.cutoff_weekday) == origin]
    if result.status != "no_segments":
        runs = pd.DataFrame({"as_of_date": mapped, "forecast_origin": origin})
        con.execute("begin transaction")
        try:
            con.execute("delete from analytics.forecast_runs where as_of_date between ? and ?", [mapped[0], mapped[-1]])
            con.register("_runs", runs)
            con.execute("insert into analytics.forecast_runs select as_of_date, forecast_origin from _runs")
            con.unregister("_runs")
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    return result


def compute_origin(
    con: DuckDBPyConnection,
    origin: date,
    config: RestockConfig,
    settings: ForecastingConfig,
    pool: Executor | None,
    population: RunPopulationActual | None = None,
    past: RunPastOrigins | None = None,
) -> OriginResult:
    """Forecast every segment × SKU series at ``origin`` and store rows and shares.
    ``population``: the past populations' demand a run of origins keeps between them;
    ``past``: the reconciliation backtest's past origins, likewise."""
    started = time.monotonic()
    members = _members(con, origin, config)
    if members is None:
        log.warning(
            "no customers in the marts on %s (before the first partition?): no forecast for this origin", origin
        )
        return OriginResult(origin, "no_segments")
    try:
        actual_table = _population_actual(con, origin, config, population)
        return _compute(con, origin, config, settings, pool, members, actual_table, started, past)
    finally:
        if population is not None:
            population.release(con)
        else:
            con.execute(f"drop table if exists {POPULATION_ACTUAL}")


def _population_actual(
    con: DuckDBPyConnection, origin: date, config: RestockConfig, population: RunPopulationActual | None = None
) -> str | None:
    """The demand of past origins' populations that the reselection signals, the
    interval calibration and the reconciliation backtest read, joined once
    (reselection.build_population_actual): every origin and week any of them uses."""
    settings = config.forecasting
    windows = [config.accuracy.window_weeks if settings.reselect_out_of_control else 0]
    windows.append(settings.interval_calibration_weeks if settings.interval_calibration else 0)
    recon = settings.reconciliation_window_weeks if settings.reconciliation == "auto" else 0
    if not max(windows) and not recon:
        return None
    last = last_complete_week_start(origin)
    first_week = last - timedelta(weeks=max(windows) - 1) if max(windows) else last
    if recon:
        first_week = min(first_week, first_forecast_week(origin - timedelta(weeks=recon)))
    # a forecast of week W was made at most horizon_weeks before it
    first_origin = min(first_week - timedelta(weeks=settings.horizon_weeks), origin - timedelta(weeks=recon))
    if population is not None:
        return population.table_for(con, first_origin, origin, first_week, last)
    return build_population_actual(con, first_origin, origin, first_week, last, settings.quantity)


def _compute(
    con: DuckDBPyConnection,
    origin: date,
    config: RestockConfig,
    settings: ForecastingConfig,
    pool: Executor | None,
    members: pd.DataFrame,
    actual_table: str | None,
    started: float,
    past: RunPastOrigins | None = None,
) -> OriginResult:
    population = _series_members(members)
    tasks = _series(con, origin, population, config)
    # + the SKU and total series (levels); the promotions regressor where a series has
    # enough promotion history (after aggregating: the SKU series get it too)
    panel_tasks = _with_promotions(con, origin, tasks + aggregate_tasks(tasks), settings)
    selection_origin = selection_origin_for(origin, settings)
    choices = None
    reselect: set[tuple] = set()
    reselected = 0  # series selected again (a flagged series may have no demand left on the origin)
    if origin != selection_origin:
        stored = con.execute(
            "select segment_id, sku, model, params_json, fallback_reason from analytics.model_choices where selection_origin = ?",
            [selection_origin],
        ).df()
        if stored.empty:
            stored = _select_at(con, selection_origin, config, settings, pool)
        # No data on the selection origin (before the first partition): no choices,
        # every series on its class default (fitted once, then refit) until the next
        # selection origin.
        choices = {} if stored is None else choices_from_frame(stored)
        last_selected = {key: selection_origin for key in choices}
        # Series chosen since the grid origin (selected again because out of control,
        # a class default fitted, a failed refit selected again) refit that choice.
        again = _reselections_since(con, selection_origin, origin)
        choices.update(choices_from_frame(again))
        again_on = pd.to_datetime(again["selection_origin"]).dt.date
        last_selected.update(zip(zip(again["segment_id"], again["sku"], strict=True), again_on, strict=True))
        if settings.reselect_out_of_control:
            signals = series_tracking_signals(
                con, origin, config.accuracy.window_weeks, settings.quantity, actual_table
            )
            reselect = series_to_reselect(
                signals, last_selected, origin, config.accuracy.window_weeks, config.accuracy.tracking_signal_limit
            )
    if reselect:
        refit_tasks = [task for task in panel_tasks if task["key"] not in reselect]
        again_tasks = [task for task in panel_tasks if task["key"] in reselect]
        refits, fitted = forecast_panel(refit_tasks, origin, settings, choices, pool)
        again_forecasts, again_selected = forecast_panel(again_tasks, origin, settings, None, pool)
        forecasts = pd.concat([f for f in (refits, again_forecasts) if len(f)] or [refits], ignore_index=True)
        selected = pd.concat([f for f in (fitted, again_selected) if len(f)] or [fitted], ignore_index=True)
        reselected = len(again_tasks)
        log.info("%s: %d series out of control selected again", origin, len(again_tasks))
    else:
        forecasts, selected = forecast_panel(panel_tasks, origin, settings, choices, pool)
    scale = {task["key"]: _naive_mae(task["y"]) for task in panel_tasks}
    rows, level_rows, reconciled = reconcile_origin(
        con,
        origin,
        _forecast_rows(forecasts, origin, scale),
        tasks,
        settings.reconciliation,
        settings.reconciliation_window_weeks,
        settings.share_window_weeks,
        settings.interval_level,
        settings.quantity,
        actual_table,
        past,
    )
    # Intervals scaled per horizon to their recent coverage (calibration.py); the
    # models' own bounds are kept beside them.
    scales: dict[int, float] = {}
    if settings.interval_calibration:
        window = settings.interval_calibration_weeks
        rows, scales = calibrate(con, origin, rows, window, settings.interval_level, settings.quantity, actual_table)
    else:
        rows = apply_scales(rows, {})
    shares, unallocated = _shares_at(con, origin, rows, members, config)
    # One transaction for the origin's forecasts, population, shares and choices: a
    # failure leaves the previous set of the origin whole.
    con.execute("begin transaction")
    try:
        replace_rows(con, "analytics.segment_forecasts", "forecast_origin", origin, rows, FORECAST_COLUMNS)
        replace_rows(con, "analytics.level_forecasts", "forecast_origin", origin, level_rows, LEVEL_COLUMNS)
        replace_rows(
            con,
            "analytics.reconciliations",
            "forecast_origin",
            origin,
            reconciliation_row(origin, reconciled),
            table_registry.columns("reconciliations"),
        )
        replace_rows(
            con,
            "analytics.forecast_members",
            "forecast_origin",
            origin,
            population.assign(
                forecast_origin=origin,
                warehouse_id=[config.replenishment.warehouse_of(region) for region in population["region"]],
            ),
            table_registry.columns("forecast_members"),
        )
        replace_rows(
            con,
            "analytics.customer_forecast_shares",
            "forecast_origin",
            origin,
            shares,
            table_registry.columns("customer_forecast_shares"),
        )
        # Grid origins store every series' choice, other origins the choices made on
        # them (none: clears what an earlier run of this origin stored).
        _store_choices(con, origin, selected)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    first = rows[rows["horizon"] == 1]
    return OriginResult(
        origin,
        "computed",
        series=len(tasks),
        selected=len(selected),
        reselected=reselected,
        fallbacks=int(first["fallback_reason"].notna().sum()),
        failed_fits=int(first["fallback_reason"].fillna("").str.contains("failed").sum()),
        forecast_rows=len(rows),
        share_rows=len(shares),
        unallocated_series=unallocated,
        reconciliation=reconciled.method,
        interval_scales=scales,
        seconds=round(time.monotonic() - started, 2),
    )


def _members(con: DuckDBPyConnection, day: date, config: RestockConfig) -> pd.DataFrame | None:
    """Customer → segment, lifecycle state and region on ``day``: the stored customer_segments
    rows, or computed from the marts when that day's segments were never
    materialized (e.g. a selection origin before a backfill's first day); None when
    the marts hold nothing for the day (before the first partition)."""
    stored = con.execute(
        "select customer_id, segment_id, lifecycle_state, region from analytics.customer_segments"
        " where as_of_date = ? order by customer_id",
        [day],
    ).df()
    if len(stored):
        return stored
    if not con.execute("select count(*) from marts.customers where as_of_date = ?", [day]).fetchall()[0][0]:
        return None
    from restock.segmentation.tables import customer_segments_for_day

    return customer_segments_for_day(con, day, config.segmentation)[
        ["customer_id", "segment_id", "lifecycle_state", "region"]
    ]


SERIES_STATES = ("new", "active", "at_risk", "churned")


def _series_members(members: pd.DataFrame) -> pd.DataFrame:
    """The customers whose demand makes a segment's series: every customer of the
    segment on the origin that has not closed (:data:`SERIES_STATES`: new, active,
    at_risk and churned).

    Why churned customers count (before: only new / active / at_risk): customers who
    buy every few weeks or months, lapse and come back keep buying while "churned",
    and their demand was lost — on the real CDNOW purchase history the forecasts
    summed to 0.77 of the demand that arrived, on the demo variant with irregular
    buyers to 0.82; with them 1.05 and 0.93 (benchmarks/bench_lifecycle_demand.py).
    The lifecycle decides who gets a share of the forecast
    (:mod:`restock.forecasting.disaggregation`), not whose demand is forecast.

    Why closed customers do not (the alternative: every customer, closed ones'
    history too, the aggregate as it was): a closure is known on the origin and
    final, so its history is demand that cannot arrive; kept, it is a level drop the
    models take weeks to follow (demo: Σ forecasts / demand 1.065 and total WAPE
    0.074 with it, 1.044 and 0.055 without) and a segment whose shops have all closed
    would keep a forecast no customer can place (the customer forecasts could not sum
    to it). The price: a history without its closed shops shows the arrivals but not
    the closures of the past, so it slightly understates a shrinking population
    (~ the closure rate, 3.5 % a year on the demo, over an 8-week horizon ~0.5 %); on
    the growing demo variant, where the models lag the growth, keeping closed shops
    happened to compensate (0.96 against 0.93), not a reason to forecast demand that
    cannot come.
    """
    return members[members["lifecycle_state"].isin(SERIES_STATES)]


def _series(con: DuckDBPyConnection, origin: date, members: pd.DataFrame, config: RestockConfig) -> list[dict]:
    quantity = config.forecasting.quantity
    con.register("_members", members)
    try:
        history = con.execute(
            f"""select s.segment_id, w.sku, w.week_start, sum(w.{quantity})::double as qty
                from marts.customer_sku_weekly_demand w join _members s using (customer_id)
                where w.week_start <= ? group by all order by all""",
            [last_complete_week_start(origin)],
        ).df()
    finally:
        con.unregister("_members")
    return build_series(history, origin)


def _with_promotions(
    con: DuckDBPyConnection, origin: date, tasks: list[dict], settings: ForecastingConfig
) -> list[dict]:
    """The series with the promotions regressor (a ``"promo"`` array) where their history
    has ``promo_min_weeks`` promotion weeks, as known on ``origin``
    (:mod:`restock.forecasting.promotions`); ``promotions: off`` or no promotions:
    the series as they are."""
    if settings.promotions == "off" or not tasks:
        return tasks
    known = read_promotions(con, origin, settings.quantity)
    return attach_promotions(
        tasks,
        known.rows,
        origin,
        settings.horizon_weeks,
        settings.promo_min_weeks,
        settings.promotions,
        known.snapshot_dates,
        known.weekday_share,
    )


def _select_at(
    con: DuckDBPyConnection,
    selection_origin: date,
    config: RestockConfig,
    settings: ForecastingConfig,
    pool: Executor | None,
) -> pd.DataFrame | None:
    """Choices of a selection origin that was never run (e.g. a backfill starting
    after it): made now from the data of that origin, and stored."""
    members = _members(con, selection_origin, config)
    if members is None:
        return None
    tasks = _series(con, selection_origin, _series_members(members), config)
    panel_tasks = _with_promotions(con, selection_origin, tasks + aggregate_tasks(tasks), settings)
    _, selected = forecast_panel(panel_tasks, selection_origin, settings, None, pool)
    replace_day(
        con,
        "analytics.model_choices",
        "selection_origin",
        selection_origin,
        _choices_frame(selected).assign(selection_origin=selection_origin),
        CHOICE_COLUMNS,
    )
    return _choices_frame(selected)


def _reselections_since(con: DuckDBPyConnection, grid_origin: date, origin: date) -> pd.DataFrame:
    """The latest choice of each series made after ``grid_origin`` and before
    ``origin``: reselections (:mod:`restock.forecasting.reselection`), class-default
    fits and selections that replaced a failed refit."""
    return con.execute(
        """select selection_origin, segment_id, sku, model, params_json, fallback_reason
           from analytics.model_choices
           where selection_origin > ? and selection_origin < ?
           qualify row_number() over (partition by segment_id, sku order by selection_origin desc) = 1
           order by segment_id, sku""",
        [grid_origin, origin],
    ).df()


def _choices_frame(selected: pd.DataFrame) -> pd.DataFrame:
    frame = selected.copy()
    frame["segment_id"] = [key[0] for key in frame["key"]]
    frame["sku"] = [key[1] for key in frame["key"]]
    return frame.drop(columns=["key"])


def _store_choices(con, origin: date, selected: pd.DataFrame) -> None:
    """Replace the origin's choices (inside the caller's transaction)."""
    replace_rows(
        con,
        "analytics.model_choices",
        "selection_origin",
        origin,
        _choices_frame(selected).assign(selection_origin=origin),
        CHOICE_COLUMNS,
    )


def _naive_mae(y: np.ndarray) -> float | None:
    """In-sample MAE of the one-step naive forecast (the MASE scale); None if undefined."""
    if y.size < 2:
        return None
    value = float(np.mean(np.abs(np.diff(y))))
    return value if value > 0 else None


def _forecast_rows(forecasts: pd.DataFrame, origin: date, scale: dict) -> pd.DataFrame:
    rows = forecasts.copy()
    rows["forecast_origin"] = origin
    rows["segment_id"] = [key[0] for key in rows["key"]]
    rows["sku"] = [key[1] for key in rows["key"]]
    rows["naive_mae"] = [scale.get(key) for key in rows["key"]]
    rows["fallback_reason"] = rows["fallback_reason"].astype(object)
    # base_qty, base_sd and proportion come with the reconciliation (levels.reconcile_origin),
    # the model bounds and the interval scale with the calibration (calibration.py)
    later = ("base_qty", "base_sd", "proportion", "model_lower_qty", "model_upper_qty", "interval_scale")
    return rows[[c for c in FORECAST_COLUMNS if c not in later]]


def _shares_at(
    con: DuckDBPyConnection, origin: date, rows: pd.DataFrame, customers: pd.DataFrame, config: RestockConfig
) -> tuple[pd.DataFrame, int]:
    weeks = config.forecasting.share_window_weeks
    quantity = config.forecasting.quantity
    last = last_complete_week_start(origin)
    # The customers' own weeks, for the bounds of their forecasts (disaggregation.interval_ratios),
    # and their demand over the share window when it is inside the ratio window.
    weekly, recent = _ratio_cells(con, last, quantity, weeks)
    if recent is None:
        recent = con.execute(
            f"""select customer_id, sku, sum({quantity})::double as qty from marts.customer_sku_weekly_demand
                where week_start between ? and ? group by all order by customer_id, sku""",
            [last - timedelta(weeks=weeks - 1), last],
        ).df()
    first_weeks = con.execute(
        f"""select customer_id, min(week_start) as first_week from marts.customer_sku_weekly_demand
            where week_start <= ? and {quantity} > 0 group by all order by customer_id""",
        [last],
    ).df()
    series = rows.loc[(rows["horizon"] == 1), ["segment_id", "sku"]]
    shares = customer_shares(
        recent,
        customers,
        series,
        weekly,
        last_week=last,
        level=config.forecasting.interval_level,
        first_weeks=first_weeks,
    )
    shares.insert(0, "forecast_origin", origin)
    covered = shares[["segment_id", "sku"]].drop_duplicates()
    unallocated = len(series.drop_duplicates()) - len(covered)
    return shares, unallocated


RATIO_PAIRS = "_origin_ratio_pairs"


def _ratio_cells(
    con: DuckDBPyConnection, last: date, quantity: str, share_weeks: int
) -> tuple[WeeklyCells, pd.DataFrame | None]:
    """The customer × SKU weekly demand of the :data:`RATIO_WINDOW_WEEKS` weeks ending
    ``last`` as :class:`WeeklyCells` (issue 13: instead of a frame of every customer ×
    SKU × week, 670 k rows on the demo, decoded in pandas; benchmarks/bench_shares.py),
    and when the ``share_weeks`` weeks ending ``last`` are inside that window the
    customer × SKUs' demand over them (customer_id, sku, qty: ``recent`` of
    :func:`~restock.forecasting.disaggregation.customer_shares`, the pairs with qty > 0,
    the only ones it uses), else None.

    The same numbers as that frame: a cell is the week's ``sum(quantity)`` cast to
    double, its rows of demand 0 left out (they add nothing to the sum) but counted for
    the customer × SKU's first row; customer × SKUs without any non-zero demand in the
    window are left out (mean 0: no own ratios; no recent demand). Pairs sorted by
    customer_id, sku as the frame's were."""
    first = last - timedelta(weeks=RATIO_WINDOW_WEEKS - 1)
    window = {"first": first, "last": last}
    inside = share_weeks <= RATIO_WINDOW_WEEKS
    recent_sum = f"sum({quantity}) filter (where week_start >= $share_first)::double" if inside else "null::double"
    con.execute(
        f"""create or replace temp table {RATIO_PAIRS} as
            select customer_id, sku, (datediff('day', $first, min(week_start)) // 7)::int as first_row,
                   {recent_sum} as recent_qty,
                   (row_number() over (order by customer_id, sku) - 1)::int as pair
            from marts.customer_sku_weekly_demand where week_start between $first and $last
            group by customer_id, sku having bool_or({quantity} <> 0)""",
        {**window, "share_first": last - timedelta(weeks=share_weeks - 1)} if inside else window,
    )
    try:
        pairs = con.execute(f"select customer_id, sku, first_row, recent_qty from {RATIO_PAIRS} order by pair").df()
        cells = con.execute(
            f"""select p.pair, (datediff('day', $first, d.week_start) // 7)::int as week,
                       sum(d.{quantity})::double as qty
                from marts.customer_sku_weekly_demand d join {RATIO_PAIRS} p using (customer_id, sku)
                where d.week_start between $first and $last and d.{quantity} <> 0
                group by p.pair, week""",
            window,
        ).fetchnumpy()
    finally:
        con.execute(f"drop table if exists {RATIO_PAIRS}")
    recent = None
    if inside:
        bought = pairs[pairs["recent_qty"] > 0]
        recent = pd.DataFrame(
            {"customer_id": bought["customer_id"], "sku": bought["sku"], "qty": bought["recent_qty"]}
        ).reset_index(drop=True)
    cells_of_window = WeeklyCells(
        last_week=last,
        window_weeks=RATIO_WINDOW_WEEKS,
        customer_id=pairs["customer_id"].to_numpy(),
        sku=pairs["sku"].to_numpy(),
        first_row=pairs["first_row"].to_numpy(),
        pair=np.asarray(cells["pair"]),
        week=np.asarray(cells["week"]),
        qty=np.asarray(cells["qty"]),
    )
    return cells_of_window, recent


def describe(results: list[OriginResult]) -> str:
    computed = [r for r in results if r.status == "computed"]
    return (
        f"{len(results)} origins: {len(computed)} computed, "
        f"{sum(r.status == 'reused' for r in results)} reused, {sum(r.status == 'no_segments' for r in results)} without segments; "
        f"{sum(r.series for r in computed)} series fitted ({sum(r.reselected for r in computed)} selected again "
        f"out of control), {sum(r.fallbacks for r in computed)} on a fallback rule "
        f"({sum(r.failed_fits for r in computed)} after a failed fit), "
        f"{sum(r.seconds for r in computed):.1f} s"
    )


# --------------------------------------------------------------------------- summaries


def model_mix(con: DuckDBPyConnection, day: date) -> dict[str, int]:
    """Series per model at horizon 1 for the forecast origin in force on ``day``."""
    rows = con.execute(
        """select model, count(*) from analytics.segment_forecasts
           where forecast_origin = (select max(forecast_origin) from analytics.forecast_runs where as_of_date <= ?)
             and horizon = 1 group by 1 order by 2 desc""",
        [day],
    ).fetchall()
    return dict(rows)
