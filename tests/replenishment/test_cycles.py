"""Order cycles and the share of weekly forecasts in the days after the as-of day, by hand.

Calendar used below: Monday 2025-12-29 .. Sunday 2026-01-04 is the current week of
Wednesday 2025-12-31 (D); the next week starts Monday 2026-01-05.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from restock.replenishment.cycles import cycle_dates, next_cycle_date, next_cycle_dates, window_shares

D = date(2025, 12, 31)  # a Wednesday
WEEK = date(2025, 12, 29)  # its Monday
NEXT_WEEK = date(2026, 1, 5)


@pytest.mark.parametrize(
    ("weekday", "expected"),
    [
        (1, date(2026, 1, 5)),  # Monday: this week's Monday is past → next week
        (3, date(2026, 1, 7)),  # Wednesday = D: its order is taken on D → a week later
        (4, date(2026, 1, 1)),  # Thursday: tomorrow
        (7, date(2026, 1, 4)),  # Sunday
    ],
)
def test_next_cycle_date_is_strictly_after_the_day(weekday, expected):
    assert next_cycle_date(D, weekday) == expected


def test_next_cycle_dates_vectorised_with_unknown_weekdays():
    got = next_cycle_dates(D, [1, 3, 4, np.nan, 7])
    assert got[[0, 1, 2, 4]].tolist() == [date(2026, 1, 5), date(2026, 1, 7), date(2026, 1, 1), date(2026, 1, 4)]
    assert np.isnat(got[3])


@pytest.mark.parametrize("bad", [0, 8, 2.5])
def test_a_weekday_outside_1_to_7_is_an_error(bad):
    with pytest.raises(ValueError, match="order_weekday"):
        next_cycle_dates(D, [bad])
    with pytest.raises(ValueError, match="order_weekday"):
        cycle_dates([WEEK], [bad])
    if isinstance(bad, int):
        with pytest.raises(ValueError, match="order_weekday"):
            next_cycle_date(D, bad)


def test_cycle_dates_in_a_week():
    got = cycle_dates([WEEK] * 4 + [date(2025, 12, 31)], [1, 3, 7, np.nan, 1])
    assert got[[0, 1, 2]].tolist() == [date(2025, 12, 29), date(2025, 12, 31), date(2026, 1, 4)]
    assert np.isnat(got[3])
    # a "week" starting on a Wednesday (other cut-off weekday): its Monday is 5 days later
    assert got[4].tolist() == date(2026, 1, 5)


@pytest.mark.parametrize(
    ("start", "weekday", "days", "share"),
    [
        # window of 11 days after D: 2026-01-01 .. 2026-01-11
        (WEEK, 1, 11, 0.0),  # Monday 12-29: past
        (WEEK, 3, 11, 0.0),  # Wednesday 12-31 = D: taken on D
        (WEEK, 4, 11, 1.0),  # Thursday 01-01: first day of the window
        (WEEK, 7, 11, 1.0),
        (NEXT_WEEK, 7, 11, 1.0),  # Sunday 01-11: last day of the window
        (date(2026, 1, 12), 1, 11, 0.0),  # after the window
        (NEXT_WEEK, 1, 4, 0.0),  # 4 days: 01-01 .. 01-04, the Monday 01-05 is out
        (NEXT_WEEK, 1, 4.5, 1.0),  # window [01-01, 01-05 + half a day): the Monday 01-05 starts inside it
        (NEXT_WEEK, 1, 5, 1.0),
        # unknown weekday: days of the week in the window ÷ 7
        (WEEK, np.nan, 11, 4 / 7),  # Thursday .. Sunday
        (NEXT_WEEK, np.nan, 11, 1.0),
        (NEXT_WEEK, np.nan, 6, 2 / 7),  # 01-01 .. 01-06: Monday and Tuesday
        (NEXT_WEEK, np.nan, 5.5, 1.5 / 7),  # half of Tuesday
        (WEEK, np.nan, 0, 0.0),
    ],
)
def test_window_shares_by_hand(start, weekday, days, share):
    got = window_shares([start], [weekday], D, [days])
    assert got.tolist() == [pytest.approx(share)]


def test_window_shares_vectorised_and_checked():
    got = window_shares([WEEK, WEEK, NEXT_WEEK], [4, np.nan, 1], D, 11)  # scalar window broadcast
    assert got.tolist() == pytest.approx([1.0, 4 / 7, 1.0])
    with pytest.raises(ValueError, match="window_days"):
        window_shares([WEEK], [1], D, [-1])
    with pytest.raises(ValueError, match="order_weekday"):
        window_shares([WEEK], [9], D, [7])
