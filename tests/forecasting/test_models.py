"""Uniform candidate interface: every candidate, hand-checked baselines, calendar regressors,
and the combination following a trend and a level shift without moving on a stable series."""

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
    damped_trend_regressor,
    fit_forecast,
    moving_average_fitted,
    residual_interval,
    yoy_ratio,
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
        fit_forecast("seasonal_naive_adjusted", y, 4),
        fit_forecast("sarimax_calendar", y, 4, **kw),
    ]
    assert combo.params["components"] == ["ses_fixed", "seasonal_naive_adjusted", "sarimax_calendar"]
    np.testing.assert_allclose(combo.point, np.mean([p.point for p in parts], axis=0), rtol=1e-6)
    # a warm start from the stored parameters reaches the same forecast
    warm = fit_forecast("combination", y, 4, start_params=combo.params["start_params"], **kw)
    np.testing.assert_allclose(warm.point, combo.point, rtol=1e-3)
    # shorter than a season and without calendar: SES alone
    alone = fit_forecast("combination", y[:30], 4)
    assert alone.params["components"] == ["ses_fixed"]
    np.testing.assert_allclose(alone.point, fit_forecast("ses_fixed", y[:30], 4).point)
    # 52..55 weeks: too little overlap to measure the year-on-year ratio, no seasonal part
    assert fit_forecast("combination", y[:55], 4).params["components"] == ["ses_fixed"]
    assert fit_forecast("combination", y[:56], 4).params["components"] == ["ses_fixed", "seasonal_naive_adjusted"]


def test_seasonal_naive_adjusted_by_hand():
    # season 4, ratio window 2: (45 + 60) / (30 + 40) = 1.5 x last season's weeks
    y = [10.0, 20.0, 30.0, 40.0, 15.0, 30.0, 45.0, 60.0]
    result = fit_forecast("seasonal_naive_adjusted", y, 6, season=4, window=2, min_window=2)
    np.testing.assert_allclose(result.point, [22.5, 45.0, 67.5, 90.0, 22.5, 45.0])
    assert result.params == {"season": 4, "ratio": 1.5}
    # in-sample: week 6 = 30 x (15 + 30) / (10 + 20) = 45, week 7 = 40 x 75 / 50 = 60, both
    # exact -> residuals 0 -> the interval collapses to the point
    np.testing.assert_allclose(result.lower, result.point)
    np.testing.assert_allclose(result.upper, result.point)
    # the plain seasonal naive carries last season's level forward
    np.testing.assert_allclose(fit_forecast("seasonal_naive", y, 2, season=4).point, [15.0, 30.0])
    # a 10x jump is clipped to 2x; no demand a season earlier and none now -> ratio 1
    jump = fit_forecast("seasonal_naive_adjusted", [10.0] * 4 + [100.0] * 4, 2, season=4, window=2, min_window=2)
    np.testing.assert_allclose(jump.point, [200.0, 200.0])
    drop = fit_forecast("seasonal_naive_adjusted", [100.0] * 4 + [10.0] * 4, 2, season=4, window=2, min_window=2)
    # a 10x drop (a fading cohort): last season's 10 x the ratio 0.1 clipped to 1/4
    np.testing.assert_allclose(drop.point, [2.5, 2.5])
    assert yoy_ratio(np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0]), 4, window=2, min_window=2) == 1.0
    assert yoy_ratio(np.array([0.0, 0.0, 0.0, 0.0, 5.0, 5.0]), 4, window=2, min_window=2) == 2.0  # upper clip
    with pytest.raises(ModelFitError):  # 5 weeks: 1 week of overlap < min_window 2
        fit_forecast("seasonal_naive_adjusted", y[:5], 2, season=4, window=2, min_window=2)


def test_seasonal_naive_adjusted_follows_a_trend_exactly():
    # demand growing 10 % a year: every week is 1.1 x the same week a year earlier, so
    # the ratio is 1.1 and the forecast the truth; the plain seasonal naive is 1/1.1 low
    t = np.arange(108)
    y = 100 * 1.1 ** (t / 52)
    adjusted = fit_forecast("seasonal_naive_adjusted", y[:100], 8)
    assert adjusted.params["ratio"] == pytest.approx(1.1)
    np.testing.assert_allclose(adjusted.point, y[100:], rtol=1e-12)
    np.testing.assert_allclose(fit_forecast("seasonal_naive", y[:100], 8).point / y[100:], 1 / 1.1)


def test_damped_trend_regressor_by_hand():
    history, future = damped_trend_regressor(3, 3, 0.5)
    np.testing.assert_allclose(history * 52, [-2, -1, 0])  # years before the last week
    np.testing.assert_allclose(future * 52, [0.5, 0.75, 0.875])  # 0.5, +0.25, +0.125
    np.testing.assert_allclose(damped_trend_regressor(3, 2, 1.0)[1] * 52, [1, 2])  # φ = 1: the line
    np.testing.assert_allclose(damped_trend_regressor(3, 2, 0.0)[1], [0, 0])  # φ = 0: flat


def test_sarimax_trend_follows_a_linear_trend():
    # y = 1000 + 2 t + N(0, 10): with the trend term the 8 weeks' sum is within 0.5 % of
    # the line's (damped: Σφ^k = 6.6 of the 8 weeks' slope, -0.1 %; measured -0.01 to
    # -0.13 %); without it the constant drags the forecast towards the history's mean
    # (measured -0.5 to -2.4 %)
    n, h = 100, 8
    kw = _calendar_kw(n, h)
    truth = 1000 + 2.0 * np.arange(n, n + h)
    without = []
    for seed in range(3):
        y = 1000 + 2.0 * np.arange(n) + np.random.default_rng(seed).normal(0, 10, n)
        trend = fit_forecast("sarimax_calendar", y, h, **kw)
        assert trend.params["trend_phi"] == 0.95
        assert abs(trend.point.sum() / truth.sum() - 1) < 0.005
        flat = fit_forecast("sarimax_calendar", y, h, trend_phi=None, **kw)
        assert flat.params["trend_phi"] is None
        without.append(flat.point.sum() / truth.sum() - 1)
    assert np.mean(without) < -0.01, without
    # shorter than DEFAULT_TREND_MIN_WEEKS (26): no trend term
    assert fit_forecast("sarimax_calendar", y[:25], h, **_calendar_kw(25, h)).params["trend_phi"] is None


def _old_combination(y: np.ndarray, h: int, kw: dict) -> np.ndarray:
    """The combination before the trend work: SES α 0.1, plain seasonal naive, SARIMAX
    without trend."""
    parts = [
        fit_forecast("ses_fixed", y, h, alpha=0.1).point,
        fit_forecast("seasonal_naive", y, h).point,
        fit_forecast("sarimax_calendar", y, h, trend_phi=None, **kw).point,
    ]
    return np.mean(parts, axis=0)


def _calendar_kw(n: int, h: int) -> dict:
    weeks = mondays(date(2023, 1, 2), n)
    x = calendar_regressors(weeks + future_week_starts(weeks[-1], h))
    return {"exog_history": x[:n], "exog_future": x[n:]}


@pytest.mark.parametrize("growth", [-0.10, 0.10])
def test_combination_follows_a_trend(growth):
    # Poisson demand around 2000 x (1 + growth)^(years). Old: the seasonal naive is a
    # year behind (±10 %), SARIMAX's constant near the history's mean, SES 13.5 weeks of
    # slope behind -> measured |bias| 4.5-8.4 % per series. New: the adjusted seasonal
    # naive and the trend term are unbiased, SES(0.15) ~10 weeks behind -> within ±2.3 %.
    n, h = 100, 8
    kw = _calendar_kw(n, h)
    truth = 2000 * (1 + growth) ** (np.arange(n, n + h) / 52)
    new_bias, old_bias = [], []
    for seed in range(5):
        y = np.random.default_rng(seed).poisson(2000 * (1 + growth) ** (np.arange(n) / 52)).astype(float)
        new_bias.append(fit_forecast("combination", y, h, **kw).point.sum() / truth.sum() - 1)
        old_bias.append(_old_combination(y, h, kw).sum() / truth.sum() - 1)
    assert max(abs(b) for b in new_bias) < 0.025, new_bias
    assert abs(np.mean(new_bias)) < 0.015, new_bias
    assert min(abs(b) for b in old_bias) > 0.04, old_bias
    assert np.sign(np.mean(old_bias)) == -np.sign(growth), "old: behind the trend"


def test_combination_follows_a_level_shift():
    # 80 weeks at 1000, then 1500 (Poisson), 4 seeds. Measured mean forecast after 8 /
    # 12 / 16 weeks at the new level: new 1337 / 1396 / 1421 (within 5.3 % of 1500 after
    # 16 weeks), old 1246 / 1285 / 1288 (still 14 % low: its seasonal naive copies last
    # year's 1000 and its SARIMAX constant is the history's mean).
    h = 8
    for weeks_after, new_floor, old_ceiling in ((8, 1320, 1260), (12, 1380, 1300), (16, 1410, 1300)):
        new, old = [], []
        for seed in range(4):
            n = 80 + weeks_after
            y = np.random.default_rng(seed).poisson(np.r_[np.full(80, 1000.0), np.full(weeks_after, 1500.0)])
            kw = _calendar_kw(n, h)
            new.append(fit_forecast("combination", y.astype(float), h, **kw).point)
            old.append(_old_combination(y.astype(float), h, kw))
        assert np.mean(new) >= new_floor, (weeks_after, np.mean(new))
        assert np.mean(old) <= old_ceiling, (weeks_after, np.mean(old))


def test_combination_on_a_stable_seasonal_series_is_as_before():
    # demo-like: Poisson around 200 x (1 + 0.07 cos(summer)), no trend, 104 weeks. The
    # year-on-year ratio is ~1 and the trend ~0, so the forecast moves by <= 2 % (mean
    # absolute difference; measured 0.2-1.7 %) and is no further from the truth.
    n, h = 104, 8
    kw = _calendar_kw(n, h)
    t = np.arange(n + h)
    base = 200 * (1 + 0.07 * np.cos(2 * np.pi * (t - 30) / 52))
    new_error = old_error = 0.0
    for seed in range(4):
        y = np.random.default_rng(seed).poisson(base[:n]).astype(float)
        assert yoy_ratio(y, 52) == pytest.approx(1.0, abs=0.03)
        new = fit_forecast("combination", y, h, **kw).point
        old = _old_combination(y, h, kw)
        assert np.abs(new - old).mean() / old.mean() <= 0.02
        new_error += np.abs(new - base[n:]).sum()
        old_error += np.abs(old - base[n:]).sum()
    assert new_error <= old_error * 1.05


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


def test_linear_quantiles_are_numpys_to_the_last_bit():
    """models.linear_quantiles (residual_interval's quantiles) against np.quantile on
    4,000 arrays: 1..300 values, ties, integers, wide and tiny scales, the interval
    levels 0.5..0.99 and the ends 0 and 1."""
    from restock.forecasting.models import linear_quantiles

    rng = np.random.default_rng(12)
    levels = [0.5, 0.8, 0.9, 0.95, 0.99, 0.8333, 1.0, 0.0]
    for i in range(4000):
        n = int(rng.integers(1, 301))
        values = rng.normal(0.0, 10.0 ** rng.integers(-3, 5), n)
        if i % 3 == 0:
            values = np.round(values)  # ties
        level = levels[i % len(levels)]
        tail = (1.0 - level) / 2.0
        q = np.array([tail, 1.0 - tail])
        assert np.array_equal(linear_quantiles(values, q), np.quantile(values, q)), (n, level)


def test_calendar_regressors_memo_keeps_the_window_apart():
    """The per-week rows are memoised per (week, window): asking for one window does
    not change another's columns, and a repeated call gives the same matrix."""
    weeks = [date(2024, 1, 1) + timedelta(weeks=k) for k in range(12)]
    wide = calendar_regressors(weeks, spring_festival_weeks=3)
    narrow = calendar_regressors(weeks, spring_festival_weeks=1)
    assert wide.shape == (12, 8) and narrow.shape == (12, 4)
    # the narrow window's columns are the wide one's middle three, and the holiday column
    assert np.array_equal(narrow, wide[:, [2, 3, 4, 7]])
    assert np.array_equal(calendar_regressors(weeks, spring_festival_weeks=3), wide)
    assert calendar_regressors([]).shape == (0, 8)
