"""Candidate lists, the rolling-origin backtest by hand, selection and its fallbacks."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from restock.forecasting import selection
from restock.forecasting.calendar_regressors import calendar_regressors, future_week_starts
from restock.forecasting.models import ModelFitError
from restock.forecasting.selection import (
    candidates_for,
    rolling_origin_backtest,
    select_and_forecast,
)
from restock.segmentation.product_classes import classify_demand


def mondays(n: int, start: date = date(2022, 1, 3)) -> list[date]:
    return [start + timedelta(weeks=i) for i in range(n)]


def intermittent_series(seed: int = 0, n: int = 104) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.poisson(4, n) + 1) * (rng.random(n) < 0.25)).astype(float)


def test_candidates_follow_the_demand_class():
    continuous = ["seasonal_naive", "moving_average", "ses_fixed", "ets_damped", "sarimax_calendar", "combination"]
    sparse = ["croston", "sba", "tsb", "moving_average", "seasonal_naive"]
    assert candidates_for("smooth", 104) == continuous
    assert candidates_for("erratic", 104) == continuous
    assert candidates_for("intermittent", 104) == sparse
    assert candidates_for("lumpy", 104) == sparse
    assert candidates_for("no_demand", 104) == ["zero"]
    assert candidates_for("smooth", 5) == ["moving_average"]  # new SKU
    assert candidates_for("smooth", 20) == [n for n in continuous if n != "sarimax_calendar"]  # too short for SARIMAX
    assert candidates_for("smooth", 0) == ["zero"]
    with pytest.raises(ValueError):
        candidates_for("seasonal", 104)


def test_backtest_by_hand_with_moving_average():
    y = np.arange(1.0, 11.0)  # 1..10
    # origins 2, h 2: train [1..6] -> MA(2) 5.5 vs [7, 8]; train [1..8] -> 7.5 vs [9, 10]
    # |errors| 1.5 + 2.5 + 1.5 + 2.5 = 8 over actuals 34
    score = rolling_origin_backtest(y, "moving_average", origins=2, h=2, min_train=2, window=2)
    assert score == pytest.approx(8 / 34)
    # origins 5 with min_train 4: ends 0 and 2 skipped, end 4 adds [5, 6] vs 3.5 (errors 4)
    score = rolling_origin_backtest(y, "moving_average", origins=5, h=2, min_train=4, window=2)
    assert score == pytest.approx(12 / 45)
    assert rolling_origin_backtest(
        y, "moving_average", origins=5, h=2, min_train=4, window=2, metric="mae"
    ) == pytest.approx(2.0)


def test_backtest_edge_cases():
    y = np.array([0, 4, 0, 0, 0, 0, 0, 0], dtype=float)  # all-zero test window: WAPE -> MAE
    assert rolling_origin_backtest(y, "moving_average", origins=1, h=2, min_train=2, window=2) == pytest.approx(0.0)
    assert math.isnan(rolling_origin_backtest(y, "moving_average", origins=1, h=2, min_train=10))
    custom = rolling_origin_backtest(
        np.arange(1.0, 11.0),
        "moving_average",
        origins=1,
        h=2,
        window=2,
        metric=lambda a, f, insample: float(np.max(np.abs(f - a))),
    )
    assert custom == pytest.approx(2.5)  # train 1..8 -> 7.5 vs [9, 10]


def test_selection_picks_a_seasonal_model_on_a_seasonal_series():
    rng = np.random.default_rng(3)
    n = 156  # three years of weeks
    t = np.arange(n)
    y = np.clip(50 + 30 * np.sin(2 * np.pi * t / 52) + rng.normal(0, 3, n), 0, None).round()
    result = select_and_forecast(y, mondays(n), 4)
    assert classify_demand(y) == "smooth"
    assert result.fallback_reason is None
    assert result.model in ("seasonal_naive", "ets_damped")
    assert result.forecast.params["season"] == 52
    assert result.scores[result.model] == min(result.scores.values())
    assert result.scores[result.model] < result.scores["moving_average"] / 2
    # the forecast follows the season: weeks 157-160 are just after the trough of week 143
    assert abs(result.forecast.point - y[n - 52 : n - 48]).mean() < 10


def test_selection_picks_an_intermittent_method_on_an_intermittent_series():
    y = intermittent_series(0)
    result = select_and_forecast(y, mondays(y.size), 4)
    assert classify_demand(y) == "intermittent"
    assert result.model in ("croston", "sba", "tsb")
    assert set(result.scores) == {"croston", "sba", "tsb", "moving_average", "seasonal_naive"}


def test_intermittent_methods_win_on_most_intermittent_series():
    # Selection on 32 scored weeks is still noisy: require a clear majority, not all
    wins = sum(
        select_and_forecast(y, mondays(104), 4).model in ("croston", "sba", "tsb")
        for y in (intermittent_series(seed) for seed in range(20))
    )
    assert wins >= 16


def test_a_failing_candidate_is_scored_inf_and_skipped(monkeypatch):
    real = selection.fit_forecast

    def failing_ses(name, *args, **kwargs):
        if name in ("croston", "sba"):
            raise ModelFitError(name, "forced failure")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(selection, "fit_forecast", failing_ses)
    result = select_and_forecast(intermittent_series(0), mondays(104), 4)
    assert result.scores["croston"] == math.inf and result.scores["sba"] == math.inf
    assert result.model not in ("croston", "sba")
    assert result.fallback_reason is None


def test_all_candidates_failing_falls_back_to_moving_average(monkeypatch):
    def always_fails(name, *args, **kwargs):
        raise ModelFitError(name, "forced failure")

    monkeypatch.setattr(selection, "fit_forecast", always_fails)
    y = intermittent_series(1)
    result = select_and_forecast(y, mondays(104), 3)
    assert result.model == "moving_average"
    assert "all candidates failed" in result.fallback_reason and "croston: forced failure" in result.fallback_reason
    assert all(score == math.inf for score in result.scores.values())
    np.testing.assert_allclose(result.forecast.point, [y[-4:].mean()] * 3)
    assert (result.forecast.lower <= result.forecast.point).all()


def test_final_fit_failure_tries_the_next_best(monkeypatch):
    real = selection.fit_forecast
    calls = {"n": 0}

    def fail_final(name, y, h, *args, **kwargs):
        if len(y) == 104:  # only the refit on the whole history
            calls["n"] += 1
            if calls["n"] == 1:
                raise ModelFitError(name, "forced final failure")
        return real(name, y, h, *args, **kwargs)

    y = intermittent_series(0)
    best = min(select_and_forecast(y, mondays(104), 4).scores.items(), key=lambda kv: kv[1])[0]
    monkeypatch.setattr(selection, "fit_forecast", fail_final)
    result = select_and_forecast(y, mondays(104), 4)
    assert result.model != best and result.scores[best] == math.inf


def test_short_history_new_sku_rule():
    y = [3.0, 0.0, 5.0, 4.0, 8.0]
    result = select_and_forecast(y, mondays(5), 4)
    assert result.model == "moving_average"
    np.testing.assert_allclose(result.forecast.point, [4.0] * 4)  # mean of all 5 weeks
    assert result.fallback_reason.startswith("new SKU")
    empty = select_and_forecast([], [], 3)
    assert empty.model == "zero" and empty.fallback_reason == "no history: zero forecast"
    np.testing.assert_array_equal(empty.forecast.point, [0.0, 0.0, 0.0])


def test_no_demand_gives_zero_forecast():
    result = select_and_forecast(np.zeros(30), mondays(30), 4)
    assert result.model == "zero" and result.fallback_reason is None
    np.testing.assert_array_equal(result.forecast.upper, np.zeros(4))


def test_smooth_series_with_sarimax_runs_and_scores_every_candidate():
    rng = np.random.default_rng(5)
    y = rng.poisson(20, 40).astype(float)  # < 2 seasons: no season-52 fits
    result = select_and_forecast(y, mondays(40), 4)
    assert set(result.scores) == {
        "seasonal_naive",
        "moving_average",
        "ses_fixed",
        "ets_damped",
        "sarimax_calendar",
        "combination",
    }
    assert all(math.isfinite(s) for s in result.scores.values())
    assert result.forecast.point.shape == (4,)


def test_the_class_default_is_kept_unless_clearly_beaten():
    rng = np.random.default_rng(5)
    y = rng.poisson(20, 60).astype(float)
    kept = select_and_forecast(y, mondays(60), 4, switch_margin=1.0)  # nothing can beat it by 100%
    assert kept.model == "combination"
    free = select_and_forecast(y, mondays(60), 4, switch_margin=0.0)  # plain argmin
    best = min(free.scores, key=lambda k: (free.scores[k], list(free.scores).index(k)))
    assert free.model == best


def test_the_combination_backtest_from_cached_components_equals_fitting_it():
    # 70 weeks, 3 origins of 4 weeks: training ends 58, 62, 66, so every origin has all
    # three components (the level-adjusted seasonal naive needs 52 + 4 weeks)
    rng = np.random.default_rng(11)
    n = 70
    y = rng.poisson(30 + 10 * np.sin(np.arange(n) / 8.3)).astype(float)
    x = calendar_regressors(mondays(n) + future_week_starts(mondays(n)[-1], 4))
    cache: dict = {}
    for name in ("ses_fixed", "sarimax_calendar"):  # what _backtest_all runs before the combination
        rolling_origin_backtest(y, name, origins=3, h=4, exog=x if name == "sarimax_calendar" else None, cache=cache)
    cached = rolling_origin_backtest(y, "combination", origins=3, h=4, exog=x, cache=cache)
    assert ("seasonal_naive_adjusted", 58, 4) in cache, "the cheap component is fitted into the cache"
    fitted = rolling_origin_backtest(y, "combination", origins=3, h=4, exog=x)
    assert cached == pytest.approx(fitted, rel=1e-6)


def test_dates_the_calendar_cannot_place_drop_only_the_calendar_model():
    # The holidays package knows Spring Festival for 1950-2100; 1940 is outside.
    rng = np.random.default_rng(5)
    y = rng.poisson(20, 40).astype(float)
    result = select_and_forecast(y, mondays(40, start=date(1940, 1, 1)), 4)
    assert result.scores["sarimax_calendar"] == math.inf
    assert math.isfinite(result.scores["ses_fixed"]) and math.isfinite(result.scores["combination"])
    assert result.model != "sarimax_calendar"
    assert result.fallback_reason is None and result.forecast.point.shape == (4,)


@pytest.mark.parametrize(
    ("y", "weeks"),
    [([1.0, np.nan] + [1.0] * 20, 22), ([1.0, -2.0] + [1.0] * 20, 22), ([1.0] * 20, 19)],
)
def test_invalid_input_raises_value_error(y, weeks):
    with pytest.raises(ValueError):
        select_and_forecast(y, mondays(weeks), 4)


def test_ses_alpha_of_the_config_reaches_ses_fixed_and_the_combination():
    from datetime import date, timedelta

    from restock.forecasting.selection import select_and_forecast

    y = np.array([10.0, 20.0, 10.0, 30.0, 20.0, 10.0, 40.0, 20.0, 30.0, 20.0, 10.0, 30.0, 20.0, 20.0])
    weeks = [date(2025, 1, 6) + timedelta(weeks=k) for k in range(y.size)]
    level = y[:4].mean()  # initial level: mean of the first 4 weeks
    for value in y:
        level += 0.5 * (value - level)  # SES with weight 0.5, by hand
    one = select_and_forecast(y, weeks, 2, candidates=["ses_fixed"], ses_alpha=0.5, min_history_weeks=4)
    assert one.forecast.params["alpha"] == 0.5
    np.testing.assert_allclose(one.forecast.point, [level, level])
    default = select_and_forecast(y, weeks, 2, candidates=["ses_fixed"], min_history_weeks=4)
    assert default.forecast.params["alpha"] == 0.15  # models.DEFAULT_SES_ALPHA (was 0.1)
    chosen = select_and_forecast(
        y, weeks, 2, candidates=["ses_fixed", "combination"], ses_alpha=0.5, min_history_weeks=4, origins=2
    )
    assert chosen.forecast.params.get("alpha", 0.5) == 0.5
