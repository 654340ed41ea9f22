"""The accuracy review (复盘) of each forecast origin: past forecasts against what
then happened (I/O: reads the forecast tables and the weekly demand mart, writes
``analytics.accuracy_reviews``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from restock import table_registry
from restock.calendar import last_complete_week_start
from restock.config import RestockConfig
from restock.forecasting import metrics
from restock.forecasting.panel import forecast_origin
from restock.warehouse import replace_day

log = logging.getLogger(__name__)

# Reviews whose inputs are built together in a multi-origin run: consecutive weekly
# reviews share all but one week, so a batch of 8 builds 20 weeks instead of 8 × 13;
# the customer points of a batch (~1.6 × those of one review, demo: 8 M) are summed
# per week once (_sum_weeks). 16 a batch was ~15 % faster on the demo but held 0.4 GB
# more, which a city's ten times as many customers cannot afford.
REVIEWS_PER_BATCH = 8
REVIEWS_TABLE = "analytics.accuracy_reviews"
# Exact sums in DuckDB (the same to the last digit whatever order its threads add in).
EXACT = "decimal(38, 12)"
# Levels whose WAPE is that of their own weekly series, as published in
# demand_forecasts (the total; each SKU), not of the segment × SKU forecasts under
# them: over- and under-forecasts of two segments in one week cancel in the total the
# planner orders from. Segment keeps the segment × SKU points (demand_forecasts' level
# segment is segment × SKU), warehouse its warehouse × SKU points.
OWN_SERIES = frozenset({"total", "sku"})
# Per level × key × horizon: the sums every score is computed from (metrics.*_from_sums).
_SUMS = [
    "key",
    "horizon",
    "n_periods",
    "actual_qty",
    "forecast_qty",
    "abs_error",
    "error",
    "abs_actual",
    "mase",
    "weekly_error",
    "weekly_abs_error",
    "n_weeks",
    "interval_coverage",
]
_LEVEL_COLUMNS = [
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
    "interval_coverage",
]


def run_accuracy(
    con: DuckDBPyConnection,
    days: Iterable[date],
    config: RestockConfig,
    progress: Callable[[date, int | None], None] | None = None,
) -> list[tuple[date, int]]:
    """The accuracy review of each origin of ``days`` (computed when the origin is in
    ``days`` or has no review yet). Returns (review_date, rows) per computed review.
    ``progress(origin, rows)`` after each origin (rows None: its review was kept)."""
    return _review_origins(con, reviews_wanted(con, days, config, progress), config, progress)


def reviews_wanted(
    con: DuckDBPyConnection,
    days: Iterable[date],
    config: RestockConfig,
    progress: Callable[[date, int | None], None] | None = None,
) -> list[date]:
    """The origins of ``days`` whose review :func:`run_accuracy` computes, in order;
    ``progress(origin, None)`` for each one whose review is kept."""
    settings = config.forecasting
    days = sorted(days)
    in_run = set(days)
    origins = sorted({forecast_origin(d, settings.cutoff_weekday) for d in days})
    wanted = []
    for origin in origins:
        exists = con.execute(
            "select count(*) from analytics.accuracy_reviews where review_date = ?", [origin]
        ).fetchall()
        if origin in in_run or not exists[0][0]:
            wanted.append(origin)
    if progress:
        for origin in sorted(set(origins) - set(wanted)):
            progress(origin, None)  # its review was kept
    return wanted


def _review_origins(
    con: DuckDBPyConnection,
    wanted: list[date],
    config: RestockConfig,
    progress: Callable[[date, int | None], None] | None = None,
) -> list[tuple[date, int]]:
    done = []
    for origin, frame in _reviews(con, wanted, config):
        replace_day(con, REVIEWS_TABLE, "review_date", origin, frame, list(frame.columns))
        done.append((origin, len(frame)))
        if progress:
            progress(origin, len(frame))
    return done


def _reviews(
    con: DuckDBPyConnection, origins: list[date], config: RestockConfig
) -> Iterator[tuple[date, pd.DataFrame]]:
    """The review of each origin, in order. Consecutive reviews in batches
    (:func:`review_batch`): their inputs are built once."""
    window, quantity = config.accuracy.window_weeks, config.forecasting.quantity
    for i in range(0, len(origins), REVIEWS_PER_BATCH):
        batch = origins[i : i + REVIEWS_PER_BATCH]
        with review_batch(con, batch, window, quantity):
            for origin in batch:
                yield origin, accuracy_review(con, origin, window, config.accuracy.tracking_signal_limit, quantity)


def run_accuracy_in_workers(
    open_writer: Callable[[], AbstractContextManager[DuckDBPyConnection]],
    path: Path,
    days: Iterable[date],
    config: RestockConfig,
    progress: Callable[[date, int | None], None] | None = None,
    memory_limit: str | None = None,
) -> list[tuple[date, int]]:
    """:func:`run_accuracy` over the warehouse file ``path``; when the reviews to
    compute make a long run (:func:`restock.day_workers.uses_workers`, an origin
    counting as a day) they are computed by ``backfill.workers`` processes, in blocks of
    ``backfill.block_days`` origins: the same reviews (demo, 28 origins: −20 %; DuckDB
    already uses both cores for a review)."""
    from restock.day_workers import replace_days, run_in_workers, uses_workers

    with open_writer() as con:
        wanted = reviews_wanted(con, days, config, progress)
        if not uses_workers(config.backfill, len(wanted)):
            return _review_origins(con, wanted, config, progress)
    rows: dict[date, int] = {}

    def write(con: DuckDBPyConnection, reviews: list[tuple[date, dict[str, pd.DataFrame]]]) -> dict[str, int]:
        columns = list(reviews[0][1][REVIEWS_TABLE].columns)
        rows.update((origin, len(frames[REVIEWS_TABLE])) for origin, frames in reviews)
        return replace_days(con, {REVIEWS_TABLE: columns}, "review_date", reviews)

    def advance(done: int, origin: date, totals: dict[str, int], skipped: int) -> None:
        if progress:
            progress(origin, rows[origin])

    run_in_workers(
        open_writer,
        path,
        wanted,
        _review_block,
        config,
        write,
        config.backfill,
        memory_limit,
        advance,
    )
    return [(origin, rows[origin]) for origin in wanted]


def _review_block(
    con: DuckDBPyConnection, origins: list[date], config: RestockConfig
) -> Iterator[tuple[date, dict[str, pd.DataFrame]]]:
    for origin, frame in _reviews(con, origins, config):
        yield origin, {REVIEWS_TABLE: frame}


def accuracy_review(
    con: DuckDBPyConnection, review_date: date, window_weeks: int, limit: float, quantity: str = "requested_qty"
) -> pd.DataFrame:
    """Past forecasts against what happened, for the ``window_weeks`` weeks complete on
    ``review_date``: one row per level × key × horizon.

    Levels and the points (forecast, actual) each is scored on:

    - ``total`` ("all"), ``segment`` (segment_id), ``sku``: segment × SKU × week points
      of every horizon; ``series`` (``<segment_id>|<sku>``): the same at horizon 1.
      The actual of a segment × SKU × week is the demand of the customers that were in
      the segment on the forecast's origin (the population the forecast was made for);
    - ``warehouse`` (warehouse_id): warehouse × SKU × week points of every horizon,
      forecast = Σ segment forecast × share of its customers, actual = Σ their demand.
      A customer's warehouse is the one stored with it in forecast_members on the
      forecast's origin (its region's on that day: restock.yaml
      ``replenishment.region_warehouse``, else ``default_warehouse``); customers with
      none are left out of this level (counted in a log line);
    - ``customer``: key "all" per horizon over every customer × SKU × week point, and
      one row per customer (key customer_id) at horizon 1 over its customer × SKU ×
      week points. Forecast = segment forecast × the customer's share on that origin
      (0 without a share), actual = the customer's demand for the SKU that week; the
      customers are the segment's members on the forecast's origin.

    error = forecast − actual (positive: over-forecast). wape = Σ|e| / Σ actual over
    the level's published grain: total and sku on their own weekly series (|e| of the
    key × week sum), segment and series on segment × SKU × week, warehouse on
    warehouse × SKU × week, customer on customer × SKU × week;
    bias = Σe / Σ actual; mase = mean of |e| / in-sample naive MAE of the segment ×
    SKU series under the key (points without a scale skipped; no scale is stored
    for the total and SKU series or below the segment × SKU series, so at total and
    sku it scores the segment × SKU points, and it is null at warehouse and customer
    level); tracking_signal = Σ E_t / mean
    |E_t| over the weeks, E_t the key's summed error of week t (0 when every E_t is 0:
    no bias); out_of_control = |TS| > ``limit``; interval_coverage = share of points
    with lower ≤ actual ≤ upper, where the points are the key × week sums of forecast
    and actual, with the interval published for them: total and sku the
    level_forecasts bounds (where the week has them), series the segment × SKU bounds,
    else the summed segment × SKU bounds (segment; warehouse: segment bound × share of
    its customers; total and sku of origins without level forecasts) — a sum of bounds
    is wider than the interval of the sum, so that coverage overstates; at customer
    level each customer × SKU × week with the customer's own bounds (forecast ×
    lower_ratio / upper_ratio of customer_forecast_shares; segment bound × share where
    those are null or absent). The formulas are :mod:`restock.forecasting.metrics`.

    The points are read in the order of their key and DuckDB adds decimals, so every
    sum adds the same terms in the same order on every run (a re-run reproduces the
    last digit).
    """
    last = last_complete_week_start(review_date)
    first = last - timedelta(weeks=window_weeks - 1)
    if quantity not in ("requested_qty", "ordered_qty"):
        raise ValueError(f"quantity must be requested_qty or ordered_qty, got {quantity!r}")
    columns = table_registry.columns("accuracy_reviews")
    batch = _batch_covering(con, first, last, review_date)
    try:
        if batch is None:
            _build_inputs(con, _OWN, first, last, review_date, quantity)
        else:  # the batch's tables cut to this review: the rows a build of its own gives
            for name, shared in zip(_OWN, _SHARED, strict=True):
                if not _has_temp(con, shared):
                    continue
                # The week sums have no origin filter: a forecast's first week starts after
                # the last complete week of its origin, so every forecast of a week of the
                # window was made on or before the review.
                # (a view takes no parameters: the dates as literals)
                origins = f"and forecast_origin <= date '{review_date.isoformat()}'"
                con.execute(
                    f"""create or replace temp view {name} as select * from {shared}
                        where period_start between date '{first.isoformat()}' and date '{last.isoformat()}'
                        {origins if name != _OWN.week_sums else ""}"""
                )
        points = con.execute(
            f"""
            with actual as (select * from {_OWN.actual})
            select fc.segment_id, fc.sku, fc.horizon, fc.period_start, fc.forecast_qty, fc.naive_mae,
                   coalesce(a.qty, 0) as actual_qty, fc.lower_qty, fc.upper_qty
            from {_OWN.forecasts} fc left join actual a using (forecast_origin, segment_id, sku, period_start)
            order by fc.segment_id, fc.sku, fc.horizon, fc.period_start, fc.forecast_origin
            """
        ).df()
        if points.empty:
            return pd.DataFrame(columns=columns)
        points["error"] = points["forecast_qty"] - points["actual_qty"]
        with np.errstate(divide="ignore", invalid="ignore"):
            points["scaled"] = np.where(points["naive_mae"] > 0, points["error"].abs() / points["naive_mae"], np.nan)
        points["total"] = "all"
        points["series"] = _joined(points["segment_id"], points["sku"], "|")
        frames = []
        published = _level_bounds(con, first, last, review_date)
        for level, key_column in (("total", "total"), ("segment", "segment_id"), ("sku", "sku"), ("series", "series")):
            subset = points if level != "series" else points[points["horizon"] == 1]
            frames.append(
                _summarise(subset, key_column, level, limit, published.get(level), own_series=level in OWN_SERIES)
            )
        frames.extend(_below_series(con, review_date, limit))
    finally:
        for name in reversed(_OWN):
            con.execute(f"drop {'view' if batch is not None else 'table'} if exists {name}")
    out = pd.concat([f for f in frames if len(f)], ignore_index=True)
    out["review_date"] = review_date
    out["window_weeks"] = window_weeks
    return out[columns]


def _summarise(
    points: pd.DataFrame,
    key_column: str,
    level: str,
    limit: float,
    bounds: pd.DataFrame | None = None,
    own_series: bool = False,
) -> pd.DataFrame:
    """One row per key × horizon of segment × SKU × week ``points``: WAPE, bias,
    tracking signal, out-of-control flag and interval coverage from
    :mod:`restock.forecasting.metrics` (the one definition of each), from per-group
    sums over the points in the order they were read (:func:`_group_sums`).
    ``own_series``: the WAPE of the key's own weekly series (Σ over weeks of |the
    week's summed error|), not of the segment × SKU points under it (:data:`OWN_SERIES`)."""
    sums = _group_sums(points, key_column, bounds)
    if own_series:
        sums["abs_error"] = sums["weekly_abs_error"]
    return _scores(sums, level, limit)


def _group_sums(points: pd.DataFrame, key_column: str, bounds: pd.DataFrame | None = None) -> pd.DataFrame:
    """:data:`_SUMS` per ``key_column`` × horizon (in key, horizon order); coverage on
    the key × week sums, against the summed bounds of the points or, where ``bounds``
    (key, horizon, period_start, lower_qty, upper_qty) has the key × week, those. Each
    sum is a ``np.bincount`` over the group codes, which adds the points one after the
    other in the order they were read (reproducible)."""
    key_codes, keys = pd.factorize(points[key_column], sort=True)
    horizon_codes, horizons = pd.factorize(points["horizon"], sort=True)
    week_codes, weeks = pd.factorize(points["period_start"], sort=True)
    groups, group = _dense_unique(key_codes * len(horizons) + horizon_codes, len(keys) * len(horizons))
    n = len(groups)

    def total(values: np.ndarray, codes: np.ndarray = group, size: int = n) -> np.ndarray:
        return np.bincount(codes, weights=values, minlength=size)

    actual = points["actual_qty"].to_numpy(float)
    forecast = points["forecast_qty"].to_numpy(float)
    error = points["error"].to_numpy(float)
    scaled = points["scaled"].to_numpy(float)
    scored = ~np.isnan(scaled)
    with np.errstate(divide="ignore", invalid="ignore"):
        mase = total(np.where(scored, scaled, 0.0)) / total(scored.astype(float))
    # Key × week cells: the weekly errors (tracking signal) and sums (coverage).
    cells, cell = _dense_unique(group * len(weeks) + week_codes, n * len(weeks))
    week_error = total(error, cell, len(cells))
    week_actual = total(actual, cell, len(cells))
    lower = total(points["lower_qty"].to_numpy(float), cell, len(cells))
    upper = total(points["upper_qty"].to_numpy(float), cell, len(cells))
    cell_group = cells // len(weeks)  # the group of each cell (cells sort by group, then week)
    if bounds is not None and len(bounds):
        at = pd.DataFrame(
            {
                "key": keys[groups[cell_group] // len(horizons)],
                "horizon": horizons[groups[cell_group] % len(horizons)],
                "period_start": weeks[cells % len(weeks)],
            }
        )
        own = at.merge(_typed_like(bounds, at), on=["key", "horizon", "period_start"], how="left", validate="1:1")
        found = own["lower_qty"].notna().to_numpy()
        lower = np.where(found, own["lower_qty"].to_numpy(float), lower)
        upper = np.where(found, own["upper_qty"].to_numpy(float), upper)
    inside = (lower <= week_actual) & (week_actual <= upper)
    n_weeks = np.bincount(cell_group, minlength=n)
    return pd.DataFrame(
        {
            "key": keys[groups // len(horizons)],
            "horizon": horizons[groups % len(horizons)],
            "n_periods": n_weeks,
            "actual_qty": total(actual),
            "forecast_qty": total(forecast),
            "abs_error": total(np.abs(error)),
            "error": total(error),
            "abs_actual": total(np.abs(actual)),
            "mase": mase,
            "weekly_error": total(week_error, cell_group),
            "weekly_abs_error": total(np.abs(week_error), cell_group),
            "n_weeks": n_weeks,
            "interval_coverage": total(inside.astype(float), cell_group) / n_weeks,
        }
    )[_SUMS]


def _dense_unique(codes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(codes, return_inverse=True)`` for codes in 0 .. size − 1, by
    marking the codes present instead of sorting them (the review's group codes are
    dense: keys × horizons, groups × weeks)."""
    if codes.size and codes.min() < 0:  # a missing value (code −1): np.unique's sort
        return np.unique(codes, return_inverse=True)
    present = np.zeros(size, dtype=bool)
    present[codes] = True
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present), rank[codes]


def _joined(left: pd.Series, right: pd.Series, separator: str) -> np.ndarray:
    """``left + separator + right`` row by row, each distinct pair joined once (the
    review's points repeat ~3,000 segment × SKU pairs ~100 times each)."""
    left_codes, left_values = pd.factorize(left)
    right_codes, right_values = pd.factorize(right)
    if (left_codes < 0).any() or (right_codes < 0).any():  # a missing value: NaN, as "+" gives
        return (left + separator + right).to_numpy(dtype=object)
    pairs, pair = np.unique(left_codes * len(right_values) + right_codes, return_inverse=True)
    joined = np.array(
        [
            f"{left_values[i // len(right_values)]}{separator}{right_values[i % len(right_values)]}"
            for i in pairs.tolist()
        ],
        dtype=object,
    )
    return joined[pair]


def _typed_like(bounds: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    out = bounds[["key", "horizon", "period_start", "lower_qty", "upper_qty"]].copy()
    for column in ("key", "horizon", "period_start"):
        out[column] = out[column].astype(like[column].dtype)
    return out


def _level_bounds(con: DuckDBPyConnection, first: date, last: date, review_date: date) -> dict[str, pd.DataFrame]:
    """The published interval of the total and SKU forecasts (level_forecasts) per
    level: key, horizon, period_start, lower_qty, upper_qty."""
    if not _has_table(con, "analytics", "level_forecasts"):
        return {}
    frame = con.execute(
        """select level, key, horizon, period_start, lower_qty, upper_qty from analytics.level_forecasts
           where period_start between ? and ? and forecast_origin <= ?
           order by level, key, horizon, period_start""",
        [first, last, review_date],
    ).df()
    return {level: rows.drop(columns="level") for level, rows in frame.groupby("level")}


def _scores(sums: pd.DataFrame, level: str, limit: float) -> pd.DataFrame:
    """The level's rows from its :data:`_SUMS` (the formulas of :mod:`.metrics`)."""
    out = sums.copy()
    out["wape"] = metrics.wape_from_sums(out["abs_error"].to_numpy(float), out["abs_actual"].to_numpy(float))
    out["bias"] = metrics.relative_bias_from_sums(out["error"].to_numpy(float), out["abs_actual"].to_numpy(float))
    out["tracking_signal"] = metrics.tracking_signal_from_sums(
        out["weekly_error"].to_numpy(float), out["weekly_abs_error"].to_numpy(float), out["n_weeks"].to_numpy(float)
    )
    out["out_of_control"] = metrics.is_out_of_control(out["tracking_signal"].to_numpy(float), limit)
    out["mase"] = out["mase"].astype(float)
    out["key"] = out["key"].astype(str)
    out["level"] = level
    return out[_LEVEL_COLUMNS]


# --------------------------------------------------------------------------- warehouse and customer level


class _Inputs(NamedTuple):
    """The temp tables a review reads: its own, or a batch's shared ones."""

    forecasts: str  # segment × SKU forecasts of the weeks
    demand: str  # demand of each forecast's members, per customer × SKU × week
    actual: str  # that demand per segment × SKU × week
    week_sums: str  # the warehouse and customer levels' sums per key × horizon × week


_OWN = _Inputs(
    "_accuracy_forecasts",
    "_accuracy_member_demand",
    "_accuracy_actual",
    "_accuracy_week_sums",
)
_SHARED = _Inputs(*(f"_accuracy_batch_{name.removeprefix('_accuracy_')}" for name in _OWN))
_BATCH = "_accuracy_batch"  # one row: the range the batch's tables cover


@contextmanager
def review_batch(
    con: DuckDBPyConnection, reviews: list[date], window_weeks: int, quantity: str = "requested_qty"
) -> Iterator[None]:
    """The reviews of ``reviews`` read their forecasts, member demand and the week sums
    of their customer points from tables built once for all their windows (temp
    tables, dropped after).

    Each review then selects its weeks and origins from them: the rows its own build
    would give, so the same review to the last digit (the sums are exact decimals or
    taken in the order of the key), at a fraction of the cost — consecutive reviews
    share all but one of their weeks (demo: 3.4 s a review alone)."""
    if len(reviews) < 2:
        yield
        return
    last = last_complete_week_start(max(reviews))
    first = last_complete_week_start(min(reviews)) - timedelta(weeks=window_weeks - 1)
    try:
        _build_inputs(con, _SHARED, first, last, max(reviews), quantity)
        con.execute(f"create or replace temp table {_BATCH} (first date, last date, review date)")
        con.execute(f"insert into {_BATCH} values (?, ?, ?)", [first, last, max(reviews)])
        yield
    finally:
        for name in (_BATCH, *reversed(_SHARED)):
            con.execute(f"drop table if exists {name}")


def _batch_covering(con: DuckDBPyConnection, first: date, last: date, review_date: date) -> tuple | None:
    """The batch's range when its tables cover the weeks ``first`` .. ``last`` and the
    origins up to ``review_date``, else None."""
    if not _has_temp(con, _BATCH):
        return None
    row = con.execute(f"select first, last, review from {_BATCH}").fetchone()
    if row is None or not (row[0] <= first and last <= row[1] and review_date <= row[2]):
        return None
    return row


def _build_inputs(
    con: DuckDBPyConnection, tables: _Inputs, first: date, last: date, review_date: date, quantity: str
) -> None:
    """Temp tables ``forecasts``, ``demand`` (per member), ``actual`` (per segment ×
    SKU) and, when customer shares exist, ``week_sums`` (from the customer points, a
    view: :func:`_sum_weeks`) for the weeks ``first`` .. ``last`` and the origins up
    to ``review_date``."""
    forecasts, demand, actual = tables.forecasts, tables.demand, tables.actual
    points = f"{tables.week_sums}_points"  # a view, read once by _sum_weeks
    # The reviewed forecasts, and the demand of each forecast's population: every
    # member of a segment on an origin, for the weeks that origin forecast.
    con.execute(
        f"""create or replace temp table {forecasts} as
            select forecast_origin, segment_id, sku, horizon, period_start, forecast_qty, lower_qty, upper_qty,
                   naive_mae
            from analytics.segment_forecasts where period_start between ? and ? and forecast_origin <= ?""",
        [first, last, review_date],
    )
    con.execute(
        f"""create or replace temp table {demand} as
            select m.forecast_origin, m.segment_id, w.customer_id, w.sku, w.week_start as period_start,
                   sum(w.{quantity}::{EXACT}) as qty
            from marts.customer_sku_weekly_demand w
            join (select distinct forecast_origin, period_start from {forecasts}) o on o.period_start = w.week_start
            join analytics.forecast_members m
              on m.forecast_origin = o.forecast_origin and m.customer_id = w.customer_id
            where w.week_start between ? and ?
            group by all""",
        [first, last],
    )
    con.execute(
        f"""create or replace temp table {actual} as
            select forecast_origin, segment_id, sku, period_start, sum(qty)::double as qty
            from {demand} group by all"""
    )
    # The customer × SKU × week points. Only the segment × SKU forecasts that were
    # split to customers (customer_forecast_shares) have points.
    if not _has_table(con, "analytics", "customer_forecast_shares"):
        return
    shares = _columns(con, "analytics", "customer_forecast_shares")
    if {"lower_ratio", "upper_ratio"} <= shares:
        lower = "coalesce(f.forecast_qty * s.share * s.lower_ratio, f.lower_qty * s.share)"
        upper = "coalesce(f.forecast_qty * s.share * s.upper_ratio, f.upper_qty * s.share)"
    else:  # a table of an older warehouse: the segment bound × share
        lower, upper = "f.lower_qty * s.share", "f.upper_qty * s.share"
    con.execute(
        f"""
        create or replace temp view {points} as
        with shares as (
            select * from analytics.customer_forecast_shares
            where forecast_origin in (select distinct forecast_origin from {forecasts})
        ),
        split as (select distinct forecast_origin, segment_id, sku from shares),
        shared as (
            select f.forecast_origin, f.segment_id, f.sku, f.horizon, f.period_start, s.customer_id,
                   (f.forecast_qty * s.share)::{EXACT} as forecast_qty, coalesce(d.qty, 0) as actual_qty,
                   (f.lower_qty * s.share)::{EXACT} as segment_lower, (f.upper_qty * s.share)::{EXACT} as segment_upper,
                   {lower} as lower_qty, {upper} as upper_qty
            from {forecasts} f join shares s using (forecast_origin, segment_id, sku)
            left join {demand} d
              on d.forecast_origin = f.forecast_origin and d.segment_id = f.segment_id and d.sku = f.sku
             and d.period_start = f.period_start and d.customer_id = s.customer_id
        ),
        unshared as (  -- members without a share that bought: forecast 0
            select d.forecast_origin, d.segment_id, d.sku, f.horizon, d.period_start, d.customer_id,
                   0::{EXACT}, d.qty, 0::{EXACT}, 0::{EXACT}, 0.0, 0.0
            from {demand} d join {forecasts} f using (forecast_origin, segment_id, sku, period_start)
            semi join split x using (forecast_origin, segment_id, sku)
            anti join shares s using (forecast_origin, segment_id, sku, customer_id)
            where d.qty <> 0
        )
        select * from shared union all select * from unshared
        """
    )
    try:
        _sum_weeks(con, points, tables.week_sums)
    finally:
        con.execute(f"drop view if exists {points}")


def _has_temp(con: DuckDBPyConnection, name: str) -> bool:
    """A temp table or view of this connection."""
    found = con.execute(
        "select count(*) from duckdb_tables() where temporary and table_name = ? "
        "union all select count(*) from duckdb_views() where temporary and view_name = ?",
        [name, name],
    ).fetchall()
    return any(row[0] for row in found)


def _sum_weeks(con: DuckDBPyConnection, points: str, week_sums: str) -> None:
    """The warehouse and customer levels' sums per key × horizon × week of the customer
    × SKU × week points of the view ``points`` (temp table ``week_sums``; level ``warehouse``,
    ``customer`` for key "all", ``customer_h1`` per customer at horizon 1), and the
    number of points of customers without a warehouse on their forecast's origin per
    customer × week (level ``no_warehouse``, key customer_id, ``n_points``).

    A review adds up the weeks of its window (:func:`_sums_of_weeks`). The sums are
    exact decimals, so summing per week first gives the same numbers to the last digit
    as summing the points of the window: consecutive reviews share 12 of their 13
    weeks, and a batch (:func:`review_batch`) sums each week once instead of once per
    review. Warehouse: forecast, actual and the segment bounds × share summed per
    warehouse × SKU × week cell first, errors of the cells; customer: errors of the
    points, and their interval coverage counted (covered of rated)."""
    members = _columns(con, "analytics", "forecast_members")
    warehouse = "m.warehouse_id" if "warehouse_id" in members else "null::varchar"
    con.execute(
        f"""
        create or replace temp table {week_sums} as
        with p as materialized (  -- the points, computed once for the four sums below
            select {warehouse} as warehouse_id, p.customer_id, p.sku, p.horizon, p.period_start,
                   p.forecast_qty as f, p.actual_qty as a, p.segment_lower, p.segment_upper,
                   (p.lower_qty <= p.actual_qty and p.actual_qty <= p.upper_qty)::int as covered
            from {points} p left join analytics.forecast_members m using (forecast_origin, customer_id)
        ),
        cells as (
            select warehouse_id, sku, horizon, period_start, sum(f) as f, sum(a) as a,
                   sum(segment_lower) as lower_qty, sum(segment_upper) as upper_qty
            from p where warehouse_id is not null group by all
        )
        select 'warehouse' as level, warehouse_id as key, horizon, period_start, sum(a) as actual_qty,
               sum(f) as forecast_qty, sum(abs(f - a)) as abs_error, sum(f - a) as error, sum(abs(a)) as abs_actual,
               null::hugeint as covered, null::hugeint as rated, sum(a) as week_actual,
               sum(lower_qty) as week_lower, sum(upper_qty) as week_upper, null::bigint as n_points
        from cells group by all
        union all
        select 'customer', 'all', horizon, period_start, sum(a), sum(f), sum(abs(f - a)), sum(f - a), sum(abs(a)),
               sum(covered), count(covered), null, null, null, null
        from p group by all
        union all
        select 'customer_h1', customer_id, horizon, period_start, sum(a), sum(f), sum(abs(f - a)), sum(f - a),
               sum(abs(a)), sum(covered), count(covered), null, null, null, null
        from p where horizon = 1 group by all
        union all
        select 'no_warehouse', customer_id, null, period_start, null, null, null, null, null, null, null, null, null,
               null, count(*)
        from p where warehouse_id is null group by all
        """
    )


def _below_series(con: DuckDBPyConnection, review_date: date, limit: float) -> list[pd.DataFrame]:
    """The warehouse and customer levels, from the customer × SKU × week points
    (summed in DuckDB as decimals: millions of points on the demo), as summed per week
    by :func:`_sum_weeks`. Only the segment × SKU forecasts that were split to
    customers (customer_forecast_shares) have points."""
    if not _has_temp(con, _OWN.week_sums):
        return []
    frames = [_scores(_sums_of_weeks(con, "warehouse", pointwise=False), "warehouse", limit)]
    unmapped = con.execute(
        f"select count(distinct key), sum(n_points) from {_OWN.week_sums} where level = 'no_warehouse'"
    ).fetchone()
    if unmapped and unmapped[0]:
        log.info(
            "accuracy review %s: %d customers (%d customer × SKU × week points) have no warehouse on their "
            "forecast's origin (forecast_members.warehouse_id: replenishment.region_warehouse / "
            "default_warehouse): left out of the warehouse level",
            review_date,
            unmapped[0],
            unmapped[1],
        )
    frames.append(_scores(_sums_of_weeks(con, "customer", pointwise=True), "customer", limit))
    frames.append(_scores(_sums_of_weeks(con, "customer_h1", pointwise=True), "customer", limit))
    return frames


def _sums_of_weeks(con: DuckDBPyConnection, level: str, pointwise: bool) -> pd.DataFrame:
    """:data:`_SUMS` per key × horizon of the review's weeks of ``level`` in the week
    sums (:func:`_sum_weeks`). Coverage: of each point (``pointwise``: covered of
    rated, as ``avg`` counts them) or of the key × week sums."""
    if pointwise:  # as avg() of the points' 0 / 1 gave: DuckDB divides their sum by the count in doubles
        coverage = "case when sum(rated) > 0 then sum(covered)::double / sum(rated)::double end"
    else:
        coverage = "avg((week_lower <= week_actual and week_actual <= week_upper)::int)"
    frame = con.execute(
        f"""
        select key, horizon, count(*) as n_periods, sum(actual_qty)::double as actual_qty,
               sum(forecast_qty)::double as forecast_qty, sum(abs_error)::double as abs_error,
               sum(error)::double as error, sum(abs_actual)::double as abs_actual, null::double as mase,
               sum(error)::double as weekly_error, sum(abs(error))::double as weekly_abs_error,
               count(*) as n_weeks, ({coverage})::double as interval_coverage
        from {_OWN.week_sums} where level = ?
        group by key, horizon
        order by key, horizon
        """,
        [level],
    ).df()
    return frame[_SUMS]


def _has_table(con: DuckDBPyConnection, schema: str, table: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
    ).fetchall()
    return bool(found[0][0])


def _columns(con: DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


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
