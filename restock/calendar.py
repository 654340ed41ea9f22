"""Chinese calendar facts: Spring Festival dates and the fixed public holidays.

Pure functions (standard library only) used by the demo generator and, as calendar
regressors, by forecasting. Spring Festival (春节, lunar new year) moves between
21 January and 20 February; its dates come from a table, not an algorithm.

Holiday spans are the ones the demo generator uses (the tobacco company takes no
orders on them): Spring Festival eve .. +6 (8 days), Labour Day 1-5 May, National
Day 1-7 October. Real State Council schedules shift by a day or two each year and
add make-up working weekends (调休); a site that needs them exactly should feed its
own holiday list to forecasting.
"""

from __future__ import annotations

from datetime import date, timedelta

# Spring Festival (正月初一) dates, 2015-2035.
SPRING_FESTIVALS: dict[int, date] = {
    2015: date(2015, 2, 19),
    2016: date(2016, 2, 8),
    2017: date(2017, 1, 28),
    2018: date(2018, 2, 16),
    2019: date(2019, 2, 5),
    2020: date(2020, 1, 25),
    2021: date(2021, 2, 12),
    2022: date(2022, 2, 1),
    2023: date(2023, 1, 22),
    2024: date(2024, 2, 10),
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
    2033: date(2033, 1, 31),
    2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}
FIRST_YEAR = min(SPRING_FESTIVALS)
LAST_YEAR = max(SPRING_FESTIVALS)

# Spring Festival holiday relative to the festival day: eve (除夕) .. 初七.
SPRING_FESTIVAL_HOLIDAY_OFFSETS = (-1, 6)
LABOUR_DAY = ((5, 1), (5, 5))  # 劳动节
NATIONAL_DAY = ((10, 1), (10, 7))  # 国庆节

HOLIDAY_SPRING_FESTIVAL = "spring_festival"
HOLIDAY_LABOUR_DAY = "labour_day"
HOLIDAY_NATIONAL_DAY = "national_day"


def spring_festival(year: int) -> date:
    """The Spring Festival day (lunar new year) of ``year``."""
    try:
        return SPRING_FESTIVALS[year]
    except KeyError:
        raise ValueError(
            f"no Spring Festival date for {year}: the table covers {FIRST_YEAR}-{LAST_YEAR} "
            "(extend restock.calendar.SPRING_FESTIVALS)"
        ) from None


def nearest_spring_festival(d: date) -> date:
    """The Spring Festival closest to ``d`` (the earlier one on an exact tie).

    Only this year's and next year's festivals can be nearest (last year's is always
    more than 300 days before 1 January).
    """
    this = spring_festival(d.year)
    if d <= this:
        return this
    if d.year + 1 not in SPRING_FESTIVALS:
        if (d - this).days > 182:  # next year's festival might be nearer
            spring_festival(d.year + 1)  # raises the clear error
        return this
    following = spring_festival(d.year + 1)
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
