"""Series whose forecasts drifted out of control are selected again at the next origin.

The accuracy review flags a segment × SKU series when the tracking signal of its
horizon-1 forecasts over the last ``accuracy.window_weeks`` complete weeks exceeds
``accuracy.tracking_signal_limit`` in absolute value (a persistent bias). Without this
rule the biased model stayed until the next origin of the selection grid, up to 26
weeks later. With it (``forecasting.reselect_out_of_control``), each refit origin runs
the backtest again for those series — the same selection as on the grid — and stores
the new choice under that origin in ``model_choices``; the refits up to the next grid
origin use it.

Why the signal is computed here from the stored forecasts instead of read from
``accuracy_reviews``: a backfill computes every origin's forecasts before any review
(the review is a later asset), so reading the reviews would make the forecasts depend
on how the days were batched into runs. Only forecasts of earlier origins for weeks
complete on the origin are used (point in time).

The SKU and total series of the levels (:mod:`restock.forecasting.levels`) are judged
the same way, on their own model's forecast (before reconciliation).

A series (re)selected within the window is not selected again: its signal still holds
the errors of the model it replaced, and a new backtest would see the same data.

Threshold. The review's limit (4) flags honest forecasts often over a 13-week window:
with independent unbiased errors the signal Σe / mean|e| over n weeks has a standard
deviation of about 1.25 √n, so |TS| > 4 happens for ~39 % of unbiased series at n = 13
(simulated; 21 % at n = 6, 54 % at n = 26). On the demo that re-selected 1,261 of 3,435
series on one origin (200 s instead of 30 s) and 100-250 on every origin after it. So a
series is selected again only when its signal is beyond :data:`NOISE_Z` standard
deviations of that noise as well as beyond the limit: |TS| > max(limit, 2.6 · 1.25 √n)
(11.7 at n = 13: about 1 % of unbiased series; a level shift that every week of the
window under-forecasts has |TS| = n = 13).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from restock.calendar import FIRST_FORECAST_WEEK_SQL, last_complete_week_start
from restock.forecasting.levels import ALL

# The population demand (sums of the marts' quantities, 3 decimals) back as exact
# decimals, to be summed again in any order.
EXACT_QTY = "decimal(38, 9)"
NOISE_Z = 2.6  # standard deviations of the signal of unbiased errors (≈ 1 % two-sided)
NOISE_SD_PER_ROOT_WEEK = 1.25  # sd of Σe / mean|e| per √week for independent errors (√(π/2))


def population_demand(origins: str, quantity: str, actual_table: str | None = None) -> str:
    """SQL CTEs ``members`` and ``actual``: the demand (``quantity``) of the weeks
    ``$first`` .. ``$last`` per segment × SKU of the customers that were each segment's
    population on each origin of the query ``origins`` — what a forecast made on that
    origin is judged against, as in the accuracy review. ``actual_table``: read
    ``actual`` from that table (:func:`build_population_actual`, which must cover
    those origins and weeks) instead of joining members and demand again."""
    if quantity not in ("requested_qty", "ordered_qty"):
        raise ValueError(f"quantity must be requested_qty or ordered_qty, got {quantity!r}")
    members = f"""members as (
            select forecast_origin, customer_id, segment_id from analytics.forecast_members
            where forecast_origin in ({origins})
        )"""
    if actual_table is not None:
        return f"""{members},
        actual as (
            select forecast_origin, segment_id, sku, week_start, qty from {actual_table}
            where forecast_origin in ({origins}) and week_start between $first and $last
        )"""
    return f"""{members},
        actual as (
            select m.forecast_origin, m.segment_id, w.sku, w.week_start, sum(w.{quantity})::double as qty
            from marts.customer_sku_weekly_demand w join members m using (customer_id)
            where w.week_start between $first and $last
            group by all
        )"""


POPULATION_ACTUAL = "_origin_population_actual"


def build_population_actual(
    con: DuckDBPyConnection, first_origin: date, origin: date, first_week: date, last_week: date, quantity: str
) -> str:
    """Temp table :data:`POPULATION_ACTUAL`: ``population_demand``'s ``actual`` rows of
    every origin in [``first_origin``, ``origin``) and every week in [``first_week``,
    ``last_week``] after it — built once per forecast origin for the calibration, the
    reselection signals and the reconciliation backtest, which each joined the same
    members and demand (same groups, same sums: the same values). Returns its name."""
    con.execute(
        f"create or replace temp table {POPULATION_ACTUAL} as {_population_actual_query(quantity)}",
        [first_origin, origin, first_week, last_week],
    )
    return POPULATION_ACTUAL


class RunPopulationActual:
    """:func:`build_population_actual` for a run of origins in ascending order, kept
    between them: consecutive origins need the same past origins and weeks but one, so
    each origin joins only the origins and weeks the run has not joined yet (one
    origin × its weeks and one week × the origins, instead of ~20 × 20) and selects
    its own from what the run has (a temp view :data:`POPULATION_ACTUAL`).

    The same rows as a build of its own: a row sums the demand of week W of the
    customers of one segment on origin M, and neither changes during the run (an
    origin's members are written when it is computed, before any later origin asks
    for it; origins not in order rebuild). :meth:`close` drops the run's table."""

    TABLE = "_run_population_actual"

    def __init__(self, quantity: str) -> None:
        self.quantity = quantity
        self.origins: tuple[date, date] | None = None  # [first, last) origin joined
        self.weeks: tuple[date, date] | None = None  # [first, last] week joined

    def table_for(
        self, con: DuckDBPyConnection, first_origin: date, origin: date, first_week: date, last_week: date
    ) -> str:
        """The view of the run's rows for :func:`build_population_actual`'s arguments."""
        joined, weeks = self.origins, self.weeks
        self.origins = self.weeks = None  # until the rows are complete: a failure rebuilds
        if joined is None or weeks is None or first_origin < joined[0] or first_week < weeks[0] or origin < joined[1]:
            con.execute(
                f"create or replace temp table {self.TABLE} as {_population_actual_query(self.quantity)}",
                [first_origin, origin, first_week, last_week],
            )
            weeks_joined = last_week
        else:
            weeks_joined = max(weeks[1], last_week)
            if origin > joined[1]:  # origins new to the run, every week it keeps
                self._add(con, max(joined[1], first_origin), origin, first_week, weeks_joined)
            if last_week > weeks[1]:  # weeks new to the run, for the origins it had
                self._add(con, max(joined[0], first_origin), joined[1], weeks[1] + timedelta(days=1), last_week)
            con.execute(  # no longer needed by a later origin
                f"delete from {self.TABLE} where forecast_origin < ? or week_start < ?", [first_origin, first_week]
            )
        self.origins, self.weeks = (first_origin, origin), (first_week, weeks_joined)
        # (a view takes no parameters: the dates as literals)
        con.execute(
            f"""create or replace temp view {POPULATION_ACTUAL} as select * from {self.TABLE}
                where forecast_origin >= date '{first_origin.isoformat()}' and forecast_origin < date '{origin.isoformat()}'
                  and week_start between date '{first_week.isoformat()}' and date '{last_week.isoformat()}'"""
        )
        return POPULATION_ACTUAL

    def _add(
        self, con: DuckDBPyConnection, first_origin: date, origin: date, first_week: date, last_week: date
    ) -> None:
        con.execute(
            f"insert into {self.TABLE} {_population_actual_query(self.quantity)}",
            [first_origin, origin, first_week, last_week],
        )

    def release(self, con: DuckDBPyConnection) -> None:
        """Drop the origin's view (the run's rows stay for the next origin)."""
        con.execute(f"drop view if exists {POPULATION_ACTUAL}")

    def close(self, con: DuckDBPyConnection) -> None:
        self.release(con)
        con.execute(f"drop table if exists {self.TABLE}")
        self.origins = self.weeks = None


def _population_actual_query(quantity: str) -> str:
    """population_demand's actual rows of the origins in [$1, $2) and the weeks in [$3, $4]
    each forecast (from its horizon 1: on a cut-off other than Sunday that week starts on
    or before the origin)."""
    if quantity not in ("requested_qty", "ordered_qty"):
        raise ValueError(f"quantity must be requested_qty or ordered_qty, got {quantity!r}")
    return f"""select m.forecast_origin, m.segment_id, w.sku, w.week_start, sum(w.{quantity})::double as qty
            from marts.customer_sku_weekly_demand w
            join analytics.forecast_members m using (customer_id)
            where m.forecast_origin >= ? and m.forecast_origin < ?
              and w.week_start between ? and ? and w.week_start >= {FIRST_FORECAST_WEEK_SQL.format(origin="m.forecast_origin")}
            group by all"""


def series_tracking_signals(
    con: DuckDBPyConnection,
    origin: date,
    window_weeks: int,
    quantity: str = "requested_qty",
    actual_table: str | None = None,
) -> pd.DataFrame:
    """Tracking signal of every series' horizon-1 forecasts over the ``window_weeks``
    weeks complete on ``origin``, made on earlier origins: segment × SKU (their
    forecasts as published), and the SKU and total series of the levels (segment_id
    ``*``; sku ``*`` for the total) on their own model's forecast (``base_qty``), since
    that is what their model choice makes.

    Actual = demand of the customers that were the series' population on the
    forecast's origin (``forecast_members``), as in the accuracy review. Returns
    segment_id, sku, n_periods, tracking_signal (0 when every error is 0), sorted by
    key; errors are summed in week order so a re-run reproduces the last digit.
    """
    last = last_complete_week_start(origin)
    first = last - timedelta(weeks=window_weeks - 1)
    points = con.execute(
        f"""
        with fc as (
            select forecast_origin, segment_id, sku, period_start, forecast_qty
            from analytics.segment_forecasts
            where horizon = 1 and period_start between $first and $last and forecast_origin < $origin
        ),
        -- the SKU and total series (levels.py), judged on their own model's forecast
        agg as (
            select forecast_origin, '{ALL}' as segment_id, case when level = 'total' then '{ALL}' else key end as sku,
                   period_start, coalesce(base_qty, forecast_qty) as forecast_qty
            from analytics.level_forecasts
            where level in ('sku', 'total') and horizon = 1 and period_start between $first and $last
              and forecast_origin < $origin
        ),
        {population_demand("select forecast_origin from fc union select forecast_origin from agg", quantity, actual_table)},
        -- summed as decimals: the same last digit whatever order the rows come in
        sku_actual as (
            select forecast_origin, '{ALL}' as segment_id, sku, week_start, sum(qty::{EXACT_QTY})::double as qty
            from actual group by all
        ),
        total_actual as (
            select forecast_origin, '{ALL}' as segment_id, '{ALL}' as sku, week_start,
                   sum(qty::{EXACT_QTY})::double as qty
            from actual group by all
        ),
        every_actual as (
            select * from actual union all select * from sku_actual union all select * from total_actual
        )
        select f.segment_id, f.sku, f.period_start, f.forecast_qty - coalesce(a.qty, 0) as error
        from (select * from fc union all select * from agg) f left join every_actual a
          on a.forecast_origin = f.forecast_origin and a.segment_id = f.segment_id
         and a.sku = f.sku and a.week_start = f.period_start
        order by f.segment_id, f.sku, f.period_start
        """,
        {"first": first, "last": last, "origin": origin},
    ).df()
    if points.empty:
        return pd.DataFrame(columns=["segment_id", "sku", "n_periods", "tracking_signal"])
    points["abs_error"] = points["error"].abs()
    grouped = points.groupby(["segment_id", "sku"], sort=True)
    out = grouped.agg(n_periods=("error", "size"), total=("error", "sum"), mad=("abs_error", "mean")).reset_index()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["tracking_signal"] = np.where(out["mad"] > 0, out["total"] / out["mad"], 0.0)
    return out[["segment_id", "sku", "n_periods", "tracking_signal"]]


def series_to_reselect(
    signals: pd.DataFrame,
    last_selected: dict[tuple[str, str], date],
    origin: date,
    window_weeks: int,
    limit: float,
) -> set[tuple[str, str]]:
    """Keys (segment_id, sku) with |tracking signal| > max(``limit``, the noise bound of
    the module docstring) whose latest
    selection (``last_selected``: grid or an earlier reselection; none = never
    selected) was made before the window's first week, so every forecast of the window
    comes from that choice: the signal judges it, not the model it replaced."""
    if not limit > 0:
        raise ValueError(f"limit must be positive, got {limit!r}")
    window_start = last_complete_week_start(origin) - timedelta(weeks=window_weeks - 1)
    noise = NOISE_Z * NOISE_SD_PER_ROOT_WEEK * np.sqrt(signals["n_periods"].astype(float))
    flagged = signals[np.abs(signals["tracking_signal"].astype(float)) > np.maximum(limit, noise)]
    keys = set()
    for segment_id, sku in zip(flagged["segment_id"], flagged["sku"], strict=True):
        selected = last_selected.get((segment_id, sku))
        if selected is None or selected < window_start:
            keys.add((segment_id, sku))
    return keys
