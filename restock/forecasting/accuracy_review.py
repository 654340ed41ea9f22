"""The accuracy review (复盘) of each forecast origin: past forecasts against what
then happened (I/O: reads the forecast tables and the weekly demand mart, writes
``analytics.accuracy_reviews``)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from restock import table_registry
from restock.calendar import last_complete_week_start
from restock.config import RestockConfig
from restock.forecasting import metrics
from restock.forecasting.panel import forecast_origin
from restock.warehouse import replace_day


def run_accuracy(con: DuckDBPyConnection, days: Iterable[date], config: RestockConfig) -> list[tuple[date, int]]:
    """The accuracy review of each origin of ``days`` (computed when the origin is in
    ``days`` or has no review yet). Returns (review_date, rows) per computed review."""
    settings = config.forecasting
    days = sorted(days)
    in_run = set(days)
    done = []
    for origin in sorted({forecast_origin(d, settings.cutoff_weekday) for d in days}):
        exists = con.execute(
            "select count(*) from analytics.accuracy_reviews where review_date = ?", [origin]
        ).fetchall()
        if origin in in_run or not exists[0][0]:
            frame = accuracy_review(
                con,
                origin,
                config.accuracy.window_weeks,
                config.accuracy.tracking_signal_limit,
                quantity=config.forecasting.quantity,
            )
            replace_day(con, "analytics.accuracy_reviews", "review_date", origin, frame, list(frame.columns))
            done.append((origin, len(frame)))
    return done


def accuracy_review(
    con: DuckDBPyConnection, review_date: date, window_weeks: int, limit: float, quantity: str = "requested_qty"
) -> pd.DataFrame:
    """Past forecasts against what happened, for the ``window_weeks`` weeks complete on
    ``review_date``: one row per level (total / segment / sku) × key × horizon, plus
    level ``series`` (segment|sku) at horizon 1.

    The actual of a segment × SKU × week is the demand of the customers that were in
    the segment on the forecast's origin (the population the forecast was made for).
    error = forecast − actual (positive: over-forecast). wape = Σ|e| / Σ actual;
    bias = Σe / Σ actual; mase = mean of |e| / in-sample naive MAE of the series
    (points without a scale skipped); tracking_signal = Σ E_t / mean |E_t| over the
    weeks, E_t the level's summed error of week t (0 when every E_t is 0: no bias);
    out_of_control = |TS| > ``limit``. The formulas are :mod:`restock.forecasting.metrics`.
    The points are read in the order of their key, so every float sum adds its terms in
    the same order on every run (a re-run reproduces the last digit).
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
        order by fc.segment_id, fc.sku, fc.horizon, fc.period_start, fc.forecast_origin
        """,
        [first, last, review_date, first, last],
    ).df()
    columns = table_registry.columns("accuracy_reviews")
    if points.empty:
        return pd.DataFrame(columns=columns)
    points["error"] = points["forecast_qty"] - points["actual_qty"]
    with np.errstate(divide="ignore", invalid="ignore"):
        points["scaled"] = np.where(points["naive_mae"] > 0, points["error"].abs() / points["naive_mae"], np.nan)
    points["total"] = "all"
    points["series"] = points["segment_id"] + "|" + points["sku"]
    frames = []
    for level, key_column in (("total", "total"), ("segment", "segment_id"), ("sku", "sku"), ("series", "series")):
        subset = points if level != "series" else points[points["horizon"] == 1]
        frames.append(_summarise(subset, key_column, level, limit))
    out = pd.concat(frames, ignore_index=True)
    out["review_date"] = review_date
    out["window_weeks"] = window_weeks
    return out[columns]


def _summarise(points: pd.DataFrame, key_column: str, level: str, limit: float) -> pd.DataFrame:
    """One row per key × horizon; WAPE, bias, tracking signal and the out-of-control
    flag from :mod:`restock.forecasting.metrics` (the one definition of each)."""
    group = [key_column, "horizon"]
    sums = points.groupby(group).agg(
        n_periods=("period_start", "nunique"),
        actual_qty=("actual_qty", "sum"),
        forecast_qty=("forecast_qty", "sum"),
        mase=("scaled", "mean"),
    )
    # Points and weekly errors sorted the same way, so each group is one slice of each.
    ordered = points.sort_values([*group, "period_start"], kind="stable")
    weekly = ordered.groupby([*group, "period_start"], sort=True)["error"].sum()
    point_bounds = _bounds(ordered.groupby(group, sort=True).size().to_numpy())
    week_bounds = _bounds(weekly.groupby(level=[0, 1], sort=True).size().to_numpy())
    actual, forecast, errors = ordered["actual_qty"].to_numpy(), ordered["forecast_qty"].to_numpy(), weekly.to_numpy()
    wape, bias, signal = [], [], []
    for (a, b), (c, d) in zip(point_bounds, week_bounds, strict=True):
        wape.append(metrics.wape(actual[a:b], forecast[a:b]))
        bias.append(metrics.relative_bias(actual[a:b], forecast[a:b]))
        signal.append(metrics.tracking_signal(errors[c:d]))
    sums["wape"], sums["bias"], sums["tracking_signal"] = wape, bias, signal
    sums["out_of_control"] = metrics.is_out_of_control(sums["tracking_signal"].to_numpy(), limit)
    sums = sums.reset_index().rename(columns={key_column: "key"})
    sums["level"] = level
    return sums[
        [
            "level",
            "key",
            "horizon",
            "n_periods",
            "actual_qty",
            "forecast_qty",
            "wape",
            "mase",
            "bias",
            "tracking_signal",
            "out_of_control",
        ]
    ]


def _bounds(sizes: np.ndarray) -> list[tuple[int, int]]:
    ends = np.cumsum(sizes)
    return list(zip((ends - sizes).tolist(), ends.tolist(), strict=True))


def accuracy_summary(con: DuckDBPyConnection, day: date) -> tuple[list[tuple[int, float, float, int]], int]:
    """(total level per horizon: horizon, WAPE, bias, weeks; series out of control) on ``day``."""
    totals = con.execute(
        """select horizon, round(wape, 4), round(bias, 4), n_periods from analytics.forecast_accuracy
           where as_of_date = ? and level = 'total' order by horizon""",
        [day],
    ).fetchall()
    flagged = con.execute(
        """select count(*) from analytics.forecast_accuracy
           where as_of_date = ? and level = 'series' and out_of_control""",
        [day],
    ).fetchone()
    return totals, flagged[0] if flagged else 0
