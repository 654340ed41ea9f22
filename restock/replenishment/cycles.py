"""Order cycles, and the part of weekly forecasts that falls in the days after the as-of day.

Pure functions (numpy, no I/O), used by :mod:`restock.replenishment.assemble` to turn the
weekly customer forecasts of an as-of day ``D`` into demand over the protection
interval and into each customer's next order cycle.

Why this exists: forecasts are refreshed once a week (the forecast origin, a cut-off
Sunday), so on a mid-week ``D`` horizon 1 is the *current* week, part of which is
already past: the orders of customers whose order day was ≤ ``D`` have been taken and
sit in the inventory extract (shipped, or still in ``allocated_qty``), so the
inventory position already accounts for them. Demand after ``D`` must not count them
again.

Rules (days are calendar dates; a week is ``[period_start, period_start + 6]``):

- **Order cycle.** A retailer orders once a week on its ``order_weekday`` (ISO 1..7).
  Its cycle in a forecast week is the date of that week with that weekday
  (:func:`cycle_dates`); its weekly forecast is the quantity of that one order. Its
  *next* cycle on ``D`` is the first such weekday strictly after ``D``
  (:func:`next_cycle_date`): an order placed on ``D`` itself is already taken.
  Without a known weekday the next cycle is the first forecast week starting after
  ``D`` (a partly past week is not suggested again).
- **Demand in a window.** The window of ``W`` days after ``D`` is the half-open day
  range ``[D + 1, D + 1 + W)`` (for a whole ``W``: the days ``D + 1 .. D + W``). The
  share of a weekly forecast inside it (:func:`window_shares`) is 1 when the cycle
  date is in the window and 0 otherwise; without a known weekday the week's demand is
  spread evenly over its 7 days and the share is the part of the week inside the
  window (days in window ÷ 7).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

DAYS_PER_WEEK = 7
_EPOCH = np.datetime64("1970-01-01", "D")  # a Thursday: ISO weekday 4


def _check_weekday(order_weekday: int) -> None:
    if isinstance(order_weekday, bool) or order_weekday not in range(1, 8):
        raise ValueError(f"order_weekday must be an ISO weekday 1..7 (1 = Monday), got {order_weekday!r}")


def next_cycle_date(day: date, order_weekday: int) -> date:
    """The first date strictly after ``day`` whose ISO weekday is ``order_weekday``.

    Wednesday 2025-12-31 with a Monday customer → Monday 2026-01-05; with a Wednesday
    customer → Wednesday 2026-01-07 (the order of the 31st is already taken).
    """
    _check_weekday(order_weekday)
    ahead = (order_weekday - day.isoweekday()) % DAYS_PER_WEEK
    return day + timedelta(days=ahead or DAYS_PER_WEEK)


def next_cycle_dates(day: date, order_weekday) -> np.ndarray:
    """:func:`next_cycle_date` for an array of weekdays (``datetime64[D]``; NaT where unknown)."""
    weekday = _weekdays(order_weekday)
    known = ~np.isnan(weekday)
    ahead = (np.nan_to_num(weekday).astype(np.int64) - day.isoweekday()) % DAYS_PER_WEEK
    ahead = np.where(ahead == 0, DAYS_PER_WEEK, ahead)
    out = (_days(day) + ahead).astype("datetime64[D]")
    out[~known] = np.datetime64("NaT")
    return out


def _days(values) -> np.ndarray:
    """Dates (date objects, strings, datetime64) → integer days since 1970-01-01."""
    return (np.asarray(values, dtype="datetime64[D]") - _EPOCH).astype(np.int64)


def _weekdays(order_weekday) -> np.ndarray:
    """Order weekdays as floats, NaN where unknown; raises on a value outside 1..7."""
    weekday = np.asarray(order_weekday, dtype=float)
    known = ~np.isnan(weekday)
    bad = known & ((weekday < 1) | (weekday > 7) | (weekday != np.round(weekday)))
    if bad.any():
        raise ValueError(f"order_weekday must be an ISO weekday 1..7 (1 = Monday), got {weekday[bad][0]!r}")
    return weekday


def cycle_dates(period_start, order_weekday) -> np.ndarray:
    """Date (``datetime64[D]``) of the order cycle in each week; ``NaT`` where the weekday is unknown.

    The week ``[period_start, period_start + 6]``, Monday 2025-12-29 with weekday 3 →
    Wednesday 2025-12-31. Arrays broadcast together.
    """
    start = _days(period_start)
    weekday = _weekdays(order_weekday)
    start, weekday = np.broadcast_arrays(start, weekday)
    start_weekday = (start + 3) % DAYS_PER_WEEK + 1  # day 0 (1970-01-01) is a Thursday
    known = ~np.isnan(weekday)
    offset = np.where(known, (np.nan_to_num(weekday).astype(np.int64) - start_weekday) % DAYS_PER_WEEK, 0)
    out = (start + offset).astype("datetime64[D]")
    out[~known] = np.datetime64("NaT")
    return out


def window_shares(period_start, order_weekday, day: date, window_days) -> np.ndarray:
    """Share (0..1) of each weekly forecast that falls in the window ``[day + 1, day + 1 + W)``.

    ``period_start``: first day of each forecast's week; ``order_weekday``: the
    customer's ISO weekday (NaN/None: unknown → the week spread evenly over its days);
    ``window_days``: ``W`` per row (≥ 0). See the module docstring for the rule.
    Example, ``day`` = Wednesday 2025-12-31, week of Monday 2025-12-29, W = 11 days
    (the window is 2026-01-01 .. 2026-01-11): a Monday or Wednesday customer → 0 (its
    order is taken), a Thursday one → 1; unknown weekday → 4/7 (Thursday..Sunday).
    """
    start = _days(period_start).astype(float)
    weekday = np.asarray(order_weekday, dtype=float)
    window = np.asarray(window_days, dtype=float)
    if np.isnan(window).any() or (window < 0).any():
        raise ValueError("window_days must be non-negative numbers")
    start, weekday, window = np.broadcast_arrays(start, weekday, window)
    first = float(_days(day)) + 1.0
    end = first + window
    cycle = cycle_dates(start.astype(np.int64).astype("datetime64[D]"), weekday)
    known = ~np.isnat(cycle)
    cycle_day = np.where(known, (cycle - _EPOCH).astype(np.int64), 0).astype(float)
    on_cycle = ((cycle_day >= first) & (cycle_day < end)).astype(float)
    spread = (
        np.clip(np.minimum(start + DAYS_PER_WEEK, end) - np.maximum(start, first), 0.0, DAYS_PER_WEEK) / DAYS_PER_WEEK
    )
    return np.where(known, on_cycle, spread)


__all__ = ["next_cycle_date", "next_cycle_dates", "cycle_dates", "window_shares", "DAYS_PER_WEEK"]
