"""Spring Festival dates and public holidays."""

from __future__ import annotations

import subprocess
import sys
from datetime import date

import pytest

from restock import calendar as cal

# The hand-kept table restock.calendar used before the holidays package (hand-checked).
OLD_TABLE = {
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

# Older years, checked against lunardate and lunar-python (both agree with holidays
# on every year 1950-2100 with holidays 0.109).
OLDER = {
    1996: date(1996, 2, 19),
    2000: date(2000, 2, 5),
    2005: date(2005, 2, 9),
    2006: date(2006, 1, 29),
    2007: date(2007, 2, 18),
}


def test_spring_festival_matches_the_old_table():
    assert {year: cal.spring_festival(year) for year in OLD_TABLE} == OLD_TABLE


def test_spring_festival_before_2015():
    assert {year: cal.spring_festival(year) for year in OLDER} == OLDER


def test_spring_festival_every_supported_year():
    first, last = cal.spring_festival_years()
    assert first <= 1996 and last >= 2035
    days = [cal.spring_festival(year) for year in range(first, last + 1)]
    assert all(date(d.year, 1, 21) <= d <= date(d.year, 2, 20) for d in days)
    # a lunar year has 353-355 or 383-385 days
    assert all((b - a).days in (353, 354, 355, 383, 384, 385) for a, b in zip(days, days[1:], strict=False))


def test_spring_festival_outside_the_package_range_names_the_year_and_range():
    first, last = cal.spring_festival_years()
    for year in (first - 1, last + 1):
        with pytest.raises(ValueError, match=rf"for {year}: .* {first}-{last}"):
            cal.spring_festival(year)
    # late in the last year, next year's festival might be nearer: the clear error too
    with pytest.raises(ValueError, match=f"for {last + 1}"):
        cal.days_to_spring_festival(date(last, 12, 31))
    assert cal.days_to_spring_festival(date(last, 3, 1)) < 0


def test_holidays_package_is_not_imported_with_the_module():
    code = "import sys, restock.calendar; print('holidays' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_days_and_weeks_to_spring_festival():
    assert cal.days_to_spring_festival(date(2024, 2, 10)) == 0
    assert cal.days_to_spring_festival(date(2024, 1, 20)) == 21
    assert cal.days_to_spring_festival(date(2024, 2, 13)) == -3
    assert cal.days_to_spring_festival(date(2024, 12, 31)) == 29  # next year's is nearer
    assert cal.weeks_to_spring_festival(date(2024, 2, 4)) == 0
    assert cal.weeks_to_spring_festival(date(2024, 2, 3)) == 1
    assert cal.weeks_to_spring_festival(date(2024, 2, 11)) == -1


def test_holidays():
    assert cal.holiday_name(date(2024, 2, 9)) == "spring_festival"  # eve
    assert cal.holiday_name(date(2024, 2, 16)) == "spring_festival"  # +6
    assert cal.holiday_name(date(2024, 2, 17)) is None
    assert cal.holiday_name(date(2025, 5, 5)) == "labour_day"
    assert cal.holiday_name(date(2025, 10, 7)) == "national_day"
    assert not cal.is_holiday(date(2025, 10, 8))
    assert len(cal.holidays(date(2024, 1, 1), date(2024, 12, 31))) == 8 + 5 + 7
