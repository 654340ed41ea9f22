"""Uniform candidate interface: every candidate, hand-checked baselines, calendar regressors."""

from __future__ import annotations

import warnings
from datetime import date, timedelta

import numpy as np
import pytest

from restock.forecasting import intermittent
from restock.forecasting.calendar_regressors import calendar_regressor_names, calendar_regressors, future_week_starts
from restock.forecasting.models import (
    CANDIDATES,
    ModelFitError,
    fit_forecast,
    moving_average_fitted,
    residual_interval,
)

H = 6
N = 60  # < 2 seasons: no season-52 Holt-Winters, keeps the suite fast


def mondays(start: date, n: int) -> list[date]:
    return [start + timedelta(weeks=i) for i in range(n)]


@pytest.fixture(scope="module")
def smooth_series() -> np.ndarray:
    rng = np.random.default_rng(42)
    t = np.arange(N)
    return np.clip(30 + 10 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 3, N), 0, None).round()


@pytest.fixture(scope="module")
def intermittent_series() -> np.ndarray:
    rng = np.random.default_rng(7)
    return (rng.poisson(4, N) + 1) * (rng.random(N) < 0.3)


@pytest.mark.parametrize("name", sorted(CANDIDATES))
@pytest.mark.parametrize("kind", ["smooth", "intermittent"])
def test_every_candidate_gives_h_finite_ordered_points(name, kind, smooth_series, intermittent_series):
    y = smooth_series if kind == "smooth" else intermittent_series
    weeks = mondays(date(2023, 1, 2), N)
    x = calendar_regressors(weeks + future_week_starts(weeks[-1], H))
    result = fit_forecast(name, y, H, exog_history=x[:N], exog_future=x[N:])
    assert result.model == name
    for a in (result.point, result.lower, result.upper):
        assert a.shape == (H,)
        assert np.isfinite(a).all()
        assert (a >= 0).all()
    assert (result.lower <= result.point).all() and (result.point <= result.upper).all()


def test_seasonal_naive_repeats_last_season_by_hand():
    y = np.arange(1.0, 9.0)  # two full seasons of 4
    result = fit_forecast("seasonal_naive", y, 6, season=4)
    np.testing.assert_array_equal(result.point, [5, 6, 7, 8, 5, 6])
    # residuals y_t - y_{t-4} are all +4: quantiles (4, 4) -> upper = point + 4, and
    # lower = point + 4 is pulled down to the point (lower <= point is enforced)
    np.testing.assert_array_equal(result.lower, result.point)
    np.testing.assert_array_equal(result.upper, result.point + 4)


def test_seasonal_naive_weekly_52_and_naive_when_short():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 50, 104).astype(float)
    np.testing.assert_array_equal(fit_forecast("seasonal_naive", y, 8).point, y[52:60])
    one_season = y[:60]  # one full season is enough: weeks 8..10 of the last 52
    np.testing.assert_array_equal(fit_forecast("seasonal_naive", one_season, 3).point, y[8:11])
    short = y[:51]  # less than a season -> last value
    np.testing.assert_array_equal(fit_forecast("seasonal_naive", short, 3).point, [y[50]] * 3)


def test_ses_fixed_by_hand():
    # level starts at mean(first 4) = 10, then l += 0.5 (y - l): 10, 10, 10, 10, 15
    result = fit_forecast("ses_fixed", [10.0, 10.0, 10.0, 10.0, 20.0], 2, alpha=0.5)
    np.testing.assert_allclose(result.point, [15.0, 15.0])
    assert result.params == {"alpha": 0.5}


def test_combination_is_the_mean_of_its_components():
    rng = np.random.default_rng(3)
    weeks = [date(2023, 1, 2) + timedelta(weeks=k) for k in range(70 + 4)]
    x = calendar_regressors(weeks)
    y = rng.poisson(40, 70).astype(float) + 30 * x[:70, 3]
    kw = {"exog_history": x[:70], "exog_future": x[70:]}
    combo = fit_forecast("combination", y, 4, **kw)
    parts = [
        fit_forecast("ses_fixed", y, 4),
        fit_forecast("seasonal_naive", y, 4),
        fit_forecast("sarimax_calendar", y, 4, **kw),
    ]
    assert combo.params["components"] == ["ses_fixed", "seasonal_naive", "sarimax_calendar"]
    np.testing.assert_allclose(combo.point, np.mean([p.point for p in parts], axis=0), rtol=1e-6)
    # a warm start from the stored parameters reaches the same forecast
    warm = fit_forecast("combination", y, 4, start_params=combo.params["start_params"], **kw)
    np.testing.assert_allclose(warm.point, combo.point, rtol=1e-3)
    # shorter than a season and without calendar: SES alone
    alone = fit_forecast("combination", y[:30], 4)
    assert alone.params["components"] == ["ses_fixed"]
    np.testing.assert_allclose(alone.point, fit_forecast("ses_fixed", y[:30], 4).point)


def test_moving_average_by_hand():
    y = [1.0, 2.0, 3.0, 4.0, 10.0]
    result = fit_forecast("moving_average", y, 2)
    np.testing.assert_allclose(result.point, [4.75, 4.75])  # (2 + 3 + 4 + 10) / 4
    assert result.params == {"window": 4}
    np.testing.assert_allclose(fit_forecast("moving_average", y, 1, window=2).point, [7.0])
    np.testing.assert_allclose(fit_forecast("moving_average", y, 1, window=50).point, [4.0])
    np.testing.assert_allclose(moving_average_fitted(np.array(y), 2), [np.nan, np.nan, 1.5, 2.5, 3.5])


def test_residual_interval_by_hand():
    # quantiles 0.25 / 0.75 of [-1, 0, 1, 2] (linear): -0.25 and 1.25
    lower, upper = residual_interval(np.array([5.0]), [-1, 0, 1, 2, np.nan], level=0.5)
    np.testing.assert_allclose(lower, [4.75])
    np.testing.assert_allclose(upper, [6.25])
    lower, upper = residual_interval(np.array([0.1]), [-3, -2, 5])  # clipped at 0
    assert lower[0] == 0.0 and upper[0] > 0.1


def test_intermittent_candidates_wrap_intermittent_module(intermittent_series):
    for name, method in (("croston", intermittent.croston), ("sba", intermittent.sba), ("tsb", intermittent.tsb)):
        np.testing.assert_allclose(
            fit_forecast(name, intermittent_series, 3).point, method(intermittent_series, h=3).point
        )
    assert fit_forecast("croston", intermittent_series, 2, alpha=0.2).params == {"alpha": 0.2}


def test_calendar_regressors_mark_weeks_around_2024_spring_festival():
    weeks = mondays(date(2024, 1, 1), 14)  # 2024-02-10 is a Saturday: week of Mon 2024-02-05
    x = calendar_regressors(weeks)
    names = calendar_regressor_names()
    assert x.shape == (14, len(names)) and names[3] == "sf_week_+0" and names[-1] == "holiday_week"
    marked = {weeks[i]: names[int(np.flatnonzero(x[i, :7])[0])] for i in range(14) if x[i, :7].any()}
    assert marked == {
        date(2024, 1, 15): "sf_week_-3",
        date(2024, 1, 22): "sf_week_-2",
        date(2024, 1, 29): "sf_week_-1",
        date(2024, 2, 5): "sf_week_+0",
        date(2024, 2, 12): "sf_week_+1",
        date(2024, 2, 19): "sf_week_+2",
        date(2024, 2, 26): "sf_week_+3",
    }
    holiday_weeks = [w for w, row in zip(weeks, x, strict=True) if row[-1] == 1]
    assert holiday_weeks == [date(2024, 2, 5), date(2024, 2, 12)]  # holiday 9-16 February


def test_calendar_regressors_2025_and_other_holidays():
    weeks = [
        date(2024, 12, 30),
        date(2025, 1, 6),
        date(2025, 1, 20),
        date(2025, 1, 27),
        date(2025, 2, 3),
        date(2025, 2, 17),
        date(2025, 2, 24),
        date(2024, 4, 29),
        date(2024, 5, 6),
        date(2024, 10, 7),
    ]
    x = calendar_regressors(weeks)
    sf = [int(np.flatnonzero(row[:7])[0]) - 3 if row[:7].any() else None for row in x]
    # 2025-01-29 is a Wednesday: week of Mon 2025-01-27 is week 0
    assert sf == [None, -3, -1, 0, 1, 3, None, None, None, None]
    assert list(x[:, -1]) == [0, 0, 0, 1, 1, 0, 0, 1, 0, 1]  # SF 28 Jan-4 Feb, 1-5 May, 1-7 Oct


def test_sarimax_without_regressors_is_a_model_fit_error(smooth_series):
    with pytest.raises(ModelFitError) as info:
        fit_forecast("sarimax_calendar", smooth_series, 4)
    assert info.value.name == "sarimax_calendar" and "exog" in info.value.reason


def test_statsmodels_warnings_suppressed_and_failures_wrapped():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any leaked warning would fail the test
        for y in ([5.0] * 12, [0, 0, 0, 9, 0, 0, 1, 0, 0, 0, 0, 30]):
            for name in ("ses", "ets_damped"):
                try:
                    result = fit_forecast(name, y, 3)
                except ModelFitError:
                    continue
                assert np.isfinite(result.point).all()
    with pytest.raises(ModelFitError):
        fit_forecast("ets_damped", [1.0, 2.0], 3)  # too short for a trend model (min_obs)
    with pytest.raises(ModelFitError) as info:
        fit_forecast("ses", [3.0], 3, min_obs=1)  # statsmodels itself fails on one point
    assert "ses" in str(info.value)


@pytest.mark.parametrize("bad", [[1.0, np.nan, 2.0], [1.0, -1.0], []])
def test_invalid_input_is_value_error(bad):
    with pytest.raises(ValueError):
        fit_forecast("moving_average", bad, 2)


def test_unknown_name_and_bad_horizon():
    with pytest.raises(ValueError):
        fit_forecast("prophet", [1.0, 2.0], 2)
    with pytest.raises(ValueError):
        fit_forecast("moving_average", [1.0, 2.0], 0)
