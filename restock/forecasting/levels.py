"""Coherent forecast levels: the total and per-SKU series are forecast too, and every
level is reconciled with the segment × SKU forecasts (issue 11, item 4).

On each origin the panel fits, besides the segment × SKU series (the bottom), one
series per SKU (every segment's demand for it) and the total — keyed ``("*", sku)``
and ``("*", "*")``, :data:`ALL` standing for "every segment / every SKU", so their
model choices live in ``model_choices`` beside the bottom's. The base forecasts of
the three levels are then reconciled (:mod:`restock.forecasting.reconciliation`):
the reconciled segment × SKU forecasts are what ``segment_forecasts`` stores and the
customer shares split, so every published level adds up (customer → segment → SKU →
total; customer → warehouse × SKU → SKU). The base forecasts are kept beside them.

The method is ``forecasting.reconciliation`` in restock.yaml; ``auto`` chooses on each
origin by backtest over the origins of the last ``reconciliation_window_weeks`` weeks:
their stored base forecasts, reconciled by every method, against the demand of the
weeks complete on the origin (point in time; the choice reads stored tables only, so
it is the same whichever run computes the origin). Bottom-up, the simplest, stays
unless another method scores :data:`CHANGE_MARGIN` lower.

Inputs of the methods, per series: the error variance for MinT (WLS) is estimated
from the width of the horizon-1 interval (``(upper − lower) / (2 z)`` squared, z the
normal quantile of the interval level: every interval here is built from one-step
residual quantiles or a Gaussian model, so the width tracks the residual spread); the
top-down proportions are Gross & Sohl's average historical proportions over the last
``share_window_weeks`` weeks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from restock.calendar import FIRST_FORECAST_WEEK_SQL, last_complete_week_start
from restock.forecasting.reconciliation import (
    BOTTOM_UP,
    DEFAULT_METHODS,
    BacktestOrigin,
    Hierarchy,
    choose_method,
    coherence_error,
    hierarchy,
    historical_proportions,
    reconcile,
    shift_bounds,
)

ALL = "*"  # segment_id / sku of the aggregate series: every segment / every SKU
GROUPINGS = {"total": (), "sku": ("sku",)}
BOTTOM_LEVEL = "segment"
AUTO = "auto"
# auto: another method replaces bottom-up only when its backtest score is this much
# lower. On a test panel the four methods scored within 1-3 % of each other and the
# plain argmin flipped between bottom_up and top_down from week to week.
CHANGE_MARGIN = 0.02


@dataclass(frozen=True)
class OriginReconciliation:
    """What one origin's reconciliation did (stored in ``analytics.reconciliations``)."""

    method: str
    reason: str
    scores: dict[str, float]
    clipped: int
    coherence_error: float


def aggregate_tasks(tasks: list[dict]) -> list[dict]:
    """Panel tasks for the per-SKU series and the total, summed from the bottom tasks
    (every task ends on the same last complete week; shorter ones start later)."""
    if not tasks:
        return []
    by_sku: dict[str, list[dict]] = {}
    for task in tasks:
        by_sku.setdefault(task["key"][1], []).append(task)
    out = [_summed((ALL, sku), by_sku[sku]) for sku in sorted(by_sku)]
    out.append(_summed((ALL, ALL), tasks))
    return out


def _summed(key: tuple[str, str], group: list[dict]) -> dict:
    n = max(task["y"].size for task in group)
    y = np.zeros(n)
    for task in group:
        y[n - task["y"].size :] += task["y"]
    return {"key": key, "first_week": min(task["first_week"] for task in group), "y": y}


def is_aggregate(segment_ids: pd.Series) -> np.ndarray:
    return (segment_ids == ALL).to_numpy()


def reconcile_origin(
    con: DuckDBPyConnection,
    origin: date,
    rows: pd.DataFrame,
    tasks: list[dict],
    method: str,
    window_weeks: int,
    proportion_weeks: int,
    interval_level: float,
    quantity: str,
    actual_table: str | None = None,
    past: RunPastOrigins | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, OriginReconciliation]:
    """Reconcile an origin's forecast rows (bottom and aggregate series, the
    ``segment_forecasts`` columns). Returns the bottom rows and the aggregate rows with
    ``base_qty`` / ``base_sd`` / ``proportion`` filled and forecast and bounds
    reconciled, and what was done. ``past``: the backtest origins a run keeps between
    its origins (read from ``actual_table``)."""
    is_agg = is_aggregate(rows["segment_id"])
    bottom = rows[~is_agg].sort_values(["segment_id", "sku", "horizon"], kind="mergesort", ignore_index=True)
    agg = rows[is_agg].sort_values(["segment_id", "sku", "horizon"], kind="mergesort", ignore_index=True)
    if bottom.empty:
        return bottom.assign(base_qty=[], base_sd=[], proportion=[]), _agg_frame(agg), _nothing()
    horizons = int(bottom["horizon"].max())
    keys = bottom.loc[bottom["horizon"] == 1, ["segment_id", "sku"]].reset_index(drop=True)
    tree = hierarchy(keys, GROUPINGS, key_columns=("segment_id", "sku"), bottom_level=BOTTOM_LEVEL)
    base_bottom = _matrix(bottom, len(keys), horizons)
    agg_sorted = _in_tree_order(agg, tree, origin)
    base_agg = _matrix(agg_sorted, tree.n_agg, horizons)
    z = NormalDist().inv_cdf(0.5 + interval_level / 2)
    sd = np.concatenate([_sd(agg_sorted, tree.n_agg, horizons, z), _sd(bottom, len(keys), horizons, z)])
    proportions = historical_proportions(_recent_history(tasks, keys, proportion_weeks))

    if method == AUTO:
        if past is not None and actual_table is not None:
            records = past.records(con, origin, window_weeks, actual_table)
        else:
            records = _past_origins(con, origin, window_weeks, quantity, actual_table)
        choice = choose_method(records, DEFAULT_METHODS)
        chosen, reason, scores = choice.method, choice.reason, choice.scores
        if chosen != BOTTOM_UP and not scores[chosen] < (1 - CHANGE_MARGIN) * scores[BOTTOM_UP]:
            # Close scores are noise: keep the simplest method rather than switching weekly.
            reason = f"bottom_up kept: {chosen} scored within {CHANGE_MARGIN:.0%} of it ({reason})"
            chosen = BOTTOM_UP
    else:
        chosen, reason, scores = method, f"{method}: forecasting.reconciliation in restock.yaml", {}
    result = reconcile(tree, base_agg, base_bottom, chosen, variances=sd**2, proportions=proportions)

    bottom_out = _apply(bottom, base_bottom, result.bottom, horizons)
    bottom_out["base_sd"] = np.repeat(sd[tree.n_agg :], horizons)
    bottom_out["proportion"] = np.repeat(proportions, horizons)
    agg_out = _apply(agg_sorted, base_agg, result.agg, horizons)
    agg_out["base_sd"] = np.repeat(sd[: tree.n_agg], horizons)
    agg_out["proportion"] = None
    info = OriginReconciliation(
        chosen, reason, scores, result.clipped, coherence_error(tree, result.agg, result.bottom)
    )
    return bottom_out, _agg_frame(agg_out), info


def _in_tree_order(agg: pd.DataFrame, tree: Hierarchy, origin: date) -> pd.DataFrame:
    """The aggregate rows in the order of ``tree.aggregates`` (then horizon)."""
    frame = agg.assign(
        level=np.where(agg["sku"] == ALL, "total", "sku"), key=np.where(agg["sku"] == ALL, "all", agg["sku"])
    )
    position = {pair: i for i, pair in enumerate(zip(tree.aggregates["level"], tree.aggregates["key"], strict=True))}
    frame["_position"] = [position.get(pair, -1) for pair in zip(frame["level"], frame["key"], strict=True)]
    found = set(frame["_position"])
    missing = [pair for pair, i in position.items() if i not in found]
    if missing:
        raise ValueError(f"{origin}: no base forecast for aggregate series {missing[:5]}")
    frame = frame[frame["_position"] >= 0].sort_values(["_position", "horizon"], kind="mergesort")
    return frame.drop(columns="_position").reset_index(drop=True)


def _nothing() -> OriginReconciliation:
    return OriginReconciliation(BOTTOM_UP, "no series", {}, 0, 0.0)


def _agg_frame(agg: pd.DataFrame) -> pd.DataFrame:
    frame = agg.copy()
    if "level" not in frame:
        frame["level"] = np.where(frame["sku"] == ALL, "total", "sku")
        frame["key"] = np.where(frame["sku"] == ALL, "all", frame["sku"])
    for column in ("base_qty", "base_sd"):
        if column not in frame:
            frame[column] = pd.Series(dtype=float)
    return frame


def _matrix(frame: pd.DataFrame, n: int, horizons: int) -> np.ndarray:
    values = frame["forecast_qty"].to_numpy(dtype=float)
    if values.size != n * horizons:
        raise ValueError(f"expected {n} series × {horizons} horizons, got {values.size} rows")
    return values.reshape(n, horizons)


def _sd(frame: pd.DataFrame, n: int, horizons: int, z: float) -> np.ndarray:
    first = frame.iloc[::horizons]
    return ((first["upper_qty"].to_numpy(dtype=float) - first["lower_qty"].to_numpy(dtype=float)) / (2 * z)).reshape(n)


def _apply(frame: pd.DataFrame, base: np.ndarray, reconciled: np.ndarray, horizons: int) -> pd.DataFrame:
    out = frame.copy()
    lower, upper = shift_bounds(
        base.ravel(), out["lower_qty"].to_numpy(dtype=float), out["upper_qty"].to_numpy(dtype=float), reconciled.ravel()
    )
    out["base_qty"] = base.ravel()
    out["forecast_qty"] = reconciled.ravel()
    out["lower_qty"], out["upper_qty"] = lower, upper
    return out


def _recent_history(tasks: list[dict], keys: pd.DataFrame, weeks: int) -> np.ndarray:
    by_key = {task["key"]: task["y"] for task in tasks}
    history = np.zeros((len(keys), weeks))
    for i, key in enumerate(zip(keys["segment_id"], keys["sku"], strict=True)):
        y = by_key[key][-weeks:]
        history[i, weeks - y.size :] = y
    return history


def _past_origins(
    con: DuckDBPyConnection, origin: date, window_weeks: int, quantity: str, actual_table: str | None = None
) -> list[BacktestOrigin]:
    """Records of the origins of the last ``window_weeks`` weeks: their stored base
    forecasts of weeks complete on ``origin`` and the demand of those weeks (from
    ``actual_table`` when given: reselection.build_population_actual, covering them)."""
    last = last_complete_week_start(origin)
    first_origin = origin - timedelta(weeks=window_weeks)
    bottom = con.execute(
        """select forecast_origin, segment_id, sku, horizon, base_qty, base_sd, proportion
           from analytics.segment_forecasts
           where forecast_origin >= ? and forecast_origin < ? and period_start <= ?
           order by forecast_origin, segment_id, sku, horizon""",
        [first_origin, origin, last],
    ).df()
    if bottom.empty or bottom["base_qty"].isna().any():
        return []  # none, or made before base forecasts were stored
    agg = con.execute(
        """select forecast_origin, level, key, horizon, base_qty, base_sd
           from analytics.level_forecasts
           where forecast_origin >= ? and forecast_origin < ? and period_start <= ?
           order by forecast_origin, level, key, horizon""",
        [first_origin, origin, last],
    ).df()
    if actual_table is not None:
        actual = con.execute(
            f"""select forecast_origin, segment_id, sku, week_start, qty from {actual_table}
                where forecast_origin >= ? and forecast_origin < ? and week_start >= {_FIRST_WEEK}
                  and week_start <= ?
                order by all""",
            [first_origin, origin, last],
        ).df()
    else:
        actual = con.execute(
            f"""select m.forecast_origin, m.segment_id, w.sku, w.week_start, sum(w.{quantity})::double as qty
                from analytics.forecast_members m
                join marts.customer_sku_weekly_demand w using (customer_id)
                where m.forecast_origin >= ? and m.forecast_origin < ?
                  and w.week_start >= {FIRST_FORECAST_WEEK_SQL.format(origin="m.forecast_origin")}
                  and w.week_start <= ?
                group by all
                order by all""",  # the sums below add in this order
            [first_origin, origin, last],
        ).df()
    actual["horizon"] = _weeks_after(actual)
    records = []
    for made, rows in bottom.groupby("forecast_origin", sort=True):
        record = _record(made, rows, agg[agg["forecast_origin"] == made], actual[actual["forecast_origin"] == made])
        if record is not None:
            records.append(record)
    return records


class RunPastOrigins:
    """:func:`_past_origins` for a run of origins in ascending order, kept between them.

    Consecutive origins backtest the same past origins but one, each with one more
    complete week: a past origin's stored forecasts are read and laid out (hierarchy,
    series × horizon matrices) once, its demand one week at a time, and each origin
    takes the first horizons complete on it. The same records as :func:`_past_origins`:
    a past origin's rows do not change during the run (they are written when it is
    computed, before a later origin reads them; a changed row count reloads it), nor
    does the demand of a complete week. A past origin whose rows do not form one
    week per horizon, or whose values would not be placed cell by cell, is kept as
    rows and goes through :func:`_record` as in :func:`_past_origins`."""

    def __init__(self) -> None:
        self.kept: dict[pd.Timestamp, _KeptOrigin] = {}
        self.last: date | None = None  # the last complete week every kept origin has the demand of

    def records(
        self, con: DuckDBPyConnection, origin: date, window_weeks: int, actual_table: str
    ) -> list[BacktestOrigin]:
        last = last_complete_week_start(origin)
        first_origin = origin - timedelta(weeks=window_weeks)
        known, self.last = self.last, None  # until the records are complete: a failure reloads
        if known is None or last < known:
            self.kept = {}
        counts = con.execute(
            """select forecast_origin, sum(bottom)::bigint, sum(levels)::bigint from (
                   select forecast_origin, count(*) as bottom, 0 as levels from analytics.segment_forecasts
                   where forecast_origin >= $1 and forecast_origin < $2 group by all
                   union all
                   select forecast_origin, 0, count(*) from analytics.level_forecasts
                   where forecast_origin >= $1 and forecast_origin < $2 group by all)
               group by all order by all""",
            [first_origin, origin],
        ).fetchall()
        wanted = {pd.Timestamp(made): (bottom, levels) for made, bottom, levels in counts}
        self.kept = {made: kept for made, kept in self.kept.items() if wanted.get(made) == kept.counts}
        new = [made for made in wanted if made not in self.kept]
        self._load(con, new, wanted)
        self._add_demand(con, actual_table, first_origin, origin, last, known, new)
        self.last = last
        return self._records(last)

    def _load(self, con: DuckDBPyConnection, new: list[pd.Timestamp], counts: dict) -> None:
        if not new:
            return
        days = [made.date() for made in new]
        bottom = con.execute(
            """select forecast_origin, segment_id, sku, horizon, period_start, base_qty, base_sd, proportion
               from analytics.segment_forecasts where list_contains(?::date[], forecast_origin)
               order by forecast_origin, segment_id, sku, horizon""",
            [days],
        ).df()
        agg = con.execute(
            """select forecast_origin, level, key, horizon, period_start, base_qty, base_sd
               from analytics.level_forecasts where list_contains(?::date[], forecast_origin)
               order by forecast_origin, level, key, horizon""",
            [days],
        ).df()
        bottom_of = dict(list(bottom.groupby("forecast_origin", sort=False)))
        agg_of = dict(list(agg.groupby("forecast_origin", sort=False)))
        for made in new:
            rows = bottom_of.get(made, bottom.iloc[:0]).reset_index(drop=True)
            levels = agg_of.get(made, agg.iloc[:0]).reset_index(drop=True)
            self.kept[made] = _KeptOrigin(made, counts[made], rows, levels, _laid_out(rows, levels))

    def _add_demand(
        self,
        con: DuckDBPyConnection,
        actual_table: str,
        first_origin: date,
        origin: date,
        last: date,
        known: date | None,
        new: list[pd.Timestamp],
    ) -> None:
        """The demand rows each kept origin lacks: every week of a new one, the weeks
        after ``known`` of the others."""
        demand = con.execute(
            f"""select forecast_origin, segment_id, sku, week_start, qty from {actual_table}
                where forecast_origin >= ? and forecast_origin < ? and week_start >= {_FIRST_WEEK}
                  and week_start <= ? and (list_contains(?::date[], forecast_origin) or week_start > ?)
                order by all""",
            [first_origin, origin, last, [made.date() for made in new], known or date.min],
        ).df()
        demand["horizon"] = _weeks_after(demand)
        by_origin = dict(list(demand.groupby("forecast_origin", sort=False)))
        level_sums = _level_demand(demand, by=["forecast_origin"])  # the same sums, per origin
        level_sums_of = dict(list(level_sums.groupby("forecast_origin", sort=False)))
        for made, kept in self.kept.items():
            kept.add_demand(by_origin.get(made, demand.iloc[:0]), level_sums_of.get(made, level_sums.iloc[:0]))

    def _records(self, last: date) -> list[BacktestOrigin]:
        complete = pd.Timestamp(last)
        shown = [(kept, kept.complete_horizons(complete)) for _, kept in sorted(self.kept.items())]
        shown = [(kept, horizons) for kept, horizons in shown if horizons > 0]
        if not shown or any(kept.missing_base(horizons, complete) for kept, horizons in shown):
            return []  # none, or made before base forecasts were stored
        records = (kept.record(horizons, complete) for kept, horizons in shown)
        return [record for record in records if record is not None]


@dataclass
class _LaidOut:
    """A past origin's rows as series × horizon matrices (every stored horizon), and
    its demand placed as it arrives (NaN: no row)."""

    weeks: np.ndarray  # period_start of horizons 1..H
    keys: pd.DataFrame
    key_index: pd.Index
    tree: Hierarchy
    aggregate_index: pd.Index
    base_bottom: np.ndarray
    base_agg: np.ndarray
    variances: np.ndarray | None  # None: no horizon-1 base_sd of every aggregate
    proportions: np.ndarray
    actual_bottom: np.ndarray
    actual_agg: np.ndarray


@dataclass
class _KeptOrigin:
    made: pd.Timestamp
    counts: tuple[int, int]
    rows: pd.DataFrame
    levels: pd.DataFrame
    laid_out: _LaidOut | None
    demand: list[pd.DataFrame] = field(default_factory=list)  # the rows of each read (one a call)

    def add_demand(self, rows: pd.DataFrame, level_sums: pd.DataFrame) -> None:
        """Demand rows of weeks not read before, and their :func:`_level_demand`."""
        self.demand.append(rows)
        grid = self.laid_out
        if grid is None or rows.empty:
            return
        horizons = grid.weeks.size
        bottom = _placed(grid.keys, rows, ["segment_id", "sku"], "qty", horizons, grid.key_index)
        agg = _placed(grid.tree.aggregates, level_sums, ["level", "key"], "qty", horizons, grid.aggregate_index)
        if bottom is None or agg is None or _overlap(grid.actual_bottom, bottom) or _overlap(grid.actual_agg, agg):
            self.laid_out = None  # the rows, as _past_origins reads them
            return
        grid.actual_bottom = np.where(np.isnan(bottom), grid.actual_bottom, bottom)
        grid.actual_agg = np.where(np.isnan(agg), grid.actual_agg, agg)

    def complete_horizons(self, last: pd.Timestamp) -> int:
        if self.laid_out is not None:
            return int(np.searchsorted(self.laid_out.weeks, last.to_datetime64(), side="right"))
        rows = self.rows[self.rows["period_start"] <= last]
        return int(rows["horizon"].max()) if len(rows) else 0

    def missing_base(self, horizons: int, last: pd.Timestamp) -> bool:
        if self.laid_out is not None:
            return bool(np.isnan(self.laid_out.base_bottom[:, :horizons]).any())
        return bool(self.rows.loc[self.rows["period_start"] <= last, "base_qty"].isna().any())

    def record(self, horizons: int, last: pd.Timestamp) -> BacktestOrigin | None:
        grid = self.laid_out
        if grid is None:
            demand = pd.concat(self.demand, ignore_index=True)  # RunPastOrigins adds one every call
            if len(demand):  # in _past_origins' order
                demand = demand.sort_values(["segment_id", "sku", "week_start", "qty"], kind="mergesort")
            return _record(
                self.made,
                self.rows[self.rows["period_start"] <= last],
                self.levels[self.levels["period_start"] <= last],
                demand,
            )
        base_agg = grid.base_agg[:, :horizons]
        if np.isnan(base_agg).any() or grid.variances is None:
            return None
        return BacktestOrigin(
            hierarchy=grid.tree,
            base_agg=base_agg.copy(),
            base_bottom=grid.base_bottom[:, :horizons].copy(),
            actual_agg=np.nan_to_num(grid.actual_agg[:, :horizons], nan=0.0),
            actual_bottom=np.nan_to_num(grid.actual_bottom[:, :horizons], nan=0.0),
            # copies: what a caller does with a record never reaches the next origin's
            variances=grid.variances.copy(),
            proportions=grid.proportions.copy(),
            label=str(self.made.date()),
        )


def _overlap(placed: np.ndarray, new: np.ndarray) -> bool:
    return bool((~np.isnan(placed) & ~np.isnan(new)).any())


def _laid_out(rows: pd.DataFrame, levels: pd.DataFrame) -> _LaidOut | None:
    """``rows`` (sorted by series and horizon) and ``levels`` as matrices, when taking
    the first h horizons of them is what filtering the rows to weeks complete on a
    later origin gives: one week per horizon, rising, the same for every series and
    the aggregates; every series with every horizon 1..H; values placed cell by cell
    (:func:`_placed`). None otherwise."""
    if rows.empty:
        return None
    horizons = int(rows["horizon"].max())
    keys = rows.loc[rows["horizon"] == 1, ["segment_id", "sku"]].reset_index(drop=True)
    n = len(keys)
    if n == 0 or len(rows) != n * horizons:
        return None
    horizon = rows["horizon"].to_numpy().reshape(n, horizons)
    weeks = rows["period_start"].to_numpy().reshape(n, horizons)
    same_series = all((rows[c].to_numpy().reshape(n, horizons) == keys[c].to_numpy()[:, None]).all() for c in keys)
    if not same_series or not (horizon == np.arange(1, horizons + 1)).all() or not (weeks == weeks[0]).all():
        return None
    weeks = weeks[0]
    if not (np.diff(weeks) > np.timedelta64(0)).all():
        return None
    level_horizon = levels["horizon"].to_numpy()
    inside = (level_horizon >= 1) & (level_horizon <= horizons)
    if not (levels["period_start"].to_numpy()[inside] == weeks[level_horizon[inside] - 1]).all():
        return None
    tree = hierarchy(keys, GROUPINGS, key_columns=("segment_id", "sku"), bottom_level=BOTTOM_LEVEL)
    base_agg = _placed(tree.aggregates, levels, ["level", "key"], "base_qty", horizons)
    if base_agg is None:
        return None
    sd_agg = _pivot(tree.aggregates, levels[levels["horizon"] == 1], ["level", "key"], "base_sd", 1)
    first = rows[rows["horizon"] == 1]
    return _LaidOut(
        weeks=weeks,
        keys=keys,
        key_index=pd.MultiIndex.from_frame(keys),
        tree=tree,
        aggregate_index=pd.MultiIndex.from_frame(tree.aggregates[["level", "key"]]),
        base_bottom=rows["base_qty"].to_numpy(dtype=float).reshape(n, horizons),
        base_agg=base_agg,
        variances=None
        if sd_agg is None
        else np.concatenate([sd_agg[:, 0], first["base_sd"].to_numpy(dtype=float)]) ** 2,
        proportions=first["proportion"].to_numpy(dtype=float),
        actual_bottom=np.full((n, horizons), np.nan),
        actual_agg=np.full(base_agg.shape, np.nan),
    )


_FIRST_WEEK = FIRST_FORECAST_WEEK_SQL.format(origin="forecast_origin")


def _weeks_after(actual: pd.DataFrame) -> pd.Series:
    """The horizon of each demand row: its week's place from its origin's first forecast
    week (1 = that week, calendar.first_forecast_week)."""
    week, made = (pd.to_datetime(actual[c], cache=False) for c in ("week_start", "forecast_origin"))
    after = made + pd.Timedelta(days=1)  # its ISO Monday is the first forecast week
    first = after - pd.to_timedelta(after.dt.dayofweek, unit="D")
    return (week - first).dt.days // 7 + 1


def _record(made, rows: pd.DataFrame, levels: pd.DataFrame, demand: pd.DataFrame) -> BacktestOrigin | None:
    """The backtest record of the origin ``made``: its bottom rows (sorted by series
    and horizon), its aggregate rows and its demand rows (with ``horizon``), each
    holding only weeks complete on the current origin."""
    horizons = int(rows["horizon"].max())
    keys = rows.loc[rows["horizon"] == 1, ["segment_id", "sku"]].reset_index(drop=True)
    tree = hierarchy(keys, GROUPINGS, key_columns=("segment_id", "sku"), bottom_level=BOTTOM_LEVEL)
    base_agg = _pivot(tree.aggregates, levels, ["level", "key"], "base_qty", horizons)
    if base_agg is None:
        return None
    sd_agg = _pivot(tree.aggregates, levels[levels["horizon"] == 1], ["level", "key"], "base_sd", 1)
    actual_bottom = _pivot(keys, demand, ["segment_id", "sku"], "qty", horizons, fill=0.0)
    actual_agg = _pivot(tree.aggregates, _level_demand(demand), ["level", "key"], "qty", horizons, fill=0.0)
    first = rows[rows["horizon"] == 1]
    if actual_bottom is None or actual_agg is None or sd_agg is None:
        return None
    return BacktestOrigin(
        hierarchy=tree,
        base_agg=base_agg,
        base_bottom=rows["base_qty"].to_numpy(dtype=float).reshape(len(keys), horizons),
        actual_agg=actual_agg,
        actual_bottom=actual_bottom,
        variances=np.concatenate([sd_agg[:, 0], first["base_sd"].to_numpy(dtype=float)]) ** 2,
        proportions=first["proportion"].to_numpy(dtype=float),
        label=str(pd.Timestamp(made).date()),
    )


def _level_demand(demand: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Demand rows summed per SKU and horizon (level ``sku``) and per horizon (``total``)
    (and per ``by``: each group adds its rows in the same order)."""
    by = by or []
    per_sku = demand.groupby([*by, "sku", "horizon"], as_index=False)["qty"].sum()
    total = demand.groupby([*by, "horizon"], as_index=False)["qty"].sum()
    return pd.concat(
        [per_sku.assign(level="sku", key=per_sku["sku"]), total.assign(level="total", key="all")],
        ignore_index=True,
    )


def _pivot(
    keys: pd.DataFrame, values: pd.DataFrame, on: list[str], column: str, horizons: int, fill: float | None = None
) -> np.ndarray | None:
    """keys (one row per series, in order) × horizons 1..``horizons`` of ``column``.

    Each (series, horizon) cell has at most one row here, so it is placed directly
    (a reconciliation origin pivots ~50 frames: pandas' pivot_table cost ~0.5 s of
    it); rows of other series or horizons are left out, as the pivot does. Duplicate
    cells or missing values, which pandas' sum treats its own way, go through the
    pivot."""
    out = _placed(keys, values, on, column, horizons)
    if out is not None:
        if fill is not None:
            return np.nan_to_num(out, nan=fill)
        return None if np.isnan(out).any() else out
    return _pivot_table(keys, values, on, column, horizons, fill)


def _placed(
    keys: pd.DataFrame, values: pd.DataFrame, on: list[str], column: str, horizons: int, index: pd.Index | None = None
) -> np.ndarray | None:
    """:func:`_pivot`'s direct placement: keys × horizons with NaN where no row is, or
    None where it does not apply (duplicate keys or cells, missing values). ``index``:
    the keys' index, when the caller keeps it."""
    horizon = values["horizon"].to_numpy()
    wanted = (horizon >= 1) & (horizon <= horizons)
    if len(on) == 1:
        index = pd.Index(keys[on[0]]) if index is None else index
        found = index.get_indexer(values[on[0]])
    else:
        index = pd.MultiIndex.from_frame(keys[on]) if index is None else index
        found = index.get_indexer(pd.MultiIndex.from_frame(values[on])) if len(values) else np.zeros(0, dtype=int)
    keep = wanted & (found >= 0)
    cells = found[keep] * horizons + horizon[keep].astype(np.int64) - 1
    placed = values[column].to_numpy(dtype=float)[keep]
    if not (index.is_unique and np.unique(cells).size == cells.size and not np.isnan(placed).any()):
        return None
    flat = np.full(len(keys) * horizons, np.nan)
    flat[cells] = placed
    return flat.reshape(len(keys), horizons)


def _pivot_table(
    keys: pd.DataFrame, values: pd.DataFrame, on: list[str], column: str, horizons: int, fill: float | None = None
) -> np.ndarray | None:
    table = values.pivot_table(index=on, columns="horizon", values=column, aggfunc="sum")
    table = table.reindex(columns=range(1, horizons + 1))
    out = keys[on].merge(table.reset_index(), on=on, how="left")[list(range(1, horizons + 1))].to_numpy(dtype=float)
    if fill is not None:
        return np.nan_to_num(out, nan=fill)
    return None if np.isnan(out).any() else out


def reconciliation_row(origin: date, info: OriginReconciliation) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "forecast_origin": origin,
                "method": info.method,
                "reason": info.reason,
                "scores_json": json.dumps({k: round(v, 6) for k, v in info.scores.items()}, sort_keys=True),
                "clipped_cells": info.clipped,
                "coherence_error": info.coherence_error,
            }
        ]
    )


__all__ = ["ALL", "Hierarchy", "aggregate_tasks", "reconcile_origin", "reconciliation_row"]
