"""Top-down split of segment × SKU forecasts to customer × SKU (Gross & Sohl 1990).

The segment forecast covers the demand of every customer of the segment, those
that lapse and come back included (:mod:`restock.forecasting.origins`); this module
decides who is expected to place it. Each customer's weight within its segment for
a SKU, aware of its lifecycle state (``customer_segments`` on the forecast origin):

- **active / at_risk**: its own demand for the SKU over the last ``share_window_weeks``
  complete weeks (its recent share);
- **new**: the segment's average per established customer for that SKU (it starts
  from its peers; its own few weeks are too short to trust);
- **churned**: nothing while the segment has a new, active or at_risk customer: it
  is overdue by ``churned_missed_cycles`` of *its own* usual intervals, and it gets
  no order suggestion either (so what it may still buy is placed on the customers
  that do order). Only in a segment with no such customer do its churned customers
  carry the forecast, by their own recent demand or else equally
  (``basis = "churned_only"``): somebody there may still order, and a forecast
  without customers would be lost to the customer level and the warehouse plans;
- **closed**: nothing, ever (a closed shop orders nothing).

share = weight ÷ Σ weights of the segment × SKU, so the customer forecasts of a
segment × SKU sum to its forecast: renormalising over the customers that can order
moves the demand of those that get nothing onto them, the total does not shrink.
When every eligible weight is zero (nobody in the segment bought the SKU recently)
the forecast is split equally among the eligible customers (``basis =
"equal_split"``); a segment × SKU whose customers are all closed gets no customer
rows and is counted by the caller.

The weights are added in customer order whatever the row order of the inputs, so the
shares are the same to the last digit on every run.

**Intervals from the customer's own variability** (:func:`interval_ratios`). A
customer row's bounds are its point forecast × ``lower_ratio`` / ``upper_ratio``:
empirical quantiles of the customer × SKU's own weekly demand divided by its mean,
over the last :data:`RATIO_WINDOW_WEEKS` (26) complete weeks, weeks without an order
counted as 0 (weeks before the customer's first order are not counted):

- 26 weeks: enough weeks for the 10 % / 90 % quantiles (≥ 9 needed, below) and two
  to six orders of a customer that orders every 4-8 weeks, yet short enough not to
  span a whole year, whose seasonal swing (Spring Festival) the point forecast
  already follows: counting it as week-to-week spread would widen every interval;
- quantiles at the plotting positions ``p(n + 1)`` of the n weeks (numpy's
  ``weibull`` method, linear between order statistics): for independent weeks the
  interval between the j-th and k-th smallest covers a future week with probability
  ``(k − j) / (n + 1)`` whatever the distribution (order statistics, Wilks 1941), so
  positions ``α/2·(n+1)`` and ``(1 − α/2)·(n+1)`` give ``level`` and no distribution
  is fitted (a negative binomial or a Poisson mixture would need a shape for how
  customers space their orders, which is what varies between them);
- when the lower quantile is 0 (the customer's slowest ``α/2`` of weeks are weeks
  without an order: a customer that orders every 2 weeks or less often), the lower
  bound 0 covers every such week, so the whole ``α`` goes to the upper tail: the
  upper ratio is the ``1 − α`` quantile and the interval still covers ``level``;
- the forecast stays inside its interval (``lower_ratio ≤ 1 ≤ upper_ratio``, the
  published gate's rule). For a customer with more than ``level`` of its weeks
  without an order (every 8 weeks: 7 in 8) no interval of this form can cover only
  ``level``: one that contains 0 already covers every week without an order
  (87.5 %), one that does not covers at most the order weeks. Its interval is
  [0, forecast] (coverage = its share of weeks without an order);
- small samples: own ratios need ``n ≥ 2 / α − 1`` counted weeks (9 at 80 %), the
  fewest for which both positions fall inside the sample (below, [min, max] would
  cover only ``(n − 1) / (n + 1)``) and a positive mean. Customers without them
  (new ones, a customer × SKU it did not buy in the window, equal splits) take their
  segment × SKU's **pooled** ratios: the same quantiles over the normalised weeks of
  the segment's established (active / at_risk) customers with own ratios for the
  SKU. Without those either, the ratios are null and the customer row keeps the
  segment bound × share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

ELIGIBLE_ESTABLISHED = ("active", "at_risk")
ELIGIBLE_NEW = ("new",)
# Only where a segment has no eligible (new / active / at_risk) customer.
FALLBACK_CHURNED = ("churned",)
SHARE_COLUMNS = ["segment_id", "sku", "customer_id", "share", "basis", "lower_ratio", "upper_ratio"]
# Weeks of own demand the interval ratios are measured on (module docstring: why 26).
RATIO_WINDOW_WEEKS = 26
# Share bases whose point forecast follows the customer's own demand: own ratios.
OWN_RATIO_BASES = ("own_history", "churned_only")


def customer_shares(
    recent: pd.DataFrame,
    customers: pd.DataFrame,
    series: pd.DataFrame,
    weekly: pd.DataFrame | WeeklyCells | None = None,
    *,
    last_week: date | None = None,
    window_weeks: int = RATIO_WINDOW_WEEKS,
    level: float = 0.8,
    first_weeks: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Shares of each eligible customer in each segment × SKU of ``series``.

    ``recent``: customer_id, sku, qty (the customer's demand over the share window);
    ``customers``: customer_id, segment_id, lifecycle_state on the origin;
    ``series``: segment_id, sku to split. Returns :data:`SHARE_COLUMNS`, shares of
    one segment × SKU summing to 1, ``basis`` one of own_history / peer_average /
    equal_split / churned_only (the module docstring has the rules).

    ``lower_ratio`` / ``upper_ratio``: the interval of the customer row relative to its
    point forecast (:func:`interval_ratios` on ``weekly``, the customer × SKU weekly
    demand of the ``window_weeks`` weeks ending with ``last_week``, and ``first_weeks``):
    own ratios for the bases that follow the customer's own demand
    (:data:`OWN_RATIO_BASES`) when it has them, else its segment × SKU's pooled ratios
    (over the established customers), else null (the segment bound × share applies).
    Without ``weekly`` every ratio is null. ``weekly`` may also be :class:`WeeklyCells`
    (the same demand as arrays, read by ``origins._ratio_cells``: same ratios).
    """
    people = customers[["customer_id", "segment_id", "lifecycle_state"]]
    established = people[people["lifecycle_state"].isin(ELIGIBLE_ESTABLISHED)]
    newcomers = people[people["lifecycle_state"].isin(ELIGIBLE_NEW)]
    wanted = series[["segment_id", "sku"]].drop_duplicates()
    with_eligible = set(established["segment_id"]) | set(newcomers["segment_id"])
    churned = people[people["lifecycle_state"].isin(FALLBACK_CHURNED) & ~people["segment_id"].isin(with_eligible)]

    ordered = recent.sort_values(["customer_id", "sku", "qty"], kind="mergesort")
    bought = ordered.groupby(["customer_id", "sku"], as_index=False)["qty"].sum()
    bought = bought[bought["qty"] > 0]
    own = bought.merge(established[["customer_id", "segment_id"]], on="customer_id")
    own = own.merge(wanted, on=["segment_id", "sku"])
    own = own.assign(weight=own["qty"].astype(float), basis="own_history")
    own = own.sort_values(["segment_id", "sku", "customer_id"], kind="mergesort", ignore_index=True)

    per_segment = established.groupby("segment_id").size().reset_index(name="n_established")
    peer = own.groupby(["segment_id", "sku"], as_index=False)["weight"].sum()
    peer = peer.merge(per_segment, on="segment_id")
    peer["weight"] = peer["weight"] / peer["n_established"]
    new_rows = newcomers[["customer_id", "segment_id"]].merge(peer[["segment_id", "sku", "weight"]], on="segment_id")
    new_rows = new_rows.assign(basis="peer_average")

    weighted = pd.concat(
        [
            own[["segment_id", "sku", "customer_id", "weight", "basis"]],
            new_rows[["segment_id", "sku", "customer_id", "weight", "basis"]],
        ],
        ignore_index=True,
    )
    covered = weighted[["segment_id", "sku"]].drop_duplicates()
    uncovered = wanted.merge(covered, on=["segment_id", "sku"], how="left", indicator=True)
    uncovered = uncovered[uncovered["_merge"] == "left_only"][["segment_id", "sku"]]
    eligible = pd.concat([established, newcomers])[["customer_id", "segment_id"]]
    equal = uncovered.merge(eligible, on="segment_id").assign(weight=1.0, basis="equal_split")

    # Segments with nobody eligible: their churned customers, by own recent demand,
    # else equally.
    lapsed = bought.merge(churned[["customer_id", "segment_id"]], on="customer_id")
    lapsed = lapsed.merge(wanted, on=["segment_id", "sku"]).assign(basis="churned_only")
    lapsed["weight"] = lapsed["qty"].astype(float)
    left = uncovered.merge(lapsed[["segment_id", "sku"]].drop_duplicates(), how="left", indicator=True)
    left = left[left["_merge"] == "left_only"][["segment_id", "sku"]]
    lapsed_equal = left.merge(churned[["customer_id", "segment_id"]], on="segment_id")
    lapsed_equal = lapsed_equal.assign(weight=1.0, basis="churned_only")

    columns = ["segment_id", "sku", "customer_id", "weight", "basis"]
    shares = pd.concat(
        [weighted, equal[columns], lapsed[columns], lapsed_equal[columns]],
        ignore_index=True,
    )
    shares = shares.sort_values(["segment_id", "sku", "customer_id"], kind="mergesort", ignore_index=True)
    totals = shares.groupby(["segment_id", "sku"])["weight"].transform("sum")
    shares["share"] = shares["weight"] / totals
    if weekly is None:
        shares["lower_ratio"] = shares["upper_ratio"] = np.nan
        return shares[SHARE_COLUMNS]
    if last_week is None:
        raise ValueError("last_week is required with weekly (the last week of the interval window)")
    ratios = interval_ratios(
        weekly,
        last_week,
        window_weeks=window_weeks,
        level=level,
        first_weeks=first_weeks,
        pool=established[["customer_id", "segment_id"]],
    )
    return _with_ratios(shares, ratios)[SHARE_COLUMNS]


def _with_ratios(shares: pd.DataFrame, ratios: IntervalRatios) -> pd.DataFrame:
    own = ratios.own[["customer_id", "sku", "lower_ratio", "upper_ratio"]]
    pooled = ratios.pooled[["segment_id", "sku", "lower_ratio", "upper_ratio"]]
    out = shares.merge(own, on=["customer_id", "sku"], how="left")
    out = out.merge(pooled, on=["segment_id", "sku"], how="left", suffixes=("", "_pooled"))
    use_own = out["basis"].isin(OWN_RATIO_BASES) & out["lower_ratio"].notna()
    for column in ("lower_ratio", "upper_ratio"):
        out[column] = out[column].where(use_own, out[f"{column}_pooled"]).astype(float)
    return out


@dataclass(frozen=True)
class WeeklyCells:
    """The customer × SKU weekly demand of the weeks ``last_week − (window_weeks − 1)
    weeks .. last_week`` as arrays: what :func:`interval_ratios` makes of a ``weekly``
    frame, read straight from the warehouse by ``origins._ratio_cells`` (no frame of
    every customer × SKU × week: issue 13).

    Per customer × SKU (one element each, sorted by customer_id then sku):
    ``customer_id``, ``sku``, ``first_row`` (the window week, 0-based, of its first
    row whatever its demand). Per row of demand: ``pair`` (index into the customer ×
    SKUs), ``week`` (0-based window week), ``qty``; the rows of one week are added
    in array order, a week without a row is 0, so rows of demand 0 may be left out.
    Customer × SKUs without any non-zero demand may be left out too (their mean is
    0: no own ratios).
    """

    last_week: date
    window_weeks: int
    customer_id: np.ndarray
    sku: np.ndarray
    first_row: np.ndarray
    pair: np.ndarray
    week: np.ndarray
    qty: np.ndarray


@dataclass(frozen=True)
class IntervalRatios:
    """``own``: customer_id, sku, n_weeks, lower_ratio, upper_ratio (customer × SKUs
    with enough counted weeks and a positive mean); ``pooled``: segment_id, sku,
    n_customers, lower_ratio, upper_ratio (the pool's customers with own ratios)."""

    own: pd.DataFrame
    pooled: pd.DataFrame


def min_ratio_weeks(level: float) -> int:
    """Fewest counted weeks for own ratios at interval ``level``: ``2 / α − 1`` (9 at
    80 %), the smallest n whose plotting positions ``α/2·(n+1)`` and ``(1−α/2)·(n+1)``
    fall inside the sample."""
    _check_level(level)
    return max(math.ceil(round(2 / (1 - level), 9)) - 1, 1)


def interval_ratios(
    weekly: pd.DataFrame | WeeklyCells,
    last_week: date,
    *,
    window_weeks: int = RATIO_WINDOW_WEEKS,
    level: float = 0.8,
    first_weeks: pd.DataFrame | None = None,
    pool: pd.DataFrame | None = None,
) -> IntervalRatios:
    """Interval bounds of each customer × SKU relative to its point forecast, from its
    own week-to-week spread (the module docstring has the rules and why).

    ``weekly``: customer_id, sku, week_start (a Monday), qty: the demand of the weeks
    ``last_week − (window_weeks − 1) weeks .. last_week``; a week without a row is 0,
    several rows of one week are added. ``first_weeks`` (optional): customer_id,
    first_week (Monday of its first order week): weeks before it are not counted.
    ``pool`` (optional): customer_id, segment_id of the customers whose normalised
    weeks make each segment × SKU's pooled ratios. Pure: same rows in any order give
    the same ratios to the last digit. ``weekly`` may also be :class:`WeeklyCells` of
    the same window (same ratios, without decoding a frame).
    """
    _check_level(level)
    if isinstance(window_weeks, bool) or not isinstance(window_weeks, int) or window_weeks < 1:
        raise ValueError(f"window_weeks must be a positive integer, got {window_weeks!r}")
    if isinstance(weekly, WeeklyCells):
        if (weekly.last_week, weekly.window_weeks) != (last_week, window_weeks):
            raise ValueError(
                f"weekly cells cover the {weekly.window_weeks} weeks ending {weekly.last_week}, "
                f"not the {window_weeks} weeks ending {last_week}"
            )
        return _ratios_of_cells(weekly, level, first_weeks, pool)
    return _ratios_of_cells(_weekly_cells(weekly, last_week, window_weeks), level, first_weeks, pool)


def _weekly_cells(weekly: pd.DataFrame, last_week: date, window_weeks: int) -> WeeklyCells:
    """:class:`WeeklyCells` of a ``weekly`` frame (:func:`interval_ratios`), checked:
    rows of one cell added in a fixed order, so any row order gives the same sums."""
    missing = {"customer_id", "sku", "week_start", "qty"} - set(weekly.columns)
    if missing:
        raise ValueError(f"weekly is missing column(s) {sorted(missing)}")
    first = last_week - timedelta(weeks=window_weeks - 1)
    rows = weekly[["customer_id", "sku", "week_start", "qty"]].reset_index(drop=True)
    qty = pd.to_numeric(rows["qty"], errors="coerce").astype(float).to_numpy()
    bad = ~np.isfinite(qty)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"weekly row {i} (customer {rows.at[i, 'customer_id']!r}, sku {rows.at[i, 'sku']!r}, "
            f"week {rows.at[i, 'week_start']}): column qty is {str(rows.at[i, 'qty'])!r}, not a finite number"
        )
    days = (pd.to_datetime(rows["week_start"]) - pd.Timestamp(first)).dt.days.to_numpy()
    week = days // 7
    bad = (days % 7 != 0) | (week < 0) | (week >= window_weeks)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"weekly row {i} (customer {rows.at[i, 'customer_id']!r}, sku {rows.at[i, 'sku']!r}): "
            f"column week_start {rows.at[i, 'week_start']} is not one of the {window_weeks} week starts "
            f"{first}..{last_week}"
        )
    if rows.empty:
        none = np.array([], dtype=object)
        empty = np.array([], dtype=int)
        return WeeklyCells(last_week, window_weeks, none, none, empty, empty, empty, np.array([], dtype=float))
    keys = pd.MultiIndex.from_arrays([rows["customer_id"], rows["sku"]])
    pairs = keys.unique().sort_values()
    pair = pairs.get_indexer(keys)
    first_row = np.full(len(pairs), window_weeks)
    np.minimum.at(first_row, pair, week)
    # np.add.at adds the rows of one cell in row order: sort first, so any input order
    # gives the same sums.
    order = np.lexsort((qty, week, pair))
    return WeeklyCells(
        last_week,
        window_weeks,
        pairs.get_level_values(0).to_numpy(),
        pairs.get_level_values(1).to_numpy(),
        first_row,
        pair[order],
        week[order],
        qty[order],
    )


def _ratios_of_cells(
    cells: WeeklyCells, level: float, first_weeks: pd.DataFrame | None, pool: pd.DataFrame | None
) -> IntervalRatios:
    own_columns = ["customer_id", "sku", "n_weeks", "lower_ratio", "upper_ratio"]
    pooled_columns = ["segment_id", "sku", "n_customers", "lower_ratio", "upper_ratio"]
    if not len(cells.customer_id):
        return IntervalRatios(pd.DataFrame(columns=own_columns), pd.DataFrame(columns=pooled_columns))

    window_weeks = cells.window_weeks
    first = cells.last_week - timedelta(weeks=window_weeks - 1)
    matrix = np.zeros((len(cells.customer_id), window_weeks))
    np.add.at(matrix, (cells.pair, cells.week), cells.qty)
    # Weeks before the customer's first order are not counted (they were not its weeks).
    start = np.zeros(len(cells.customer_id), dtype=int)
    if first_weeks is not None:
        firsts = first_weeks.drop_duplicates("customer_id").set_index("customer_id")["first_week"]
        found = pd.to_datetime(pd.Series(cells.customer_id).map(firsts))
        offset = ((found - pd.Timestamp(first)).dt.days // 7).fillna(0).to_numpy()
        # never after a week the customer x SKU has a row in
        start = np.clip(offset, 0, cells.first_row).astype(int)
    counted = np.arange(window_weeks)[None, :] >= start[:, None]
    n = counted.sum(axis=1)
    total = np.where(counted, matrix, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(n > 0, total / np.maximum(n, 1), 0.0)
    valid = (n >= min_ratio_weeks(level)) & (mean > 0)
    alpha = 1 - level
    normalised = np.where(counted, matrix / np.where(mean > 0, mean, 1.0)[:, None], np.nan)[valid]
    ascending = np.sort(normalised, axis=1)  # NaN (weeks not counted) last
    lower, upper = _ratio_bounds(ascending, n[valid], alpha)
    own = pd.DataFrame(
        {
            "customer_id": cells.customer_id[valid],
            "sku": cells.sku[valid],
            "n_weeks": n[valid],
            "lower_ratio": lower,
            "upper_ratio": upper,
        }
    )
    if pool is None or own.empty:
        return IntervalRatios(own[own_columns], pd.DataFrame(columns=pooled_columns))

    # Pooled: every counted normalised week of the pool's customers with own ratios.
    segments = pool.drop_duplicates("customer_id").set_index("customer_id")["segment_id"]
    segment = own["customer_id"].map(segments)
    member = segment.notna().to_numpy()
    if not member.any():
        return IntervalRatios(own[own_columns], pd.DataFrame(columns=pooled_columns))
    group_keys = pd.MultiIndex.from_arrays([segment[member], own["sku"][member]])
    groups = group_keys.unique().sort_values()
    code = groups.get_indexer(group_keys)
    # Each segment × SKU's weeks in ascending order: its customers' sorted rows one group
    # after the other, then one stable sort by (group, value) as complex numbers (numpy
    # orders them by real, then imaginary part): the values of np.lexsort((value, group)),
    # in about half its time, timsort merging the sorted rows (issue 13).
    rows = np.argsort(code, kind="stable")
    values = ascending[member][rows]
    flat_code = np.repeat(code[rows], values.shape[1])
    flat = values.ravel()
    keep = ~np.isnan(flat)
    keyed = np.empty(int(keep.sum()), dtype=complex)
    keyed.real = flat_code[keep]
    keyed.imag = flat[keep]
    flat = np.sort(keyed, kind="stable").imag
    sizes = np.bincount(flat_code[keep], minlength=len(groups))
    low, high = _ratio_bounds(flat, sizes, alpha, starts=np.cumsum(sizes) - sizes)
    pooled = pd.DataFrame(
        {
            "segment_id": groups.get_level_values(0),
            "sku": groups.get_level_values(1),
            "n_customers": np.bincount(code, minlength=len(groups)),
            "lower_ratio": low,
            "upper_ratio": high,
        }
    )
    return IntervalRatios(own[own_columns], pooled[pooled_columns])


def _ratio_bounds(
    values: np.ndarray, sizes: np.ndarray, alpha: float, starts: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(lower_ratio, upper_ratio) of each sorted sample: rows of a 2-D ``values``
    (NaN-padded at the end), or the runs ``starts[i] .. + sizes[i]`` of a 1-D one."""
    lower = _weibull_quantile(values, sizes, alpha / 2, starts)
    upper = np.where(
        lower <= 0,
        _weibull_quantile(values, sizes, 1 - alpha, starts),
        _weibull_quantile(values, sizes, 1 - alpha / 2, starts),
    )
    return np.clip(lower, 0.0, 1.0), np.maximum(upper, 1.0)


def _weibull_quantile(values: np.ndarray, sizes: np.ndarray, p: float, starts: np.ndarray | None) -> np.ndarray:
    """Quantile ``p`` of each sorted sample at position ``p·(n + 1)`` (1-based, clipped
    to 1..n, linear between order statistics): ``np.quantile(method="weibull")``."""
    n = sizes.astype(float)
    position = np.clip(p * (n + 1), 1.0, np.maximum(n, 1.0)) - 1.0
    below = np.floor(position).astype(int)
    above = np.minimum(below + 1, np.maximum(sizes - 1, 0))
    fraction = position - below
    if starts is None:
        rows = np.arange(values.shape[0])
        low, high = values[rows, below], values[rows, above]
    else:
        low, high = values[starts + below], values[starts + above]
    return low + fraction * (high - low)


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
