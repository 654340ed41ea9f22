"""Customer segments: RFM scores, lifecycle states and segment ids.

Pure functions on order lines and the customer snapshot (the ``order_lines`` and
``customers`` marts). Every threshold is a parameter; the pipeline passes
restock.yaml's ``segmentation`` (restock.config), whose defaults these equal. Column names default to the marts'
(``customer_id``, ``order_date``, ``line_amount``, ``customer_status``, ``opened_on``,
``closed_on``, ``tier``) and can be overridden.

Conventions, chosen once and used everywhere:

- **Point in time.** ``as_of`` is the end of that day: orders dated on ``as_of``
  count, orders dated after it are ignored. The RFM window is the ``window_weeks × 7``
  days ending on ``as_of`` inclusive (26 weeks → ``as_of − 181 days .. as_of``).
- **RFM scores** (1..``n_bins``, 5 = best) are percentile bins *with ties sharing a
  score*: with ``k`` = number of scored customers whose value is no better than this
  one's (this one included) out of ``n``, score = ``ceil(n_bins × k / n)``, computed in
  integers. This is quintiles of ``rank(method="max", pct=True)``. Identical
  customers therefore always land in the same score (a rank-"first" tie-break would
  split a block of weekly orderers with 26 order days across F = 1..5 by their id),
  and the result does not depend on row order. Consequences: a value shared by the
  top customers scores ``n_bins``; if all scored customers tie, all score
  ``n_bins``; with fewer than ``n_bins`` customers some scores are skipped (n = 2 →
  3 and 5). Recency: fewer days since the last order is better.
- **Customers without an order in the window** (known from older orders or from
  ``customer_ids``) are not part of the ranking and get R = F = M = 1; their
  ``recency_days`` is still the days since their last order on or before ``as_of``
  (missing if they never ordered), frequency 0 and monetary 0.
- **Missed order cycles** = ``floor((as_of − last_order_date) / interval)`` in whole
  days, where ``interval`` is the customer's own usual interval between orders
  (:func:`usual_intervals`) or, without one, ``cycle_days``: a retailer ordering on
  its weekday every week has 0 (6 days after its last order it still has 0; on its
  next ordering day, before it orders, it has 1); one ordering every 4 weeks has 0
  three weeks after its last order.
- **Lifecycle precedence**: closed > new > (suspended or missed cycles) — see
  :func:`lifecycle_states`.

Why the customer's own rhythm, and why this rule rather than a probability-alive
model (BG/NBD, Pareto/NBD). Counting missed *weekly* cycles marks a shop that
orders every 4 or 8 weeks as churned a few weeks after each order (on the real
CDNOW purchase history 91 % of the customers on the last origin; customers churned
that way placed 54 % of the next 8 weeks' demand; 75 % with the own interval, most
of them one-time buyers).
The usual interval is the median gap between the customer's last
``rhythm_window_orders`` order days (robust to one skipped cycle, e.g. the Spring
Festival week, and it follows a customer that changes its rhythm within a few
orders), floored at ``cycle_days`` (one ordering window a week: ordering twice in a
week does not make a shop late after 4 days); with fewer than
``min_orders_for_rhythm`` order days it is ``cycle_days`` (a new shop has no rhythm
yet). Then "churned after 6 of its usual intervals" is one line a planner can check
against the order history. A probability-alive model was not chosen: BG/NBD and
Pareto/NBD assume Poisson purchasing while alive, so they ignore the regularity
that makes a missed order informative for retailers with a fixed ordering window
(Platzer & Reutterer 2016, Pareto/GGG, show regularity sharpens the inactivity
prediction; the gap rule uses exactly that); they need a population fit per day (a
numerical optimisation whose result moves with every new day and depends on the
optimiser); and a P(alive) threshold maps onto none of the existing settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

NEW = "new"
ACTIVE = "active"
AT_RISK = "at_risk"
CHURNED = "churned"
CLOSED = "closed"
LIFECYCLE_STATES = (NEW, ACTIVE, AT_RISK, CHURNED, CLOSED)

# Defaults, equal to restock.config's (the pipeline always passes the configured value).
DEFAULT_RFM_WINDOW_WEEKS = 26
DEFAULT_RFM_BINS = 5  # quintiles (domain.md, Segmentation)
DEFAULT_CYCLE_DAYS = 7  # one ordering window a week
DEFAULT_NEW_MAX_CYCLES = 4  # new during its first 4 cycles (≈ "new ≤ 30 days")
DEFAULT_AT_RISK_MISSED_CYCLES = 2
DEFAULT_CHURNED_MISSED_CYCLES = 6
OWN_INTERVAL = "own_interval"  # missed cycles of the customer's own usual interval
FIXED_CYCLE = "fixed_cycle"  # missed cycles of cycle_days for every customer
RHYTHMS = (OWN_INTERVAL, FIXED_CYCLE)
DEFAULT_RHYTHM = OWN_INTERVAL
DEFAULT_RHYTHM_WINDOW_ORDERS = 9  # the last 9 order days: 8 gaps
DEFAULT_MIN_ORDERS_FOR_RHYTHM = 3  # 2 gaps at least: one gap alone is not a rhythm
DEFAULT_TIER_BANDS = (5, 10, 15, 20, 25)  # upper ends of the tier bands, last band to max_tier
DEFAULT_MAX_TIER = 30
DEFAULT_SEGMENT_BY = ("tier_band", "channel")
SEGMENT_SEPARATOR = "|"
MISSING_KEY = "unknown"


def _as_timestamp(as_of: date | pd.Timestamp | str) -> pd.Timestamp:
    stamp = pd.Timestamp(as_of)
    if pd.isna(stamp):
        raise ValueError("as_of must be a date")
    return stamp.normalize()


def _dates(values: pd.Series | pd.Index, name: str) -> pd.Series:
    """Values as normalized datetime64 (NaT kept), raising on non-dates."""
    series = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(series):
        # already dates (as DuckDB returns them): to_datetime would only cost time,
        # sampling the values one by one to decide whether to cache them
        converted = series
    else:
        try:
            converted = pd.to_datetime(series, errors="raise")
        except (ValueError, TypeError) as exc:
            raise ValueError(f"{name} must hold dates: {exc}") from exc
    return converted.dt.tz_localize(None).dt.normalize() if converted.dt.tz is not None else converted.dt.normalize()


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{name} is missing columns {missing}; has {list(frame.columns)}")


def order_dates(
    orders: pd.DataFrame,
    as_of: date,
    customer_col: str = "customer_id",
    date_col: str = "order_date",
) -> pd.DataFrame:
    """First and last order date of each customer on or before ``as_of``.

    Returns a frame indexed by customer id (sorted) with columns ``first_order_date``
    and ``last_order_date``; orders after ``as_of`` are ignored.
    """
    _require(orders, (customer_col, date_col), "orders")
    cutoff = _as_timestamp(as_of)
    days = _dates(orders[date_col], date_col).to_numpy()
    known = pd.DataFrame({"customer_id": orders[customer_col].to_numpy(), "day": days})
    known = known[known["day"].notna() & (known["day"] <= cutoff)]
    bounds = known.groupby("customer_id", sort=True)["day"].agg(["min", "max"])
    return bounds.rename(columns={"min": "first_order_date", "max": "last_order_date"})


def percentile_scores(values: pd.Series, n_bins: int = DEFAULT_RFM_BINS, higher_is_better: bool = True) -> pd.Series:
    """Scores 1..``n_bins`` by percentile, ties sharing a score (see module docstring).

    score = ``ceil(n_bins × k / n)`` where ``k`` counts the values no better than this
    one (itself included). NaN is not allowed. Returns int64 with the same index.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    numbers = values.to_numpy(dtype=float)
    if np.isnan(numbers).any():
        raise ValueError("values to score must not be NaN")
    n = numbers.size
    if n == 0:
        return pd.Series([], index=values.index, dtype="int64")
    keyed = numbers if higher_is_better else -numbers
    ordered = np.sort(keyed)
    no_better = np.searchsorted(ordered, keyed, side="right")  # k, ties included
    scores = (no_better * n_bins + n - 1) // n  # integer ceil(n_bins * k / n)
    return pd.Series(scores.astype("int64"), index=values.index)


def rfm_scores(
    orders: pd.DataFrame,
    as_of: date,
    window_weeks: int = DEFAULT_RFM_WINDOW_WEEKS,
    n_bins: int = DEFAULT_RFM_BINS,
    customer_ids: Sequence | None = None,
    customer_col: str = "customer_id",
    date_col: str = "order_date",
    amount_col: str = "line_amount",
    amount_decimals: int | None = None,
) -> pd.DataFrame:
    """Recency, frequency, monetary and their 1..``n_bins`` scores per customer.

    ``orders`` holds order lines (one row per line, cancelled lines already removed)
    with customer id, order date and amount. For the ``window_weeks × 7`` days ending
    on ``as_of`` (inclusive; later orders are ignored):

    - ``recency_days``: days from the last order on or before ``as_of`` to ``as_of``
      (nullable Int64; missing for a customer that never ordered);
    - ``frequency``: distinct order days in the window;
    - ``monetary``: sum of ``amount_col`` in the window, added in a fixed order
      (customer, day, amount) so that the same lines give the same last digit
      whatever their row order; rounded to ``amount_decimals`` decimals when given
      (amounts in cents: 2), so that sums of exact decimal amounts that are equal
      compare equal and score alike.

    ``rfm_r`` / ``rfm_f`` / ``rfm_m`` rank only customers with an order in the window
    (ties share a score, :func:`percentile_scores`); the others get 1, 1, 1. The
    population is every customer with an order on or before ``as_of`` plus
    ``customer_ids`` (e.g. the customer snapshot). One row per customer, sorted by
    customer id, default index. Defaults 26 weeks and quintiles (restock.yaml
    ``segmentation.rfm_window_weeks`` / ``rfm_bins``).
    """
    if window_weeks < 1:
        raise ValueError(f"window_weeks must be >= 1, got {window_weeks}")
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    _require(orders, (customer_col, date_col, amount_col), "orders")
    cutoff = _as_timestamp(as_of)
    start = cutoff - pd.Timedelta(days=7 * window_weeks - 1)

    lines = pd.DataFrame(
        {
            "customer_id": orders[customer_col].to_numpy(),
            "day": _dates(orders[date_col], date_col).to_numpy(),
            "amount": pd.to_numeric(orders[amount_col], errors="raise").to_numpy(dtype=float),
        }
    )
    if lines["customer_id"].isna().any():
        raise ValueError(f"orders has a missing {customer_col}")
    lines = lines[lines["day"].notna() & (lines["day"] <= cutoff)]
    if np.isnan(lines["amount"].to_numpy()).any():
        raise ValueError(f"orders has a missing {amount_col} on or before as_of")
    # Floating-point sums depend on the order of their terms: add in an order fixed
    # by the values, not by how the rows arrived (a re-run reproduces every digit).
    lines = lines.sort_values(["customer_id", "day", "amount"], kind="mergesort", ignore_index=True)

    population = pd.Index(lines["customer_id"].unique())
    if customer_ids is not None:
        population = population.union(pd.Index(list(customer_ids)).dropna().unique())
    population = population.unique().sort_values()

    last = lines.groupby("customer_id")["day"].max()
    in_window = lines[lines["day"] >= start]
    frequency = in_window.groupby("customer_id")["day"].nunique()
    monetary = in_window.groupby("customer_id")["amount"].sum()
    if amount_decimals is not None:
        monetary = monetary.round(amount_decimals)

    result = pd.DataFrame({"customer_id": population})
    recency = (cutoff - result["customer_id"].map(last)).dt.days
    result["recency_days"] = recency.astype("Int64")
    result["frequency"] = result["customer_id"].map(frequency).fillna(0).astype("int64")
    result["monetary"] = result["customer_id"].map(monetary).fillna(0.0).astype(float)
    for column in ("rfm_r", "rfm_f", "rfm_m"):
        result[column] = np.int64(1)

    scored = result["frequency"] > 0
    if scored.any():
        active = result[scored]
        result.loc[scored, "rfm_r"] = percentile_scores(
            active["recency_days"].astype(float), n_bins, higher_is_better=False
        )
        result.loc[scored, "rfm_f"] = percentile_scores(active["frequency"], n_bins)
        result.loc[scored, "rfm_m"] = percentile_scores(active["monetary"], n_bins)
    return result.astype({"rfm_r": "int64", "rfm_f": "int64", "rfm_m": "int64"})


def missed_cycles(
    days_since_last_order: pd.Series | np.ndarray, cycle_days: float | np.ndarray = DEFAULT_CYCLE_DAYS
) -> np.ndarray:
    """``floor(days / cycle_days)``: whole order cycles passed without an order.

    ``cycle_days`` is one length for everyone or one per customer (its usual
    interval, :func:`usual_intervals`)."""
    cycles = np.asarray(cycle_days, dtype=float)
    if (np.isnan(cycles) | (cycles < 1)).any():
        raise ValueError(f"cycle_days must be >= 1, got {cycle_days}")
    return np.floor(np.asarray(days_since_last_order, dtype=float) / cycles)


def usual_intervals(
    orders: pd.DataFrame,
    as_of: date,
    window_orders: int = DEFAULT_RHYTHM_WINDOW_ORDERS,
    min_orders: int = DEFAULT_MIN_ORDERS_FOR_RHYTHM,
    cycle_days: int = DEFAULT_CYCLE_DAYS,
    customer_col: str = "customer_id",
    date_col: str = "order_date",
) -> pd.Series:
    """Each customer's usual interval between orders on ``as_of``, in days.

    ``orders`` holds the customer's order dates (order lines or one row per order
    day; several rows of one day count as one order day); dates after ``as_of`` are
    ignored (point in time), so are missing dates. For a customer with at least
    ``min_orders`` order days on or before ``as_of``: the median of the gaps between
    consecutive days among its last ``window_orders`` order days, and at least
    ``cycle_days``; with fewer order days, ``cycle_days`` (the fixed cycle). E.g.
    order days 1, 29, 57, 85 of a month-ish rhythm give gaps 28, 28, 28 → 28; days
    1, 8, 15, 36 give 7, 7, 21 → 7 (one skipped week does not move it); days 1, 3,
    5, 7 give 2 → floored to 7.

    Returns a float Series named ``usual_interval_days`` indexed by customer id
    (sorted), one row per customer with an order day on or before ``as_of``.
    """
    if window_orders < 2:
        raise ValueError(f"window_orders must be >= 2 (one gap), got {window_orders}")
    if not 2 <= min_orders <= window_orders:
        raise ValueError(f"need 2 <= min_orders <= window_orders, got {min_orders}, {window_orders}")
    if cycle_days < 1:
        raise ValueError(f"cycle_days must be >= 1, got {cycle_days}")
    _require(orders, (customer_col, date_col), "orders")
    cutoff = _as_timestamp(as_of)
    days = pd.DataFrame(
        {"customer_id": orders[customer_col].to_numpy(), "day": _dates(orders[date_col], date_col).to_numpy()}
    )
    if days["customer_id"].isna().any():
        raise ValueError(f"orders has a missing {customer_col}")
    days = days[days["day"].notna() & (days["day"] <= cutoff)].drop_duplicates()
    days = days.sort_values(["customer_id", "day"], kind="mergesort", ignore_index=True)
    # the last window_orders order days of each customer
    rank_from_last = days.groupby("customer_id", sort=False).cumcount(ascending=False)
    days = days[rank_from_last < window_orders]
    gaps = days.groupby("customer_id", sort=True)["day"].diff().dt.days
    per_customer = pd.DataFrame({"customer_id": days["customer_id"], "gap": gaps})
    counts = days.groupby("customer_id", sort=True).size()
    medians = per_customer.dropna().groupby("customer_id", sort=True)["gap"].median()
    interval = pd.Series(float(cycle_days), index=counts.index, dtype=float)
    trusted = counts.index[counts.to_numpy() >= min_orders]
    interval.loc[trusted] = np.maximum(medians.reindex(trusted).to_numpy(dtype=float), float(cycle_days))
    interval.index.name = customer_col
    return interval.rename("usual_interval_days")


def lifecycle_states(
    customers: pd.DataFrame,
    last_order_dates: pd.Series,
    as_of: date,
    new_max_cycles: int = DEFAULT_NEW_MAX_CYCLES,
    at_risk_missed_cycles: int = DEFAULT_AT_RISK_MISSED_CYCLES,
    churned_missed_cycles: int = DEFAULT_CHURNED_MISSED_CYCLES,
    cycle_days: int = DEFAULT_CYCLE_DAYS,
    first_order_dates: pd.Series | None = None,
    usual_interval_days: pd.Series | None = None,
    customer_col: str = "customer_id",
    status_col: str = "customer_status",
    opened_col: str = "opened_on",
    closed_col: str = "closed_on",
) -> pd.Series:
    """Lifecycle state of each customer on ``as_of``: new / active / at_risk / churned / closed.

    ``customers`` is the snapshot in force (one row per customer; ``status_col`` is
    active / suspended / closed; ``opened_col`` and ``closed_col`` optional columns).
    ``last_order_dates`` (and optionally ``first_order_dates``) are indexed by customer
    id, e.g. from :func:`order_dates`; a date after ``as_of`` is an error (not point in
    time). Customers absent from them never ordered. Rules, first match wins:

    1. **closed**: status ``closed``, or ``closed_on`` ≤ ``as_of`` (a future
       ``closed_on`` does not close it yet).
    2. **new**: fewer than ``new_max_cycles`` whole cycles since its start, i.e.
       ``(as_of − start).days < new_max_cycles × cycle_days`` (days 0..27 with the
       defaults), where start = ``opened_on``, or the first order when
       ``opened_on`` is missing. An ``opened_on`` after ``as_of`` also counts as new.
    3. Otherwise missed cycles ``m`` = ``floor((as_of − reference) / interval)`` with
       reference = last order, or ``opened_on`` for a customer that never ordered
       (every cycle since opening was missed); no order and no ``opened_on`` → churned.
       ``interval`` = the customer's ``usual_interval_days`` (indexed by customer id,
       e.g. from :func:`usual_intervals`; each at least 1), ``cycle_days`` where it
       has none or when none are given (the fixed weekly cycle).
       ``m ≥ churned_missed_cycles`` → churned, ``m ≥ at_risk_missed_cycles`` →
       at_risk, else active. With a 28-day interval and the defaults: active until
       day 55 after the last order, at_risk from day 56, churned from day 168.
    4. **suspended** customers are at least at_risk: active → at_risk, churned stays
       churned.

    "New" always counts fixed cycles: a shop without history has no rhythm yet.

    Returns a Series named ``lifecycle_state`` indexed by customer id, in the order of
    ``customers``. Defaults 4 / 2 / 6 cycles of 7 days (restock.yaml
    ``segmentation.lifecycle``).
    """
    if cycle_days < 1:
        raise ValueError(f"cycle_days must be >= 1, got {cycle_days}")
    if not new_max_cycles >= 0:
        raise ValueError(f"new_max_cycles must be >= 0, got {new_max_cycles}")
    if not 1 <= at_risk_missed_cycles <= churned_missed_cycles:
        raise ValueError(
            "need 1 <= at_risk_missed_cycles <= churned_missed_cycles, got "
            f"{at_risk_missed_cycles}, {churned_missed_cycles}"
        )
    _require(customers, (customer_col, status_col), "customers")
    ids = customers[customer_col]
    if ids.isna().any():
        raise ValueError(f"customers has a missing {customer_col}")
    if ids.duplicated().any():
        raise ValueError(f"customers has duplicate {customer_col}: {list(ids[ids.duplicated()].unique()[:5])}")
    cutoff = _as_timestamp(as_of)

    def by_customer(series: pd.Series | None, name: str) -> np.ndarray:
        if series is None:
            return np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")
        dates = _dates(series, name)
        dates.index = series.index
        if (dates > cutoff).any():
            raise ValueError(f"{name} has dates after as_of {cutoff.date()}; compute them point in time")
        if dates.index.duplicated().any():
            raise ValueError(f"{name} has duplicate customer ids")
        return ids.map(dates).to_numpy(dtype="datetime64[ns]")

    last = by_customer(last_order_dates, "last_order_dates")
    first = by_customer(first_order_dates, "first_order_dates")

    def column_dates(column: str) -> np.ndarray:
        if column not in customers.columns:
            return np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")
        return _dates(customers[column], column).to_numpy(dtype="datetime64[ns]")

    opened = column_dates(opened_col)
    closed_on = column_dates(closed_col)
    status = customers[status_col].astype("string").str.strip().str.lower().fillna("").to_numpy()
    now = np.datetime64(cutoff.to_datetime64(), "ns")
    day = np.timedelta64(1, "D")

    is_closed = (status == "closed") | (~np.isnat(closed_on) & (closed_on <= now))
    start = np.where(np.isnat(opened), first, opened)
    days_since_start = (now - start) / day  # NaN where unknown
    with np.errstate(invalid="ignore"):
        is_new = ~np.isnat(start) & (days_since_start < new_max_cycles * cycle_days)
    reference = np.where(np.isnat(last), opened, last)
    interval = np.full(len(ids), float(cycle_days))
    if usual_interval_days is not None:
        if usual_interval_days.index.duplicated().any():
            raise ValueError("usual_interval_days has duplicate customer ids")
        own = ids.map(usual_interval_days.astype(float)).to_numpy(dtype=float)
        if (own[~np.isnan(own)] < 1).any():
            raise ValueError("usual_interval_days must be >= 1 day")
        # a customer that never ordered counts its cycles since opening in cycle_days
        interval = np.where(np.isnan(own) | np.isnat(last), interval, own)
    missed = missed_cycles((now - reference) / day, interval)  # NaN → never ordered, no opening
    with np.errstate(invalid="ignore"):
        by_missed = np.where(
            np.isnan(missed) | (missed >= churned_missed_cycles),
            CHURNED,
            np.where(missed >= at_risk_missed_cycles, AT_RISK, ACTIVE),
        )
    by_missed = np.where((status == "suspended") & (by_missed == ACTIVE), AT_RISK, by_missed)
    states = np.where(is_closed, CLOSED, np.where(is_new, NEW, by_missed))
    return pd.Series(states, index=pd.Index(ids.to_numpy(), name=customer_col), name="lifecycle_state", dtype=object)


def tier_band_labels(
    tiers: pd.Series,
    tier_bands: Sequence[int] = DEFAULT_TIER_BANDS,
    max_tier: int = DEFAULT_MAX_TIER,
) -> pd.Series:
    """Tier band label of each tier, e.g. tier 7 → ``"T06-10"``.

    ``tier_bands`` are the inclusive upper ends of the bands, increasing; tiers above
    the last end form a final band up to ``max_tier``: the defaults (5, 10, 15, 20, 25)
    and 30 give T01-05, T06-10, …, T21-25, T26-30. A tier outside 1..``max_tier`` or
    not a whole number raises; a missing tier gives ``"unknown"``. Defaults: restock.yaml
    ``segmentation.tier_bands``.
    """
    edges = [int(edge) for edge in tier_bands]
    if any(edge != raw for edge, raw in zip(edges, tier_bands, strict=True)):
        raise ValueError(f"tier_bands must be whole numbers, got {tuple(tier_bands)}")
    if not edges or edges[0] < 1 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise ValueError(f"tier_bands must be increasing and >= 1, got {tuple(tier_bands)}")
    if edges[-1] > max_tier:
        raise ValueError(f"tier_bands end {edges[-1]} is above max_tier {max_tier}")
    if edges[-1] < max_tier:
        edges.append(max_tier)
    lows = [1] + [edge + 1 for edge in edges[:-1]]
    names = np.array([f"T{low:02d}-{high:02d}" for low, high in zip(lows, edges, strict=True)], dtype=object)

    values = pd.to_numeric(tiers, errors="raise").to_numpy(dtype=float)
    known = ~np.isnan(values)
    if (values[known] != np.round(values[known])).any():
        raise ValueError("tiers must be whole numbers")
    if ((values[known] < 1) | (values[known] > max_tier)).any():
        raise ValueError(f"tiers must be within 1..{max_tier}")
    labels = np.full(values.size, MISSING_KEY, dtype=object)
    labels[known] = names[np.searchsorted(np.asarray(edges, dtype=float), values[known], side="left")]
    return pd.Series(labels, index=tiers.index, name="tier_band", dtype=object)


def segment_ids(
    frame: pd.DataFrame,
    by: Sequence[str] = DEFAULT_SEGMENT_BY,
    tier_bands: Sequence[int] = DEFAULT_TIER_BANDS,
    max_tier: int = DEFAULT_MAX_TIER,
    tier_col: str = "tier",
    sep: str = SEGMENT_SEPARATOR,
) -> pd.Series:
    """Segment id of each row: the values of the ``by`` columns joined by ``sep``.

    ``"tier_band"`` in ``by`` is taken from the frame if it has that column, otherwise
    derived from ``tier_col`` with :func:`tier_band_labels`. Other keys are used as
    they are (stringified, surrounding spaces stripped); a missing value becomes
    ``"unknown"``. A key containing ``sep`` raises (the id must split back). E.g.
    tier 7, channel 便利店 → ``"T06-10|便利店"``. Returns a Series named
    ``segment_id`` with the frame's index. ``by`` default (tier_band, channel)
    (restock.yaml ``segmentation.segment_by``).
    """
    keys = list(by)
    if not keys:
        raise ValueError("by must name at least one column")
    parts = []
    for key in keys:
        if key == "tier_band" and key not in frame.columns:
            _require(frame, (tier_col,), "frame")
            column = tier_band_labels(frame[tier_col], tier_bands, max_tier)
        else:
            _require(frame, (key,), "frame")
            column = frame[key]
        text = column.astype("string").str.strip()
        text = text.mask(text.isna() | (text == ""), MISSING_KEY)
        if text.str.contains(sep, regex=False).any():
            raise ValueError(f"column {key!r} has a value containing the separator {sep!r}")
        parts.append(text.astype(object).to_numpy())
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + sep + part
    return pd.Series(joined, index=frame.index, name="segment_id", dtype=object)
