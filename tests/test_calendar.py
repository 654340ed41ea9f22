"""Spring Festival dates and public holidays."""

from __future__ import annotations

from datetime import date

import pytest

from restock import calendar as cal


def test_spring_festival_table():
    assert cal.spring_festival(2024) == date(2024, 2, 10)
    assert cal.spring_festival(2025) == date(2025, 1, 29)
    assert all(date(y, 1, 21) <= cal.spring_festival(y) <= date(y, 2, 20) for y in range(2015, 2036))
    for year in (2014, 2036):
        with pytest.raises(ValueError, match="2015-2035"):
            cal.spring_festival(year)


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
