"""Chinese calendar facts: Spring Festival dates and the fixed public holidays.

Used by the demo generator and, as calendar regressors, by forecasting. Spring
Festival (春节, lunar new year, 正月初一) moves between 21 January and 20 February;
its date comes from the ``holidays`` package's China calendar (whose Chinese
lunisolar dates ship with the package: no network), for the years that calendar
covers (1950-2100 with holidays 0.109). The package is imported on the first Spring
Festival look-up (~0.1 s once per process), not with this module, and each year is
looked up once (cached).

Holiday spans are simplified on purpose, and are the ones the demo generator
simulates (the tobacco company takes no orders on them) and the forecast regressors
use: Spring Festival eve .. +6 (8 days), Labour Day 1-5 May, National Day 1-7
October. They are NOT the official State Council schedules that ``holidays`` also
knows (those shift by a day or two each year and add make-up working weekends,
调休): switching to them would change the demo data and the forecasts. A site that
needs them exactly should feed its own holiday list to forecasting.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache

# The name of 正月初一 in the holidays package's China calendar (en_US): the first
# and following festival days carry it; observed and substituted days do not.
_HOLIDAYS_SPRING_FESTIVAL_NAME = "Chinese New Year (Spring Festival)"

# Spring Festival holiday relative to the festival day: eve (除夕) .. 初七.
SPRING_FESTIVAL_HOLIDAY_OFFSETS = (-1, 6)
LABOUR_DAY = ((5, 1), (5, 5))  # 劳动节
NATIONAL_DAY = ((10, 1), (10, 7))  # 国庆节

HOLIDAY_SPRING_FESTIVAL = "spring_festival"
HOLIDAY_LABOUR_DAY = "labour_day"
HOLIDAY_NATIONAL_DAY = "national_day"


def spring_festival_years() -> tuple[int, int]:
    """First and last year (inclusive) whose Spring Festival :func:`spring_festival` knows."""
    import holidays as holidays_package

    china = holidays_package.China
    return china.start_year, china.end_year


@cache
def spring_festival(year: int) -> date:
    """The Spring Festival day (lunar new year, 正月初一) of ``year``.

    Raises ValueError naming the year and the supported range when the ``holidays``
    package cannot compute it.
    """
    import holidays as holidays_package

    first, last = spring_festival_years()
    days: list[date] = []
    if first <= year <= last:
        china = holidays_package.country_holidays("CN", years=year, language="en_US")
        days = china.get_named(_HOLIDAYS_SPRING_FESTIVAL_NAME, lookup="exact")
    if not days:
        raise ValueError(
            f"no Spring Festival date for {year}: the holidays package "
            f"({holidays_package.__version__}) has it for {first}-{last} only"
        )
    return min(days)


def nearest_spring_festival(d: date) -> date:
    """The Spring Festival closest to ``d`` (the earlier one on an exact tie).

    Only this year's and next year's festivals can be nearest (last year's is always
    more than 300 days before 1 January).
    """
    this = spring_festival(d.year)
    if d <= this:
        return this
    try:
        following = spring_festival(d.year + 1)
    except ValueError:
        if (d - this).days > 182:  # next year's festival might be nearer
            raise
        return this
    return this if (d - this).days <= (following - d).days else following


def days_to_spring_festival(d: date) -> int:
    """Signed days from ``d`` to the nearest Spring Festival.

    Positive before the festival (10 = ten days to go), 0 on the day, negative after
    (-3 = three days after).
    """
    return (nearest_spring_festival(d) - d).days


def weeks_to_spring_festival(d: date) -> int:
    """Signed whole weeks to the nearest Spring Festival: ``floor(days / 7)``.

    Week 0 is the festival day and the 6 days before it; 1 is 7-13 days before; -1 is
    the 7 days after (1..7 days after); -2 is 8..14 days after, and so on.
    """
    return days_to_spring_festival(d) // 7


def spring_festival_holiday(year: int) -> tuple[date, date]:
    """First and last day (inclusive) of the Spring Festival holiday of ``year``."""
    sf = spring_festival(year)
    lo, hi = SPRING_FESTIVAL_HOLIDAY_OFFSETS
    return sf + timedelta(days=lo), sf + timedelta(days=hi)


def holiday_name(d: date) -> str | None:
    """``spring_festival`` / ``labour_day`` / ``national_day``, or None on other days."""
    lo, hi = spring_festival_holiday(d.year)
    if lo <= d <= hi:
        return HOLIDAY_SPRING_FESTIVAL
    for name, ((m0, d0), (m1, d1)) in (
        (HOLIDAY_LABOUR_DAY, LABOUR_DAY),
        (HOLIDAY_NATIONAL_DAY, NATIONAL_DAY),
    ):
        if date(d.year, m0, d0) <= d <= date(d.year, m1, d1):
            return name
    return None


def is_holiday(d: date) -> bool:
    """True on a public holiday used by the generator (no orders are taken)."""
    return holiday_name(d) is not None


def is_spring_festival_holiday(d: date) -> bool:
    return holiday_name(d) == HOLIDAY_SPRING_FESTIVAL


def holidays(start: date, end: date) -> list[tuple[date, str]]:
    """Every holiday day in ``[start, end]`` with its name, in date order."""
    out = []
    d = start
    while d <= end:
        name = holiday_name(d)
        if name is not None:
            out.append((d, name))
        d += timedelta(days=1)
    return out


def calendar_features(d: date) -> dict[str, object]:
    """The calendar regressors of one day, as a flat dict (one row of a feature frame)."""
    return {
        "date": d,
        "weekday": d.isoweekday(),
        "days_to_spring_festival": days_to_spring_festival(d),
        "weeks_to_spring_festival": weeks_to_spring_festival(d),
        "holiday": holiday_name(d),
        "is_holiday": is_holiday(d),
    }


def last_complete_week_start(day: date) -> date:
    """Monday of the last Monday–Sunday week that has ended on or before ``day``
    (the week of ``day`` itself when ``day`` is a Sunday)."""
    monday = day - timedelta(days=day.isoweekday() - 1)
    return monday if day.isoweekday() == 7 else monday - timedelta(weeks=1)


def first_forecast_week(origin: date) -> date:
    """Monday of horizon 1 of a forecast made on ``origin``: the week after the last
    complete one. The day after a Sunday origin; on any other weekday the Monday on or
    before it (that week has not ended on the origin)."""
    return last_complete_week_start(origin) + timedelta(weeks=1)


# first_forecast_week in SQL, of a DATE expression (date_trunc('week') is the ISO Monday).
FIRST_FORECAST_WEEK_SQL = "date_trunc('week', {origin} + 1)::date"
