"""Replay of the replenishment plan: stock, stockouts and fill rate had its orders been placed.

A buyer's question: "had we placed the purchase orders the plan recommended over the last
N weeks, what would our stock, stockouts and fill rate have been, beside what actually
happened?" This module answers it for each warehouse × SKU by simulating the days of
the window ``t = 0 .. T − 1`` (``T = 7·N`` days ending on the as-of day) with the
*published* plan of each day (``replenishment_plan``: policy, reorder point ``s``,
order-up-to level ``S``, lead time, case size, MOQ) and the *actual* daily demand.
Pure functions (numpy/pandas, no I/O): :func:`simulate_sku` for one warehouse × SKU,
:func:`replay_frames` / :func:`replay_frame` for many, side by side with the actual
stock of the same days.

The plan's levels ``s`` and ``S`` depend on the forecast only, not on the stock, so
they stay valid for a simulated stock; the order *quantity* depends on the position
and is recomputed from the simulated one with the plan's own rule
(:func:`order_quantity`, which rounds with
:func:`restock.replenishment.policy.round_to_case_and_moq`): the replay orders exactly
what the policy would have recommended at the simulated position.

Conventions, fixed (the same in every function of the module):

- **Day order.** Each day ``t``: (1) *start of day*: every simulated order due on
  ``t`` is received into on hand (and the start in-transit if due on ``t``);
  (2) *demand*: ``served = min(on_hand, demand_t)``, ``on_hand −= served``,
  ``unmet = demand_t − served``; (3) *end of day*, on a review day with a plan row
  (and ``order_allowed``): ``position = on_hand + quantity on order not yet
  received``, and the day's policy orders (:func:`order_quantity`); (4) end-of-day
  on hand, served, unmet and ordered quantity are recorded.
- **Lost sales.** Demand not served from stock on its day is lost, not back-ordered:
  the wholesaler rations short stock and the customer does not wait, so unmet demand
  never raises a later day's demand and the simulated on hand never goes below 0.
  The position therefore has no allocated (committed) quantity.
- **Lead time and arrival day.** A lead time ``L`` in days (fractional allowed) counts
  as ``ceil(L)`` whole days (a value within 1e-9 of a whole number counts as that
  number). An order placed at the end of day ``t`` is received at the start of day
  ``t + ceil(L) + 1``: it is in transit for the ``ceil(L)`` whole days after the
  order day and serves demand from the day after. This is the convention the plan is
  sized on: the plan of day ``D`` covers the demand of the days ``D + 1 .. D + W``
  (assemble.py, decision 2) — ``s = d·L`` covers the ``L`` days ``D + 1 .. D + L``
  before the order can serve demand, and ``S = d·(R + L)`` covers ``D + 1 .. D + R + L``,
  the days until the order placed at the next review (``D + R``) is received on
  ``D + R + L + 1``. A lead time of 0 means the order is received the next morning.
  Orders due after the window's last day are not received in it
  (``end_on_order_qty``).
- **Start stock.** ``start_on_hand`` is the actual on hand at the end of the day
  before the window. ``start_in_transit``, the actual in-transit quantity then, is
  assumed ordered on that day at the latest: it is received at the start of day
  ``ceil(L₀)`` (``−1 + ceil(L₀) + 1``), ``L₀`` the first known lead time in the
  window, or at the start of day 0 when no day has a lead time. Real in-transit is
  often older and arrives earlier, so this is the pessimistic case.
- **Review days.** Under ``min_max`` and ``continuous_review`` every day is a review
  day; under ``periodic_review`` every ``R``-th day starting at day 0 (the first whole
  day at or after each ``k·R``; every day when ``R`` is 0), :func:`review_mask`. The
  real weekday of the buyer's review is not known here: the window's first day is
  one.
- **Days without a plan row** (null policy) place no order, review day or not; the
  received orders and the demand still run.
- **Stockout day** = a day with demand > 0 and end-of-day on hand ≤ 0 (the KPI
  table's "on hand ≤ 0 with demand"); a day on which the last unit was sold
  counts. **Lost day** = a day with unmet demand > 0 (served less than requested).
- **Fill rate** = served ÷ demand over the window; NaN when the demand is 0.
- **Average on hand** = mean of the end-of-day on hand over the ``T`` days.
- ``received_qty`` counts every receipt in the window, the start in-transit
  included, so ``start_on_hand + received − served = end_on_hand``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from restock.replenishment.policy import (
    CONTINUOUS_REVIEW,
    MIN_MAX,
    PERIODIC_REVIEW,
    POLICIES,
    round_to_case_and_moq,
)

KEY = ("warehouse_id", "sku")
PLAN_INPUT_COLUMNS = ("policy", "reorder_point", "order_up_to", "lead_time_days", "units_per_case", "moq_cases")
DAILY_COLUMNS = (*KEY, "day", "demand_qty", *PLAN_INPUT_COLUMNS, "actual_on_hand_qty")
OPTIONAL_DAILY_COLUMNS = ("order_allowed",)  # null or absent → True
START_COLUMNS = (*KEY, "start_on_hand_qty", "start_in_transit_qty")
SUMMARY_COLUMNS = (
    *KEY,
    "window_days",
    "demand_qty",
    "demand_days",
    "plan_days",
    "plan_served_qty",
    "plan_lost_qty",
    "plan_fill_rate",
    "plan_stockout_days",
    "plan_lost_days",
    "plan_avg_on_hand_qty",
    "plan_orders",
    "plan_ordered_qty",
    "plan_received_qty",
    "plan_end_on_hand_qty",
    "plan_end_on_order_qty",
    "actual_snapshot_days",
    "actual_avg_on_hand_qty",
    "actual_stockout_days",
    "start_on_hand_qty",
    "start_in_transit_qty",
)
DAILY_OUTPUT_COLUMNS = (
    *KEY,
    "day",
    "demand_qty",
    "plan_received_qty",
    "plan_served_qty",
    "plan_lost_qty",
    "plan_on_hand_qty",
    "plan_ordered_qty",
    "plan_on_order_qty",
    "actual_on_hand_qty",
)
_LEAD_TOLERANCE = 1e-9

Where = Callable[[int, int], str]  # (key index, day index) → location for an error message


# --- scalar rules -----------------------------------------------------------------------


def lead_days(lead_time_days: float) -> int:
    """Whole days of a lead time: ``ceil(L)``; within 1e-9 of a whole number counts as it."""
    if math.isnan(lead_time_days) or lead_time_days < 0:
        raise ValueError(f"lead_time_days must be a non-negative number, got {lead_time_days}")
    return max(0, math.ceil(lead_time_days - _LEAD_TOLERANCE))


def arrival_day(order_day: int, lead_time_days: float) -> int:
    """Day at whose start an order placed at the end of ``order_day`` is received: ``t + ceil(L) + 1``."""
    return order_day + lead_days(lead_time_days) + 1


def order_quantity(
    policy: str,
    position: float,
    reorder_point: float,
    order_up_to: float,
    units_per_case: float = 1.0,
    moq_cases: float = 0.0,
) -> int:
    """Purchase quantity of one review, in sales units, by the plan's rule (policy.py).

    - ``periodic_review``: position < S → ``S − position``;
    - ``min_max``: position ≤ s → ``S − position``;
    - ``continuous_review``: position ≤ s → the smallest multiple of ``Q = S − s``
      that lifts the position above ``s`` (``(⌊(s − position)/Q⌋ + 1)·Q``; the plan
      reports ``order_up_to = s + Q``);

    then rounded up to whole cases and the MOQ with
    :func:`~restock.replenishment.policy.round_to_case_and_moq`; 0 when no order is due.
    """
    if policy == PERIODIC_REVIEW:
        raw = order_up_to - position if position < order_up_to else 0.0
    elif policy == MIN_MAX:
        raw = order_up_to - position if position <= reorder_point else 0.0
    elif policy == CONTINUOUS_REVIEW:
        batch = order_up_to - reorder_point
        if not batch > 0:
            raise ValueError(
                f"continuous_review needs order_up_to > reorder_point (Q = S − s), got s={reorder_point}, S={order_up_to}"
            )
        raw = (math.floor((reorder_point - position) / batch) + 1) * batch if position <= reorder_point else 0.0
    else:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")
    return round_to_case_and_moq(raw, units_per_case, moq_cases)


def review_mask(days: int, policy: str | Sequence[Any], review_period_days: float) -> np.ndarray:
    """Boolean mask of the review days among ``0 .. days − 1``.

    ``policy`` is one policy for every day, or one per day (null: no plan that day, not
    a review day). ``min_max`` / ``continuous_review``: every day. ``periodic_review``:
    the first whole day at or after each ``k·R`` (k = 0, 1, …), i.e. days 0, R, 2R, …
    for a whole ``R``; every day when ``R`` is 0.
    """
    if days < 0:
        raise ValueError(f"days must be ≥ 0, got {days}")
    if math.isnan(review_period_days) or review_period_days < 0:
        raise ValueError(f"review_period_days must be a non-negative number, got {review_period_days}")
    periodic = np.zeros(days, dtype=bool)
    if review_period_days == 0:
        periodic[:] = True
    else:
        k = np.arange(math.ceil(days / review_period_days) + 1)
        on = np.ceil(k * review_period_days - _LEAD_TOLERANCE).astype(int)
        periodic[on[on < days]] = True
    policies = [policy] * days if isinstance(policy, str) else list(policy)
    if len(policies) != days:
        raise ValueError(f"policy: expected {days} days, got {len(policies)}")
    mask = np.zeros(days, dtype=bool)
    for t, p in enumerate(policies):
        if _is_null(p):
            continue
        if p == PERIODIC_REVIEW:
            mask[t] = periodic[t]
        elif p in (MIN_MAX, CONTINUOUS_REVIEW):
            mask[t] = True
        else:
            raise ValueError(f"policy must be one of {POLICIES} or null, got {p!r} on day {t}")
    return mask


def _is_null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA or value is pd.NaT


# --- one warehouse × SKU ------------------------------------------------------------------


@dataclass(frozen=True)
class SkuReplay:
    """Simulated days of one warehouse × SKU (arrays of length ``T``) and their summary.

    Daily: ``demand``, ``received`` (start of day), ``served``, ``unmet`` (lost),
    ``on_hand`` (end of day), ``ordered`` (placed at the end of the day),
    ``on_order`` (ordered, not yet received, at the end of the day).
    """

    demand: np.ndarray
    received: np.ndarray
    served: np.ndarray
    unmet: np.ndarray
    on_hand: np.ndarray
    ordered: np.ndarray
    on_order: np.ndarray
    plan_days: int  # days with a plan row
    demand_qty: float
    served_qty: float
    lost_qty: float
    fill_rate: float  # served ÷ demand; NaN when demand is 0
    stockout_days: int  # demand > 0 and end-of-day on hand ≤ 0
    lost_days: int  # unmet > 0
    avg_on_hand_qty: float  # mean end-of-day on hand over the T days
    orders: int
    ordered_qty: float
    received_qty: float  # start in-transit included
    end_on_hand_qty: float
    end_on_order_qty: float  # ordered in the window (or start in-transit) not received in it

    @property
    def order_days(self) -> list[int]:
        return [int(t) for t in np.flatnonzero(self.ordered > 0)]

    @property
    def receipt_days(self) -> list[int]:
        return [int(t) for t in np.flatnonzero(self.received > 0)]


def simulate_sku(
    demand: Sequence[float] | np.ndarray,
    *,
    policy: str | None | Sequence[Any],
    reorder_point: float | Sequence[float] | np.ndarray,
    order_up_to: float | Sequence[float] | np.ndarray,
    lead_time_days: float | Sequence[float] | np.ndarray,
    review_days: Sequence[bool] | np.ndarray,
    units_per_case: float | Sequence[float] | np.ndarray = 1.0,
    moq_cases: float | Sequence[float] | np.ndarray = 0.0,
    start_on_hand: float = 0.0,
    start_in_transit: float = 0.0,
    order_allowed: bool | Sequence[Any] | np.ndarray = True,
    key: str = "",
) -> SkuReplay:
    """Simulate one warehouse × SKU over the ``T = len(demand)`` days (module docstring).

    Per-day inputs are arrays of length ``T``, or a scalar for every day. ``policy`` /
    plan values are null (None/NaN) on days without a plan row. ``units_per_case``
    null → 1 and ``moq_cases`` null → 0 (as in policy.py); ``order_allowed`` false →
    no order that day (e.g. an inactive product the plan does not order).
    ``review_days``: :func:`review_mask`. ``key`` names the SKU in error messages.

    Raises ``ValueError`` naming the input and the day for negative or non-finite
    demand, a negative start stock, an unknown policy, or a plan day without a finite
    reorder point, order-up-to level or lead time.
    """
    d = _as_float_array(demand, "demand")
    n = len(d)
    prefix = f"{key}: " if key else ""

    def where(_k: int, t: int) -> str:
        return f"{prefix}day {t}"

    def per_day(value: Any, name: str) -> np.ndarray:
        arr = np.full(n, np.nan) if value is None else np.asarray(value, dtype=object)
        if arr.ndim == 0:
            arr = np.full(n, arr.item(), dtype=object)
        if len(arr) != n:
            raise ValueError(f"{prefix}{name}: expected {n} days (the length of demand), got {len(arr)}")
        return arr

    policies = per_day(policy, "policy")
    numbers = {
        name: _as_float_array(per_day(value, name), name)
        for name, value in (
            ("reorder_point", reorder_point),
            ("order_up_to", order_up_to),
            ("lead_time_days", lead_time_days),
            ("units_per_case", units_per_case),
            ("moq_cases", moq_cases),
        )
    }
    review = per_day(review_days, "review_days")
    allowed = per_day(order_allowed, "order_allowed")
    for name, value in (("start_on_hand", start_on_hand), ("start_in_transit", start_in_transit)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{prefix}{name} must be a non-negative number, got {value}")
    plan = _Plan.check(
        d[None, :],
        policies[None, :],
        {name: arr[None, :] for name, arr in numbers.items()},
        review.astype(bool)[None, :],
        np.array([[True if _is_null(a) else bool(a) for a in allowed]]),
        {"demand": "demand", **{c: c for c in numbers}},
        where,
    )
    return plan.run(0, float(start_on_hand), float(start_in_transit))


def _as_float_array(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(
            pd.to_numeric(pd.Series(np.asarray(values, dtype=object).ravel()), errors="raise"), dtype=float
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric ({exc})") from exc
    return arr


@dataclass(frozen=True)
class _Plan:
    """Validated inputs of ``K`` keys × ``T`` days, as Python lists for the day loop."""

    demand: np.ndarray  # K × T
    policy: list[list[Any]]
    reorder_point: list[list[float]]
    order_up_to: list[list[float]]
    lead_days: list[list[int]]  # ceil(L) on plan days, −1 elsewhere
    units_per_case: list[list[float]]
    moq_cases: list[list[float]]
    order_days: np.ndarray  # K × T bool: plan row, review day and order allowed
    plan_days: np.ndarray  # K × T bool
    first_lead_days: np.ndarray  # K: ceil(L₀), 0 without a lead time

    @staticmethod
    def check(
        demand: np.ndarray,
        policy: np.ndarray,
        numbers: dict[str, np.ndarray],
        review: np.ndarray,
        allowed: np.ndarray,
        names: dict[str, str],
        where: Where,
    ) -> _Plan:
        def fail(mask: np.ndarray, name: str, problem: str) -> None:
            if mask.any():
                k, t = (int(i) for i in np.argwhere(mask)[0])
                raise ValueError(f"{names[name]} {problem} ({where(k, t)})")

        fail(~np.isfinite(demand), "demand", "must be a finite number, got a null or infinite value")
        fail(demand < 0, "demand", "must be non-negative")
        null_policy = np.vectorize(_is_null, otypes=[bool])(policy) if policy.size else np.zeros(policy.shape, bool)
        policy = policy.astype(object)
        policy[null_policy] = None  # pd.NA / NaN → None
        known = np.isin(policy, list(POLICIES))
        fail(~null_policy & ~known, "policy", f"must be one of {POLICIES} or null")
        has_plan = known
        s, big_s, lead = numbers["reorder_point"], numbers["order_up_to"], numbers["lead_time_days"]
        per_case = np.where(np.isnan(numbers["units_per_case"]), 1.0, numbers["units_per_case"])
        moq = np.where(np.isnan(numbers["moq_cases"]), 0.0, numbers["moq_cases"])
        for name, arr in (("reorder_point", s), ("order_up_to", big_s), ("lead_time_days", lead)):
            fail(has_plan & ~np.isfinite(arr), name, "must be a finite number on a day with a plan row")
        fail(has_plan & (lead < 0), "lead_time_days", "must be non-negative")
        fail(has_plan & ~(per_case > 0), "units_per_case", "must be > 0")
        fail(has_plan & ~(moq >= 0), "moq_cases", "must be non-negative")
        fail(has_plan & np.isinf(per_case), "units_per_case", "must be finite")
        fail(has_plan & np.isinf(moq), "moq_cases", "must be finite")
        with np.errstate(invalid="ignore"):
            fail(
                has_plan & (policy == CONTINUOUS_REVIEW) & ~(big_s - s > 0),
                "order_up_to",
                "must exceed reorder_point under continuous_review (S = s + Q)",
            )
        whole = np.where(has_plan, np.ceil(np.where(has_plan, lead, 0.0) - _LEAD_TOLERANCE), -1.0)
        whole = np.where(has_plan, np.maximum(whole, 0.0), -1.0).astype(np.int64)
        known_lead = np.isfinite(lead) & (lead >= 0)
        first = np.zeros(len(demand), dtype=np.int64)
        for k in np.flatnonzero(known_lead.any(axis=1)):
            first[k] = lead_days(float(lead[k, int(np.argmax(known_lead[k]))]))
        return _Plan(
            demand=demand,
            policy=policy.tolist(),
            reorder_point=s.tolist(),
            order_up_to=big_s.tolist(),
            lead_days=whole.tolist(),
            units_per_case=per_case.tolist(),
            moq_cases=moq.tolist(),
            order_days=has_plan & review & allowed,
            plan_days=has_plan,
            first_lead_days=first,
        )

    def run(self, k: int, start_on_hand: float, start_in_transit: float) -> SkuReplay:
        """The day loop of key ``k`` (module docstring, "Day order")."""
        demand = self.demand[k].tolist()
        n = len(demand)
        policy, s, big_s = self.policy[k], self.reorder_point[k], self.order_up_to[k]
        lead, per_case, moq = self.lead_days[k], self.units_per_case[k], self.moq_cases[k]
        review = self.order_days[k].tolist()
        due = [0.0] * n
        received, served, unmet, on_hand, ordered, on_order = ([0.0] * n for _ in range(6))
        stock, pending = start_on_hand, start_in_transit
        transit_day = int(self.first_lead_days[k])
        if start_in_transit > 0 and transit_day < n:
            due[transit_day] += start_in_transit
        for t in range(n):
            got = due[t]
            if got:
                stock += got
                pending -= got
            want = demand[t]
            sold = want if want < stock else stock
            stock -= sold
            qty = 0
            if review[t]:
                qty = order_quantity(policy[t], stock + pending, s[t], big_s[t], per_case[t], moq[t])
                if qty > 0:
                    pending += qty
                    arrive = t + lead[t] + 1
                    if arrive < n:
                        due[arrive] += qty
            received[t], served[t], unmet[t], on_hand[t], ordered[t], on_order[t] = (
                got,
                sold,
                want - sold,
                stock,
                float(qty),
                pending,
            )
        return _summarise(
            np.asarray(demand, dtype=float),
            *(np.asarray(a, dtype=float) for a in (received, served, unmet, on_hand, ordered, on_order)),
            plan_days=int(self.plan_days[k].sum()),
        )


def _summarise(
    demand: np.ndarray,
    received: np.ndarray,
    served: np.ndarray,
    unmet: np.ndarray,
    on_hand: np.ndarray,
    ordered: np.ndarray,
    on_order: np.ndarray,
    *,
    plan_days: int,
) -> SkuReplay:
    total = float(demand.sum())
    served_qty = float(served.sum())
    n = len(demand)
    return SkuReplay(
        demand=demand,
        received=received,
        served=served,
        unmet=unmet,
        on_hand=on_hand,
        ordered=ordered,
        on_order=on_order,
        plan_days=plan_days,
        demand_qty=total,
        served_qty=served_qty,
        lost_qty=float(unmet.sum()),
        fill_rate=served_qty / total if total > 0 else math.nan,
        stockout_days=int(((demand > 0) & (on_hand <= 0)).sum()),
        lost_days=int((unmet > 0).sum()),
        avg_on_hand_qty=float(on_hand.mean()) if n else math.nan,
        orders=int((ordered > 0).sum()),
        ordered_qty=float(ordered.sum()),
        received_qty=float(received.sum()),
        end_on_hand_qty=float(on_hand[-1]) if n else 0.0,
        end_on_order_qty=float(on_order[-1]) if n else 0.0,
    )


# --- many warehouse × SKU ------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayFrames:
    """:func:`replay_frames` output: one row per key (``summary``), per key × day (``daily``)."""

    summary: pd.DataFrame  # SUMMARY_COLUMNS
    daily: pd.DataFrame  # DAILY_OUTPUT_COLUMNS


def replay_frame(daily: pd.DataFrame, start: pd.DataFrame, review_period_days: float) -> pd.DataFrame:
    """The per warehouse × SKU summary of :func:`replay_frames` (``SUMMARY_COLUMNS``)."""
    return replay_frames(daily, start, review_period_days).summary


def replay_frames(daily: pd.DataFrame, start: pd.DataFrame, review_period_days: float) -> ReplayFrames:
    """Replay the plan for every warehouse × SKU of ``daily``, beside the actual stock.

    ``daily`` (columns ``DAILY_COLUMNS``, optional ``order_allowed``): one row per
    warehouse_id × sku × day, dense — every key has every day of the window, the days
    consecutive — with ``demand_qty`` (≥ 0; 0 on days without demand), the day's plan
    columns (null on days without a plan row) and ``actual_on_hand_qty`` (end-of-day on
    hand, null on days without a snapshot). ``start``: ``START_COLUMNS``, one row per
    key, the stock at the end of the day before the window; a key of ``daily`` missing
    from ``start``, or a null start value, starts at 0 (no stock row: nothing held);
    keys of ``start`` absent from ``daily`` are ignored. Review days:
    :func:`review_mask` with the day's policy and ``review_period_days``.

    Summary, one row per key sorted by warehouse_id, sku (``SUMMARY_COLUMNS``):
    ``demand_qty`` / ``demand_days`` (days with demand > 0), the simulation's
    ``plan_*`` figures (:class:`SkuReplay`; ``plan_days`` = days with a plan row) and
    the actual ones from the same frame: ``actual_snapshot_days`` (days with an
    actual on hand), ``actual_avg_on_hand_qty`` (their mean; NaN without any),
    ``actual_stockout_days`` (days with demand > 0 and actual on hand ≤ 0; days
    without a snapshot do not count). The actual supplied quantity and fill rate come
    from order lines and are not computed here.

    Raises ``ValueError`` naming the column and the warehouse_id × sku (and day) for a
    missing column, a null key or day, a duplicate key × day, a key missing a day of
    the window, non-consecutive days, negative or null demand, an unknown policy, a
    plan day without reorder point / order-up-to / lead time, or a negative start stock.
    """
    if math.isnan(review_period_days) or review_period_days < 0:
        raise ValueError(f"review_period_days must be a non-negative number, got {review_period_days}")
    _require(daily, DAILY_COLUMNS, "daily")
    _require(start, START_COLUMNS, "start")
    for column in (*KEY, "day"):
        if daily[column].isna().any():
            row = daily.index[int(np.flatnonzero(daily[column].isna().to_numpy())[0])]
            raise ValueError(f"daily: column {column!r} has a null value (row {row!r})")
    frame = daily.copy()
    try:
        frame["day"] = pd.to_datetime(frame["day"]).dt.normalize()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"daily: column 'day' must hold dates ({exc})") from exc
    dup = frame.duplicated([*KEY, "day"])
    if dup.any():
        w, s, day = frame.loc[dup, [*KEY, "day"]].iloc[0]
        raise ValueError(f"daily: duplicate warehouse_id × sku × day (warehouse_id={w!r}, sku={s!r}, day={day.date()})")
    frame = frame.sort_values([*KEY, "day"], kind="mergesort").reset_index(drop=True)

    days = pd.DatetimeIndex(frame["day"].unique()).sort_values()
    n = len(days)
    if n and (days[-1] - days[0]).days + 1 != n:
        full = pd.date_range(days[0], days[-1], freq="D")
        gap = full.difference(days)[0]
        raise ValueError(
            f"daily: the days must be consecutive; no row for {gap.date()} in {days[0].date()}..{days[-1].date()}"
        )
    keys = frame[list(KEY)].drop_duplicates().reset_index(drop=True)
    sizes = frame.groupby(list(KEY), sort=False).size().to_numpy()  # order of the sorted frame
    if (sizes != n).any():
        k = int(np.flatnonzero(sizes != n)[0])
        w, s = keys.iloc[k]
        have = pd.DatetimeIndex(frame.loc[(frame["warehouse_id"] == w) & (frame["sku"] == s), "day"])
        gap = days.difference(have)[0]
        raise ValueError(f"daily: warehouse_id={w!r}, sku={s!r} has no row for {gap.date()} (the frame must be dense)")
    n_keys = len(keys)

    def where(k: int, t: int) -> str:
        return f"warehouse_id={keys.iat[k, 0]!r}, sku={keys.iat[k, 1]!r}, day={days[t].date()}"

    def matrix(column: str) -> np.ndarray:
        try:
            values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"daily: column {column!r} must be numeric ({exc})") from exc
        return values.reshape(n_keys, n)

    demand = matrix("demand_qty")
    numbers = {c: matrix(c) for c in PLAN_INPUT_COLUMNS[1:]}
    policy = frame["policy"].to_numpy(dtype=object).reshape(n_keys, n)
    actual = matrix("actual_on_hand_qty")
    if np.isinf(actual).any():
        k, t = (int(i) for i in np.argwhere(np.isinf(actual))[0])
        raise ValueError(f"daily: column 'actual_on_hand_qty' has an infinite value ({where(k, t)})")
    if "order_allowed" in frame.columns:
        allowed = frame["order_allowed"].map(lambda a: True if _is_null(a) else bool(a)).to_numpy(dtype=bool)
        allowed = allowed.reshape(n_keys, n)
    else:
        allowed = np.ones((n_keys, n), dtype=bool)
    try:
        review = np.array([review_mask(n, list(row), review_period_days) for row in policy], dtype=bool)
    except ValueError:
        review = np.zeros((n_keys, n), dtype=bool)  # the unknown policy is named by the check below
    review = review.reshape(n_keys, n)
    names = {"demand": "daily: column 'demand_qty'", **{c: f"daily: column {c!r}" for c in PLAN_INPUT_COLUMNS}}
    plan = _Plan.check(demand, policy, numbers, review, allowed, names, where)

    start_on_hand, start_in_transit = _start_stock(start, keys)
    replays = [plan.run(k, start_on_hand[k], start_in_transit[k]) for k in range(n_keys)]

    def field(name: str) -> list[Any]:
        return [getattr(r, name) for r in replays]

    snapshot = ~np.isnan(actual)
    with np.errstate(invalid="ignore"):
        actual_out = (demand > 0) & snapshot & (actual <= 0)
        snapshot_days = snapshot.sum(axis=1)
        actual_avg = np.where(snapshot_days > 0, np.nansum(actual, axis=1) / np.maximum(snapshot_days, 1), np.nan)
    summary = pd.DataFrame(
        {
            "warehouse_id": keys["warehouse_id"].to_numpy(),
            "sku": keys["sku"].to_numpy(),
            "window_days": np.full(n_keys, n, dtype=np.int64),
            "demand_qty": demand.sum(axis=1),
            "demand_days": (demand > 0).sum(axis=1).astype(np.int64),
            "plan_days": np.asarray(field("plan_days"), dtype=np.int64),
            "plan_served_qty": np.asarray(field("served_qty"), dtype=float),
            "plan_lost_qty": np.asarray(field("lost_qty"), dtype=float),
            "plan_fill_rate": np.asarray(field("fill_rate"), dtype=float),
            "plan_stockout_days": np.asarray(field("stockout_days"), dtype=np.int64),
            "plan_lost_days": np.asarray(field("lost_days"), dtype=np.int64),
            "plan_avg_on_hand_qty": np.asarray(field("avg_on_hand_qty"), dtype=float),
            "plan_orders": np.asarray(field("orders"), dtype=np.int64),
            "plan_ordered_qty": np.asarray(field("ordered_qty"), dtype=float),
            "plan_received_qty": np.asarray(field("received_qty"), dtype=float),
            "plan_end_on_hand_qty": np.asarray(field("end_on_hand_qty"), dtype=float),
            "plan_end_on_order_qty": np.asarray(field("end_on_order_qty"), dtype=float),
            "actual_snapshot_days": snapshot_days.astype(np.int64),
            "actual_avg_on_hand_qty": actual_avg,
            "actual_stockout_days": actual_out.sum(axis=1).astype(np.int64),
            "start_on_hand_qty": start_on_hand,
            "start_in_transit_qty": start_in_transit,
        }
    )

    def stacked(name: str) -> np.ndarray:
        return np.concatenate([getattr(r, name) for r in replays]) if replays else np.zeros(0)

    daily_out = pd.DataFrame(
        {
            "warehouse_id": frame["warehouse_id"].to_numpy(),
            "sku": frame["sku"].to_numpy(),
            "day": frame["day"].dt.date.to_numpy(),
            "demand_qty": demand.ravel(),
            "plan_received_qty": stacked("received"),
            "plan_served_qty": stacked("served"),
            "plan_lost_qty": stacked("unmet"),
            "plan_on_hand_qty": stacked("on_hand"),
            "plan_ordered_qty": stacked("ordered"),
            "plan_on_order_qty": stacked("on_order"),
            "actual_on_hand_qty": actual.ravel(),
        }
    )
    return ReplayFrames(summary=summary[list(SUMMARY_COLUMNS)], daily=daily_out[list(DAILY_OUTPUT_COLUMNS)])


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name}: missing required column(s) {missing}")


def _start_stock(start: pd.DataFrame, keys: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Start on hand and in transit per key (missing key or null → 0)."""
    for column in KEY:
        if start[column].isna().any():
            raise ValueError(f"start: column {column!r} has a null value")
    dup = start.duplicated(list(KEY))
    if dup.any():
        w, s = start.loc[dup, list(KEY)].iloc[0]
        raise ValueError(f"start: duplicate warehouse_id × sku (warehouse_id={w!r}, sku={s!r})")
    values = []
    for column in START_COLUMNS[2:]:
        try:
            numbers = pd.to_numeric(start[column], errors="raise").astype(float)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"start: column {column!r} must be numeric ({exc})") from exc
        bad = ~(numbers.isna() | ((numbers >= 0) & np.isfinite(numbers)))
        if bad.any():
            w, s = start.loc[bad, list(KEY)].iloc[0]
            raise ValueError(f"start: column {column!r} must be a non-negative number (warehouse_id={w!r}, sku={s!r})")
        series = pd.Series(numbers.to_numpy(), index=pd.MultiIndex.from_frame(start[list(KEY)]))
        aligned = series.reindex(pd.MultiIndex.from_frame(keys)).fillna(0.0)
        values.append(aligned.to_numpy(dtype=float))
    return values[0], values[1]
