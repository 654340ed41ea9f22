"""Calendar regressors of the weekly models: Spring Festival weeks and holiday weeks
(:mod:`restock.calendar` says which days they are)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from restock.calendar import is_holiday, weeks_to_spring_festival

DEFAULT_SPRING_FESTIVAL_WEEKS = 3  # indicator columns for weeks -3..+3 around it


def calendar_regressors(
    week_starts: Sequence[date],
    spring_festival_weeks: int = DEFAULT_SPRING_FESTIVAL_WEEKS,
) -> np.ndarray:
    """Calendar regressors, one row per week (the 7 days from each week start).

    Columns (in order, see :func:`calendar_regressor_names`):

    - ``sf_week_k`` for ``k = −w..+w`` (``w = spring_festival_weeks``, default 3):
      1 when the week is ``k`` weeks from the week containing the nearest Spring
      Festival day (``k = 0`` contains the festival, ``−1`` is the week before it,
      ``+1`` the week after). Computed as ``k = −weeks_to_spring_festival(start)``
      of :mod:`restock.calendar`;
    - ``holiday_week``: 1 when any day of the week is a public holiday
      (:func:`restock.calendar.is_holiday`: Spring Festival eve..+6, 1-5 May,
      1-7 October).
    """
    if spring_festival_weeks < 0:
        raise ValueError(f"spring_festival_weeks must be >= 0, got {spring_festival_weeks}")
    rows = [_week_row(start, spring_festival_weeks) for start in week_starts]
    return np.asarray(rows, dtype=float).reshape(len(rows), 2 * spring_festival_weeks + 2)


@lru_cache(maxsize=16384)
def _week_row(start: date, spring_festival_weeks: int) -> tuple[float, ...]:
    # Memoised: the series of an origin share their weeks, and a grid origin asked
    # for ~1 M holiday lookups (2.5 s of a profile) for a few hundred distinct weeks.
    k = -weeks_to_spring_festival(start)
    sf = [1.0 if k == offset else 0.0 for offset in range(-spring_festival_weeks, spring_festival_weeks + 1)]
    holiday = any(is_holiday(start + timedelta(days=i)) for i in range(7))
    return (*sf, 1.0 if holiday else 0.0)


def calendar_regressor_names(spring_festival_weeks: int = DEFAULT_SPRING_FESTIVAL_WEEKS) -> list[str]:
    """Column names of :func:`calendar_regressors`."""
    offsets = range(-spring_festival_weeks, spring_festival_weeks + 1)
    return [f"sf_week_{k:+d}" for k in offsets] + ["holiday_week"]


def future_week_starts(last_week_start: date, h: int) -> list[date]:
    """The ``h`` week starts after ``last_week_start``."""
    return [last_week_start + timedelta(weeks=k) for k in range(1, h + 1)]
