"""Promotions as a weekly regressor of the calendar models (issue 11, item 5).

The promotions extract (:data:`restock.contract.EXTRACTS`, ``promotions``) is a full
list per SKU of ``start_date`` .. ``end_date`` (inclusive) with an optional
``discount_pct`` (10 = 10 %), delivered as a snapshot whenever it changes
(``stg_crm__promotions``: one row per snapshot date × SKU × start date).

Point in time. At forecast origin ``O`` only snapshots dated on or before ``O`` exist.
Day ``d`` is read from the snapshot in force on ``min(d, O)`` — the latest snapshot
dated on or before it, as every snapshot extract of the marts is read
(``snapshot_ranges`` in dbt_project/macros/dates.sql):

- a history day uses the list that was in force that day, i.e. what actually ran as
  the CRM knew it then (a promotion cut short or cancelled by a later file stops on
  the day that file is in force);
- a future day (``d > O``) uses the latest list on or before ``O``: a promotion
  announced after ``O`` is not used, one announced before ``O`` for a future week is;
- a day before the first snapshot uses the first snapshot (≤ ``O``): the list
  delivered at onboarding names the promotions that ran before it, which is all that
  is known of them.

An empty promotions file is a snapshot too (the list became empty): the reader takes
the snapshot dates from the load ledger, not only from the rows.

Weekly regressor (Monday weeks): the sum over the week's days of a day value times
the day's weight (:func:`day_weights`): the share of a week's demand ordered on that
weekday (from the order lines of the 52 weeks up to the origin; 1/7 each without
them), 0 on a public holiday (:func:`restock.calendar.is_holiday`: no orders are
taken, so a promotion day then lifts nothing). It is the share of a normal week's
demand that falls on promotion days, × the depth:

- ``discount`` (default): day value ``discount_pct / 100`` — share × depth. The lift
  grows with the depth (the demo's: ×(1 + 0.06 × discount_pct) per day), and on the
  demo it fitted better than the day share (benchmarks/bench_promotions.py). A SKU
  with a promotion without a discount falls back to ``days`` (one unit per SKU so
  its coefficient stays one effect);
- ``days``: day value 1 — the share of the week's demand under promotion.

Two promotions of one SKU on the same day count once, at the deeper discount.

Use (:func:`attach_promotions`): a series gets the regressor only when its own
history has at least ``min_promo_weeks`` (default 2) weeks with a promotion outside
the weeks of the calendar regressors (Spring Festival −3..+3 weeks, holiday weeks).
Fewer weeks cannot estimate an effect (one week would be fitted exactly, noise
included); promotion weeks that fall on a calendar event cannot be told from it —
with one Spring Festival in the history, a promotion in its run-up took part of the
festival peak as its own lift, and the next festival was then forecast low (demo,
segment × SKU: a 14-day 10 % promotion ending on the eve of the 2024 festival).
Without it nothing changes: the models see exactly the calendar regressors they saw
before (same forecasts, byte for byte). With it, the column is appended to the
calendar regressors of ``sarimax_calendar`` (alone and inside the combination), whose
regression coefficients the Kalman filter estimates (GLS), so it costs no extra
optimiser parameter.

The effect is additive in units (the model is linear in levels): a lift
proportional to the level is estimated well while the level stays near its level
over the history.

Everything here is pure except :func:`read_promotions` (DuckDB reads).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd

PromoWeight = Literal["discount", "days"]

DEFAULT_WEIGHT: PromoWeight = "discount"
DEFAULT_MIN_PROMO_WEEKS = 2
PROMOTION_COLUMNS = ("sku", "start_date", "end_date", "discount_pct", "snapshot_date")
# Where the reader finds them: the typed staging view and the load ledger of raw.
STAGING_RELATION = ("staging", "stg_crm__promotions")
LOADS_RELATION = ("raw", "_loads")
ORDER_LINES_RELATION = ("marts", "order_lines")


def _as_date(value: object) -> date:
    return pd.Timestamp(value).date()


def in_force_snapshots(snapshot_dates: Iterable[date], origin: date) -> list[date]:
    """The snapshot dates known on ``origin`` (dated on or before it), ascending."""
    return sorted({_as_date(d) for d in snapshot_dates if _as_date(d) <= origin})


def daily_promotions(
    promotions: pd.DataFrame,
    origin: date,
    first_day: date,
    n_days: int,
    weight: PromoWeight = DEFAULT_WEIGHT,
    snapshot_dates: Iterable[date] | None = None,
) -> dict[str, np.ndarray]:
    """Per SKU, the value of each day ``first_day .. first_day + n_days − 1`` as known
    on ``origin`` (module docstring: snapshot in force on ``min(day, origin)``).

    ``promotions``: columns :data:`PROMOTION_COLUMNS` (``discount_pct`` may be null).
    ``snapshot_dates``: every snapshot date, empty snapshots included (None: the dates
    present in ``promotions``). A day's value is 1 (``days``) or ``discount_pct / 100``
    (``discount``; a SKU with any promotion without a discount gets ``days`` values
    throughout). SKUs without a promotion day in the range are left out.
    """
    _check_weight(weight)
    if n_days < 0:
        raise ValueError(f"n_days must be >= 0, got {n_days}")
    missing = [c for c in PROMOTION_COLUMNS if c not in promotions.columns]
    if missing:
        raise ValueError(f"promotions lacks column(s) {missing}; expected {list(PROMOTION_COLUMNS)}")
    if n_days == 0 or promotions.empty and snapshot_dates is None:
        return {}
    dates = promotions["snapshot_date"] if snapshot_dates is None else snapshot_dates
    snapshots = in_force_snapshots(dates, origin)
    if not snapshots:
        return {}
    # Days each snapshot is in force for (as day offsets from first_day): from its
    # date (the first one: from the start) to the day before the next one (the last
    # one: for ever, every day after the origin included).
    offsets = np.array([(s - first_day).days for s in snapshots], dtype=np.int64)
    lo = np.maximum(offsets, 0)
    lo[0] = 0
    hi = np.append(offsets[1:] - 1, n_days - 1).clip(max=n_days - 1)
    ranges = pd.DataFrame({"snapshot_date": snapshots, "lo": lo, "hi": hi})
    rows = promotions.loc[:, list(PROMOTION_COLUMNS)].copy()
    bad = rows["sku"].isna() | rows["start_date"].isna() | rows["end_date"].isna()
    if bad.any():
        row = rows[bad].iloc[0]
        raise ValueError(
            f"promotion of snapshot {row['snapshot_date']} without sku, start_date or end_date: {dict(row)}"
        )
    rows["snapshot_date"] = [_as_date(d) for d in rows["snapshot_date"]]
    rows = rows.merge(ranges, on="snapshot_date", how="inner")
    rows["a"] = np.maximum((pd.to_datetime(rows["start_date"]) - pd.Timestamp(first_day)).dt.days, rows["lo"])
    rows["b"] = np.minimum((pd.to_datetime(rows["end_date"]) - pd.Timestamp(first_day)).dt.days, rows["hi"])
    rows = rows[rows["a"] <= rows["b"]]
    pct = pd.to_numeric(rows["discount_pct"], errors="raise").astype(float)
    out_of_range = pct.notna() & ~pct.between(0.0, 100.0)
    if out_of_range.any():
        row = rows[out_of_range].iloc[0]
        raise ValueError(
            f"promotion {row['sku']} from {row['start_date']} (snapshot {row['snapshot_date']}): "
            f"discount_pct {row['discount_pct']} is not in 0..100"
        )
    out: dict[str, np.ndarray] = {}
    no_discount = {str(sku) for sku in rows.loc[pct.isna(), "sku"]}
    for sku, a, b, depth in zip(rows["sku"].astype(str), rows["a"], rows["b"], pct.fillna(0.0) / 100.0, strict=True):
        days = out.setdefault(sku, np.zeros((n_days, 2)))
        days[a : b + 1, 0] = 1.0
        days[a : b + 1, 1] = np.maximum(days[a : b + 1, 1], depth)
    return {sku: days[:, 0 if weight == "days" or sku in no_discount else 1] for sku, days in out.items()}


def day_weights(
    first_day: date, n_days: int, weekday_share: Sequence[float] | np.ndarray | None = None, skip_holidays: bool = True
) -> np.ndarray:
    """Weight of each day ``first_day .. first_day + n_days − 1`` in its week's demand:
    the share of a week's demand ordered on that weekday (``weekday_share``, 7 values
    Monday..Sunday, normalised to sum to 1; None: 1/7 each), 0 on a public holiday
    (:func:`restock.calendar.is_holiday`: no orders are taken) when ``skip_holidays``."""
    from restock.calendar import is_holiday

    share = np.full(7, 1.0 / 7.0) if weekday_share is None else np.asarray(weekday_share, dtype=float)
    if share.shape != (7,) or not np.isfinite(share).all() or (share < 0).any() or share.sum() <= 0:
        raise ValueError(f"weekday_share must be 7 non-negative values (Monday..Sunday), got {weekday_share!r}")
    share = share / share.sum()
    days = [first_day + timedelta(days=k) for k in range(n_days)]
    weights = share[[d.isoweekday() - 1 for d in days]]
    if skip_holidays:
        weights = np.where([is_holiday(d) for d in days], 0.0, weights)
    return weights


def weekday_share_of(weekdays: Sequence[int], quantities: Sequence[float]) -> np.ndarray | None:
    """The share of demand per ISO weekday (Monday..Sunday) from order quantities by
    weekday; None without any demand."""
    totals = np.zeros(7)
    for day, qty in zip(weekdays, quantities, strict=True):
        if not 1 <= int(day) <= 7:
            raise ValueError(f"weekday must be 1..7 (ISO), got {day!r}")
        totals[int(day) - 1] += float(qty)
    return totals / totals.sum() if totals.sum() > 0 else None


def weekly_promotions(
    promotions: pd.DataFrame,
    origin: date,
    first_week: date,
    n_weeks: int,
    weight: PromoWeight = DEFAULT_WEIGHT,
    snapshot_dates: Iterable[date] | None = None,
    weekday_share: Sequence[float] | np.ndarray | None = None,
    skip_holidays: bool = True,
) -> dict[str, np.ndarray]:
    """Per SKU, the weekly regressor of the ``n_weeks`` Monday weeks from ``first_week``:
    Σ over the week's days of :func:`daily_promotions` × :func:`day_weights` — the
    share of a normal week's demand that falls on promotion days (× the discount)."""
    if first_week.isoweekday() != 1:
        raise ValueError(f"first_week must be a Monday, got {first_week}")
    daily = daily_promotions(promotions, origin, first_week, 7 * n_weeks, weight, snapshot_dates)
    if not daily:
        return {}
    w = day_weights(first_week, 7 * n_weeks, weekday_share, skip_holidays)
    return {sku: (days * w).reshape(n_weeks, 7).sum(axis=1) for sku, days in daily.items()}


def promo_weeks(regressor: np.ndarray, n_history: int, calendar_weeks: np.ndarray | None = None) -> int:
    """Weeks with a promotion among the first ``n_history`` (the history), not counting
    the weeks flagged in ``calendar_weeks`` (same length as ``regressor``)."""
    promo = np.asarray(regressor)[:n_history] > 0
    if calendar_weeks is not None:
        promo &= ~np.asarray(calendar_weeks, dtype=bool)[:n_history]
    return int(np.count_nonzero(promo))


def calendar_weeks(first_week: date, n_weeks: int) -> np.ndarray:
    """True for the weeks where a calendar regressor of the models is on (Spring
    Festival weeks −3..+3, holiday weeks: :mod:`restock.forecasting.calendar_regressors`);
    all False for dates the calendar cannot place (the calendar model cannot run
    there anyway)."""
    from restock.forecasting.calendar_regressors import calendar_regressors

    try:
        x = calendar_regressors([first_week + timedelta(weeks=k) for k in range(n_weeks)])
    except ValueError:
        return np.zeros(n_weeks, dtype=bool)
    return np.asarray(x.any(axis=1), dtype=bool)


def attach_promotions(
    tasks: Sequence[dict],
    promotions: pd.DataFrame,
    origin: date,
    horizon: int,
    min_promo_weeks: int = DEFAULT_MIN_PROMO_WEEKS,
    weight: PromoWeight = DEFAULT_WEIGHT,
    snapshot_dates: Iterable[date] | None = None,
    weekday_share: Sequence[float] | np.ndarray | None = None,
    skip_holidays: bool = True,
    sku_position: int = -1,
) -> list[dict]:
    """The series of :func:`restock.forecasting.panel.build_series` with a ``"promo"``
    array (history weeks then ``horizon`` future weeks, ``len(y) + horizon`` values)
    on those whose history has at least ``min_promo_weeks`` promotion weeks outside the
    calendar weeks (:func:`calendar_weeks`); the others are returned as they came (no
    ``"promo"`` key). ``sku_position``: where the SKU is in a task's key (last for
    segment × SKU)."""
    if min_promo_weeks < 1:
        raise ValueError(f"min_promo_weeks must be >= 1, got {min_promo_weeks}")
    if not tasks or promotions.empty and snapshot_dates is None:
        return list(tasks)
    first = min(task["first_week"] for task in tasks)
    end = max(task["first_week"] + timedelta(weeks=len(task["y"]) + horizon) for task in tasks)
    n_weeks = (end - first).days // 7
    weekly = weekly_promotions(promotions, origin, first, n_weeks, weight, snapshot_dates, weekday_share, skip_holidays)
    if not weekly:
        return list(tasks)
    events = calendar_weeks(first, n_weeks)
    out = []
    for task in tasks:
        x = weekly.get(str(task["key"][sku_position]))
        if x is not None:
            i0 = (task["first_week"] - first).days // 7
            x = x[i0 : i0 + len(task["y"]) + horizon]
            if promo_weeks(x, len(task["y"]), events[i0 : i0 + len(x)]) >= min_promo_weeks:
                task = {**task, "promo": x}
        out.append(task)
    return out


def with_promo(calendar: np.ndarray, promo: np.ndarray | None) -> np.ndarray:
    """The calendar regressors with the promotion column appended (unchanged without)."""
    if promo is None:
        return calendar
    p = np.asarray(promo, dtype=float)
    if p.shape != (calendar.shape[0],):
        raise ValueError(f"promo has {p.shape} values for {calendar.shape[0]} calendar weeks")
    return np.column_stack([calendar, p])


# --------------------------------------------------------------------------- I/O


@dataclass(frozen=True)
class PromotionInputs:
    """What :func:`attach_promotions` needs, as known on one origin."""

    rows: pd.DataFrame  # columns PROMOTION_COLUMNS, snapshots dated <= origin
    snapshot_dates: list[date]  # every loaded snapshot date <= origin, empty files included
    weekday_share: np.ndarray | None  # demand share per ISO weekday, last 52 weeks; None: 1/7 each


def read_promotions(con, origin: date, quantity: str = "requested_qty") -> PromotionInputs:
    """The promotions known on ``origin`` and the weekday profile of demand.

    - rows: every promotion snapshot dated on or before ``origin``
      (``staging.stg_crm__promotions``);
    - snapshot dates: every loaded promotions snapshot (``raw._loads``; an empty file
      is a snapshot too) and the dates of the rows;
    - weekday share: ``quantity`` (restock.yaml ``forecasting.quantity``) per ISO
      weekday in ``marts.order_lines`` over the 52 weeks up to ``origin``.

    Staging, not a mart: it is already typed and deduplicated, a view (no storage, no
    dbt model to add and run), and the point-in-time rule needs every snapshot, which
    is what staging keeps. A warehouse without these relations (the extract is
    optional; tests that build marts only) has no promotions: empty rows, no dates.
    """
    if quantity not in ("requested_qty", "ordered_qty"):
        raise ValueError(f"quantity must be requested_qty or ordered_qty, got {quantity!r}")
    rows = pd.DataFrame({c: pd.Series(dtype="object") for c in PROMOTION_COLUMNS})
    dates: set[date] = set()
    if _exists(con, *STAGING_RELATION):
        schema, name = STAGING_RELATION
        rows = con.execute(
            f"""select sku, start_date, end_date, discount_pct::double as discount_pct, snapshot_date
                from {schema}.{name} where snapshot_date <= ? order by snapshot_date, sku, start_date""",
            [origin],
        ).df()[list(PROMOTION_COLUMNS)]
        dates = {_as_date(d) for d in rows["snapshot_date"]}
    if _exists(con, *LOADS_RELATION):
        schema, name = LOADS_RELATION
        loaded = con.execute(
            f"""select distinct partition_date from {schema}.{name}
                where extract = 'promotions' and status = 'loaded' and partition_date <= ?""",
            [origin],
        ).fetchall()
        dates |= {_as_date(d) for (d,) in loaded}
    share = None
    if dates and _exists(con, *ORDER_LINES_RELATION):
        schema, name = ORDER_LINES_RELATION
        by_day = con.execute(
            f"""select isodow(order_date) as weekday, sum({quantity})::double as qty from {schema}.{name}
                where order_date <= ? and order_date > ? group by all""",
            [origin, origin - timedelta(weeks=52)],
        ).fetchall()
        share = weekday_share_of([d for d, _ in by_day], [q or 0.0 for _, q in by_day])
    return PromotionInputs(rows, sorted(dates), share)


def _exists(con, schema: str, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def _check_weight(weight: str) -> None:
    if weight not in ("discount", "days"):
        raise ValueError(f"weight must be 'discount' or 'days', got {weight!r}")
