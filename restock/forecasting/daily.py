"""The forecasting tables of the warehouse: forecasts per origin, customer shares,
model choices, the as-of-day → origin map and the accuracy review.

Tables (schema ``analytics``):

- ``segment_forecasts``: segment × SKU × week for each forecast origin (horizon
  1..H, point and bounds, model, how it was obtained, the in-sample naive MAE used
  by MASE);
- ``customer_forecast_shares``: customer × SKU shares of each segment × SKU per
  origin (:mod:`restock.forecasting.disaggregation`);
- ``forecast_members``: customer → segment on each origin for the customers still
  trading (not churned or closed): the population each segment forecast is made
  from and for; the accuracy review compares with its demand;
- ``model_choices``: the model picked per series at each selection origin, with its
  parameters and backtest scores;
- ``forecast_runs``: as_of_date → forecast_origin, one row per materialized day;
- ``accuracy_reviews``: the review computed on each origin.

Views: ``demand_forecasts`` (segment and customer levels per as_of_date, the
published shape) and ``forecast_accuracy`` (per as_of_date). Days between two
origins reuse the origin's rows through ``forecast_runs`` instead of copying them.

Point in time: an origin O ≤ D uses weekly demand of weeks complete on O and the
customer segments of O only; its rows never change unless O itself is re-run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from restock.calendar import last_complete_week_start
from restock.forecasting.disaggregation import ELIGIBLE_ESTABLISHED, ELIGIBLE_NEW, customer_shares
from restock.forecasting.panel import (
    PanelSettings,
    build_series,
    choices_from_frame,
    forecast_origin,
    forecast_panel,
    is_selection_origin,
    selection_origin_for,
)
from restock.warehouse import replace_day, replace_rows

log = logging.getLogger(__name__)

DDL = [
    """create table if not exists analytics.segment_forecasts (
        forecast_origin date not null, segment_id varchar not null, sku varchar not null,
        period_start date not null, horizon integer not null, forecast_qty double not null,
        lower_qty double not null, upper_qty double not null, model varchar not null,
        method varchar not null, fallback_reason varchar, naive_mae double)""",
    """create table if not exists analytics.customer_forecast_shares (
        forecast_origin date not null, segment_id varchar not null, sku varchar not null,
        customer_id varchar not null, share double not null, basis varchar not null)""",
    """create table if not exists analytics.forecast_members (
        forecast_origin date not null, customer_id varchar not null, segment_id varchar not null)""",
    """create table if not exists analytics.model_choices (
        selection_origin date not null, segment_id varchar not null, sku varchar not null,
        model varchar not null, params_json varchar, scores_json varchar, demand_class varchar,
        fallback_reason varchar)""",
    """create table if not exists analytics.forecast_runs (
        as_of_date date not null, forecast_origin date not null)""",
    """create table if not exists analytics.accuracy_reviews (
        review_date date not null, level varchar not null, key varchar not null, horizon integer not null,
        window_weeks integer not null, n_periods integer not null, actual_qty double, forecast_qty double,
        wape double, mase double, bias double, tracking_signal double, out_of_control boolean)""",
    """create or replace view analytics.demand_forecasts as
        select r.as_of_date, 'segment' as level, f.segment_id, null::varchar as customer_id, f.sku,
               f.forecast_origin, f.period_start, f.horizon, f.forecast_qty, f.lower_qty, f.upper_qty, f.model
        from analytics.forecast_runs r join analytics.segment_forecasts f using (forecast_origin)
        union all
        select r.as_of_date, 'customer' as level, f.segment_id, s.customer_id, f.sku,
               f.forecast_origin, f.period_start, f.horizon, f.forecast_qty * s.share, f.lower_qty * s.share,
               f.upper_qty * s.share, f.model
        from analytics.forecast_runs r
        join analytics.segment_forecasts f using (forecast_origin)
        join analytics.customer_forecast_shares s using (forecast_origin, segment_id, sku)""",
    """create or replace view analytics.forecast_accuracy as
        select r.as_of_date, a.* exclude (review_date), a.review_date
        from analytics.forecast_runs r join analytics.accuracy_reviews a on a.review_date = r.forecast_origin""",
]

FORECAST_COLUMNS = [
    "forecast_origin", "segment_id", "sku", "period_start", "horizon", "forecast_qty", "lower_qty",
    "upper_qty", "model", "method", "fallback_reason", "naive_mae",
]


@dataclass
class OriginResult:
    origin: date
    status: str  # computed / reused / no_segments
    series: int = 0
    selected: int = 0
    fallbacks: int = 0  # series on a rule (new/short, failed fit) instead of a fitted model
    failed_fits: int = 0  # of which a model failed to fit
    forecast_rows: int = 0
    share_rows: int = 0
    unallocated_series: int = 0
    seconds: float = 0.0


def ensure_tables(con) -> None:
    con.execute("create schema if not exists analytics")
    for ddl in DDL:
        con.execute(ddl)


def panel_settings(config: dict) -> PanelSettings:
    fc = config["forecasting"]
    return PanelSettings(
        horizon_weeks=int(fc["horizon_weeks"]),
        cutoff_weekday=int(fc["cutoff_weekday"]),
        interval_level=float(fc["interval_level"]),
        season_weeks=int(fc["season_weeks"]),
        min_history_weeks=int(fc["min_history_weeks"]),
        selection_every_weeks=int(fc["selection_every_weeks"]),
        default_model=fc.get("default_model") or "",
        switch_margin=float(fc["switch_margin"]),
        ses_alpha=float(fc["ses_alpha"]),
        class_metrics=dict(fc["backtest_metric"]),
        class_origins={k: int(v) for k, v in fc["backtest_origins"].items()},
        workers=int(fc["workers"]),
    )


def run_forecasts(
    con,
    days: Iterable[date],
    config: dict,
    pool: Executor | None = None,
    progress: Callable[[OriginResult], None] | None = None,
) -> list[OriginResult]:
    """Forecasts for every day of ``days`` (a run's partition range).

    Each origin that is itself one of ``days`` is computed (its run is the one that
    owns it); an earlier origin is computed only when it has no forecasts yet, else
    its rows are reused. ``forecast_runs`` maps every day to its origin.
    """
    settings = panel_settings(config)
    days = sorted(days)
    in_run = set(days)
    results = []
    for origin in sorted({forecast_origin(d, settings.cutoff_weekday) for d in days}):
        exists = con.execute("select count(*) from analytics.segment_forecasts where forecast_origin = ?", [origin]).fetchone()[0]
        if origin in in_run or not exists:
            result = compute_origin(con, origin, config, settings, pool)
        else:
            result = OriginResult(origin, "reused", forecast_rows=exists)
        mapped = [d for d in days if forecast_origin(d, settings.cutoff_weekday) == origin]
        if result.status != "no_segments":
            runs = pd.DataFrame({"as_of_date": mapped, "forecast_origin": origin})
            con.execute("begin transaction")
            con.execute("delete from analytics.forecast_runs where as_of_date between ? and ?", [mapped[0], mapped[-1]])
            con.register("_runs", runs)
            con.execute("insert into analytics.forecast_runs select as_of_date, forecast_origin from _runs")
            con.unregister("_runs")
            con.execute("commit")
        results.append(result)
        if progress:
            progress(result)
    return results


def compute_origin(con, origin: date, config: dict, settings: PanelSettings, pool: Executor | None) -> OriginResult:
    """Forecast every segment × SKU series at ``origin`` and store rows and shares."""
    started = time.monotonic()
    members = _members(con, origin, config)
    if members is None:
        log.warning("no customers in the marts on %s (before the first partition?): no forecast for this origin", origin)
        return OriginResult(origin, "no_segments")
    trading = _trading(members)
    tasks = _series(con, origin, trading, config)
    selection_origin = selection_origin_for(origin, settings)
    choices = None
    if origin != selection_origin:
        stored = con.execute(
            "select segment_id, sku, model, params_json, fallback_reason from analytics.model_choices where selection_origin = ?",
            [selection_origin],
        ).df()
        if stored.empty:
            stored = _select_at(con, selection_origin, config, settings, pool)
        # No data on the selection origin (before the first partition): no choices,
        # every series on its class default until the next selection origin.
        choices = {} if stored is None else choices_from_frame(stored)
    forecasts, selected = forecast_panel(tasks, origin, settings, choices, pool)
    scale = {task["key"]: _naive_mae(task["y"]) for task in tasks}
    rows = _forecast_rows(forecasts, origin, scale)
    shares, unallocated = _shares_at(con, origin, rows, members, config)
    # One transaction for the origin's forecasts, population, shares and choices: a
    # failure leaves the previous set of the origin whole.
    con.execute("begin transaction")
    try:
        replace_rows(con, "analytics.segment_forecasts", "forecast_origin", origin, rows, FORECAST_COLUMNS)
        replace_rows(con, "analytics.forecast_members", "forecast_origin", origin,
                     trading.assign(forecast_origin=origin), ["forecast_origin", "customer_id", "segment_id"])
        replace_rows(con, "analytics.customer_forecast_shares", "forecast_origin", origin, shares,
                     ["forecast_origin", "segment_id", "sku", "customer_id", "share", "basis"])
        if is_selection_origin(origin, settings.selection_every_weeks):
            _store_choices(con, origin, selected)
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    first = rows[rows["horizon"] == 1]
    return OriginResult(
        origin, "computed", series=len(tasks), selected=len(selected),
        fallbacks=int(first["fallback_reason"].notna().sum()),
        failed_fits=int(first["fallback_reason"].fillna("").str.contains("failed").sum()),
        forecast_rows=len(rows), share_rows=len(shares), unallocated_series=unallocated,
        seconds=round(time.monotonic() - started, 2),
    )


def _members(con, day: date, config: dict) -> pd.DataFrame | None:
    """Customer → segment and lifecycle state on ``day``: the stored customer_segments
    rows, or computed from the marts when that day's segments were never
    materialized (e.g. a selection origin before a backfill's first day); None when
    the marts hold nothing for the day (before the first partition)."""
    stored = con.execute(
        "select customer_id, segment_id, lifecycle_state from analytics.customer_segments where as_of_date = ?", [day]
    ).df()
    if len(stored):
        return stored
    if not con.execute("select count(*) from marts.customers where as_of_date = ?", [day]).fetchone()[0]:
        return None
    from restock.config import segmentation_settings
    from restock.segmentation.daily import customer_segments_for_day

    return customer_segments_for_day(con, day, **segmentation_settings(config))[["customer_id", "segment_id", "lifecycle_state"]]


def _trading(members: pd.DataFrame) -> pd.DataFrame:
    """The customers a segment forecast is for: those still trading on the origin.
    Churned and closed customers' past demand is left out of the segment's history:
    it will not recur (they get no share either), and keeping it biased the
    forecasts upwards (+8% over Sep–Dec 2025 on the demo, tracking signal ≈ 11)."""
    return members[members["lifecycle_state"].isin(ELIGIBLE_ESTABLISHED + ELIGIBLE_NEW)]


def _series(con, origin: date, members: pd.DataFrame, config: dict) -> list[dict]:
    quantity = config["forecasting"]["quantity"]
    con.register("_members", members)
    try:
        history = con.execute(
            f"""select s.segment_id, w.sku, w.week_start, sum(w.{quantity})::double as qty
                from marts.customer_sku_weekly_demand w join _members s using (customer_id)
                where w.week_start <= ? group by all""",
            [last_complete_week_start(origin)],
        ).df()
    finally:
        con.unregister("_members")
    return build_series(history, origin)


def _select_at(con, selection_origin: date, config: dict, settings: PanelSettings, pool: Executor | None) -> pd.DataFrame | None:
    """Choices of a selection origin that was never run (e.g. a backfill starting
    after it): made now from the data of that origin, and stored."""
    members = _members(con, selection_origin, config)
    if members is None:
        return None
    tasks = _series(con, selection_origin, _trading(members), config)
    _, selected = forecast_panel(tasks, selection_origin, settings, None, pool)
    replace_day(con, "analytics.model_choices", "selection_origin", selection_origin,
                _choices_frame(selected).assign(selection_origin=selection_origin), CHOICE_COLUMNS)
    return _choices_frame(selected)


def _choices_frame(selected: pd.DataFrame) -> pd.DataFrame:
    frame = selected.copy()
    frame["segment_id"] = [key[0] for key in frame["key"]]
    frame["sku"] = [key[1] for key in frame["key"]]
    return frame.drop(columns=["key"])


CHOICE_COLUMNS = ["selection_origin", "segment_id", "sku", "model", "params_json", "scores_json", "demand_class", "fallback_reason"]


def _store_choices(con, origin: date, selected: pd.DataFrame) -> None:
    """Replace the origin's choices (inside the caller's transaction)."""
    replace_rows(con, "analytics.model_choices", "selection_origin", origin,
                 _choices_frame(selected).assign(selection_origin=origin), CHOICE_COLUMNS)


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
    return rows[FORECAST_COLUMNS]


def _shares_at(con, origin: date, rows: pd.DataFrame, customers: pd.DataFrame, config: dict) -> tuple[pd.DataFrame, int]:
    weeks = int(config["forecasting"]["share_window_weeks"])
    quantity = config["forecasting"]["quantity"]
    last = last_complete_week_start(origin)
    recent = con.execute(
        f"""select customer_id, sku, sum({quantity})::double as qty from marts.customer_sku_weekly_demand
            where week_start between ? and ? group by all""",
        [last - timedelta(weeks=weeks - 1), last],
    ).df()
    series = rows.loc[(rows["horizon"] == 1), ["segment_id", "sku"]]
    shares = customer_shares(recent, customers, series)
    shares.insert(0, "forecast_origin", origin)
    covered = shares[["segment_id", "sku"]].drop_duplicates()
    unallocated = len(series.drop_duplicates()) - len(covered)
    return shares, unallocated


# --------------------------------------------------------------------------- accuracy


def run_accuracy(con, days: Iterable[date], config: dict) -> list[tuple[date, int]]:
    """The accuracy review of each origin of ``days`` (computed when the origin is in
    ``days`` or has no review yet). Returns (review_date, rows) per computed review."""
    settings = panel_settings(config)
    days = sorted(days)
    in_run = set(days)
    done = []
    for origin in sorted({forecast_origin(d, settings.cutoff_weekday) for d in days}):
        exists = con.execute("select count(*) from analytics.accuracy_reviews where review_date = ?", [origin]).fetchone()[0]
        if origin in in_run or not exists:
            frame = accuracy_review(
                con, origin, int(config["accuracy"]["window_weeks"]), float(config["accuracy"]["tracking_signal_limit"]),
                quantity=config["forecasting"]["quantity"],
            )
            replace_day(con, "analytics.accuracy_reviews", "review_date", origin, frame, list(frame.columns))
            done.append((origin, len(frame)))
    return done


def accuracy_review(con, review_date: date, window_weeks: int, limit: float, quantity: str = "requested_qty") -> pd.DataFrame:
    """Past forecasts against what happened, for the ``window_weeks`` weeks complete on
    ``review_date``: one row per level (total / segment / sku) × key × horizon, plus
    level ``series`` (segment|sku) at horizon 1.

    The actual of a segment × SKU × week is the demand of the customers that were in
    the segment on the forecast's origin (the population the forecast was made for).
    error = forecast − actual (positive: over-forecast). wape = Σ|e| / Σ actual;
    bias = Σe / Σ actual; mase = mean of |e| / in-sample naive MAE of the series
    (points without a scale skipped); tracking_signal = Σ E_t / mean |E_t| over the
    weeks, E_t the level's summed error of week t; out_of_control = |TS| > ``limit``.
    """
    last = last_complete_week_start(review_date)
    first = last - timedelta(weeks=window_weeks - 1)
    if quantity not in ("requested_qty", "ordered_qty"):
        raise ValueError(f"quantity must be requested_qty or ordered_qty, got {quantity!r}")
    points = con.execute(
        f"""
        with fc as (
            select * from analytics.segment_forecasts
            where period_start between ? and ? and forecast_origin <= ?
        ),
        members as (
            select forecast_origin, customer_id, segment_id from analytics.forecast_members
            where forecast_origin in (select distinct forecast_origin from fc)
        ),
        actual as (
            select m.forecast_origin, m.segment_id, w.sku, w.week_start, sum(w.{quantity})::double as qty
            from marts.customer_sku_weekly_demand w join members m using (customer_id)
            where w.week_start between ? and ?
            group by all
        )
        select fc.segment_id, fc.sku, fc.horizon, fc.period_start, fc.forecast_qty, fc.naive_mae,
               coalesce(a.qty, 0) as actual_qty
        from fc left join actual a
          on a.forecast_origin = fc.forecast_origin and a.segment_id = fc.segment_id
         and a.sku = fc.sku and a.week_start = fc.period_start
        """,
        [first, last, review_date, first, last],
    ).df()
    columns = ["review_date", "level", "key", "horizon", "window_weeks", "n_periods", "actual_qty", "forecast_qty",
               "wape", "mase", "bias", "tracking_signal", "out_of_control"]
    if points.empty:
        return pd.DataFrame(columns=columns)
    points["error"] = points["forecast_qty"] - points["actual_qty"]
    points["abs_error"] = points["error"].abs()
    with np.errstate(divide="ignore", invalid="ignore"):
        points["scaled"] = np.where(points["naive_mae"] > 0, points["abs_error"] / points["naive_mae"], np.nan)
    points["total"] = "all"
    points["series"] = points["segment_id"] + "|" + points["sku"]
    frames = []
    for level, key_column in (("total", "total"), ("segment", "segment_id"), ("sku", "sku"), ("series", "series")):
        subset = points if level != "series" else points[points["horizon"] == 1]
        frames.append(_summarise(subset, key_column, level))
    out = pd.concat(frames, ignore_index=True)
    out["review_date"] = review_date
    out["window_weeks"] = window_weeks
    out["out_of_control"] = out["tracking_signal"].abs() > limit
    return out[columns]


def _summarise(points: pd.DataFrame, key_column: str, level: str) -> pd.DataFrame:
    group = [key_column, "horizon"]
    sums = points.groupby(group).agg(
        n_periods=("period_start", "nunique"),
        actual_qty=("actual_qty", "sum"),
        forecast_qty=("forecast_qty", "sum"),
        abs_error=("abs_error", "sum"),
        error=("error", "sum"),
        mase=("scaled", "mean"),
    )
    weekly = points.groupby([*group, "period_start"])["error"].sum().abs().groupby(level=[0, 1]).mean()
    sums["tracking_signal"] = sums["error"] / weekly.replace(0.0, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        sums["wape"] = np.where(sums["actual_qty"] > 0, sums["abs_error"] / sums["actual_qty"], np.nan)
        sums["bias"] = np.where(sums["actual_qty"] > 0, sums["error"] / sums["actual_qty"], np.nan)
    sums = sums.reset_index().rename(columns={key_column: "key"})
    sums["level"] = level
    return sums[["level", "key", "horizon", "n_periods", "actual_qty", "forecast_qty", "wape", "mase", "bias", "tracking_signal"]]


def describe(results: list[OriginResult]) -> str:
    computed = [r for r in results if r.status == "computed"]
    return (
        f"{len(results)} origins: {len(computed)} computed, "
        f"{sum(r.status == 'reused' for r in results)} reused, {sum(r.status == 'no_segments' for r in results)} without segments; "
        f"{sum(r.series for r in computed)} series fitted, {sum(r.fallbacks for r in computed)} on a fallback rule "
        f"({sum(r.failed_fits for r in computed)} after a failed fit), "
        f"{sum(r.seconds for r in computed):.1f} s"
    )
