"""The demo's day-indexed calendar: holidays, seasonal demand by price band, catch-up
after skipped order days, and the next working day (no orders or deliveries on holidays).

Day index 0 is ``DemoConfig.start``; ``restock.calendar`` supplies the holiday dates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

from restock import calendar as cal
from restock.demo.reference import CATCH_UP_PER_MISSED, PRICE_BANDS


def spring_festival_factor(days_to: int) -> float:
    """Demand multiplier around the Spring Festival (before holiday zeroing)."""
    if 22 <= days_to <= 28:
        return 1.35
    if 15 <= days_to <= 21:
        return 1.75
    if 8 <= days_to <= 14:
        return 2.15
    if 1 <= days_to <= 7:
        return 2.4
    if -13 <= days_to <= -7:
        return 0.55
    if -20 <= days_to <= -14:
        return 0.70
    if -27 <= days_to <= -21:
        return 0.85
    return 1.0


# Premium bands gain more before the festival (gifting).
SPRING_FESTIVAL_BAND_GAIN = np.array([1.3, 1.15, 1.0, 0.85, 0.7])


@dataclass
class DemoCalendar:
    dates: list[date]
    iso_dates: list[str]
    weekday: np.ndarray  # 1..7
    holiday: np.ndarray  # bool
    spring_festival_holiday: np.ndarray  # bool
    season: np.ndarray  # [day, price band] multiplier, 0 on holidays
    next_workday: np.ndarray  # index of the first non-holiday day >= i


def build_calendar(start: date, n: int) -> DemoCalendar:
    dates = [start + timedelta(days=i) for i in range(n)]
    weekday = np.array([d.isoweekday() for d in dates], dtype=np.int8)
    names = [cal.holiday_name(d) for d in dates]
    holiday = np.array([x is not None for x in names])
    sf_holiday = np.array([x == cal.HOLIDAY_SPRING_FESTIVAL for x in names])
    season = np.empty((n, len(PRICE_BANDS)))
    for i, d in enumerate(dates):
        f = spring_festival_factor(cal.days_to_spring_festival(d))
        band = 1.0 + (f - 1.0) * SPRING_FESTIVAL_BAND_GAIN if f > 1.0 else np.full(len(PRICE_BANDS), f)
        summer = 1.0 + 0.07 * math.cos(2 * math.pi * (d.timetuple().tm_yday - 205) / 365.25)
        season[i] = band * summer
    season[holiday] = 0.0
    # Catch-up: customers whose order day fell on a (non Spring Festival) holiday skipped
    # that cycle and order more the next time (same weekday, 7 days later).
    for i in np.flatnonzero(~holiday).tolist():
        missed, j = 0, i - 7
        while j >= 0 and holiday[j] and not sf_holiday[j]:
            missed, j = missed + 1, j - 7
        season[i] *= 1.0 + CATCH_UP_PER_MISSED * min(missed, 2)
    next_workday = np.empty(n, dtype=np.int64)
    nxt = n  # beyond the horizon
    for i in range(n - 1, -1, -1):
        if not holiday[i]:
            nxt = i
        next_workday[i] = nxt
    return DemoCalendar(dates, [d.isoformat() for d in dates], weekday, holiday, sf_holiday, season, next_workday)


def working_days(calendar: DemoCalendar, lo: int, hi: int) -> np.ndarray:
    """Day indexes in ``lo:hi`` (clipped to the calendar) that are not holidays."""
    idx = np.arange(max(lo, 0), min(hi, len(calendar.dates)))
    return idx[~calendar.holiday[idx]]
