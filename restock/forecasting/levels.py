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
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from restock.calendar import last_complete_week_start
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
) -> tuple[pd.DataFrame, pd.DataFrame, OriginReconciliation]:
    """Reconcile an origin's forecast rows (bottom and aggregate series, the
    ``segment_forecasts`` columns). Returns the bottom rows and the aggregate rows with
    ``base_qty`` / ``base_sd`` / ``proportion`` filled and forecast and bounds
    reconciled, and what was done."""
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
        past = _past_origins(con, origin, window_weeks, quantity, actual_table)
        choice = choose_method(past, DEFAULT_METHODS)
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
                where forecast_origin >= ? and forecast_origin < ? and week_start > forecast_origin
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
                  and w.week_start > m.forecast_origin and w.week_start <= ?
                group by all
                order by all""",  # the sums below add in this order
            [first_origin, origin, last],
        ).df()
    actual["horizon"] = (
        pd.to_datetime(actual["week_start"]) - pd.to_datetime(actual["forecast_origin"])
    ).dt.days // 7 + 1
    records = []
    for made, rows in bottom.groupby("forecast_origin", sort=True):
        horizons = int(rows["horizon"].max())
        keys = rows.loc[rows["horizon"] == 1, ["segment_id", "sku"]].reset_index(drop=True)
        tree = hierarchy(keys, GROUPINGS, key_columns=("segment_id", "sku"), bottom_level=BOTTOM_LEVEL)
        levels = agg[agg["forecast_origin"] == made]
        base_agg = _pivot(tree.aggregates, levels, ["level", "key"], "base_qty", horizons)
        if base_agg is None:
            continue
        sd_agg = _pivot(tree.aggregates, levels[levels["horizon"] == 1], ["level", "key"], "base_sd", 1)
        demand = actual[actual["forecast_origin"] == made]
        actual_bottom = _pivot(keys, demand, ["segment_id", "sku"], "qty", horizons, fill=0.0)
        per_sku = demand.groupby(["sku", "horizon"], as_index=False)["qty"].sum()
        total = demand.groupby("horizon", as_index=False)["qty"].sum()
        agg_demand = pd.concat(
            [
                per_sku.assign(level="sku", key=per_sku["sku"]),
                total.assign(level="total", key="all"),
            ],
            ignore_index=True,
        )
        actual_agg = _pivot(tree.aggregates, agg_demand, ["level", "key"], "qty", horizons, fill=0.0)
        first = rows[rows["horizon"] == 1]
        if actual_bottom is None or actual_agg is None or sd_agg is None:
            continue
        records.append(
            BacktestOrigin(
                hierarchy=tree,
                base_agg=base_agg,
                base_bottom=rows["base_qty"].to_numpy(dtype=float).reshape(len(keys), horizons),
                actual_agg=actual_agg,
                actual_bottom=actual_bottom,
                variances=np.concatenate([sd_agg[:, 0], first["base_sd"].to_numpy(dtype=float)]) ** 2,
                proportions=first["proportion"].to_numpy(dtype=float),
                label=str(pd.Timestamp(made).date()),
            )
        )
    return records


def _pivot(
    keys: pd.DataFrame, values: pd.DataFrame, on: list[str], column: str, horizons: int, fill: float | None = None
) -> np.ndarray | None:
    """keys (one row per series, in order) × horizons 1..``horizons`` of ``column``.

    Each (series, horizon) cell has at most one row here, so it is placed directly
    (a reconciliation origin pivots ~50 frames: pandas' pivot_table cost ~0.5 s of
    it); rows of other series or horizons are left out, as the pivot does. Duplicate
    cells or missing values, which pandas' sum treats its own way, go through the
    pivot."""
    horizon = values["horizon"].to_numpy()
    wanted = (horizon >= 1) & (horizon <= horizons)
    if len(on) == 1:
        index: pd.Index = pd.Index(keys[on[0]])
        found = index.get_indexer(values[on[0]])
    else:
        index = pd.MultiIndex.from_frame(keys[on])
        found = index.get_indexer(pd.MultiIndex.from_frame(values[on])) if len(values) else np.zeros(0, dtype=int)
    keep = wanted & (found >= 0)
    cells = found[keep] * horizons + horizon[keep].astype(np.int64) - 1
    placed = values[column].to_numpy(dtype=float)[keep]
    if index.is_unique and np.unique(cells).size == cells.size and not np.isnan(placed).any():
        flat = np.full(len(keys) * horizons, np.nan)
        flat[cells] = placed
        out = flat.reshape(len(keys), horizons)
        if fill is not None:
            return np.nan_to_num(out, nan=fill)
        return None if np.isnan(out).any() else out
    return _pivot_table(keys, values, on, column, horizons, fill)


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
