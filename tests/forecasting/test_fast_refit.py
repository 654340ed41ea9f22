"""The closed-form refit of ``sarimax_calendar`` with its AR coefficient held
(:func:`restock.forecasting.models.ar1_state_regression_forecast`, issue 13) against
statsmodels' ``SARIMAX(...).filter(params).get_forecast(...)``, which it replaces, and
against a 60-digit Kalman filter of the same state-space model (an independent
reference written here). Then the closed-form MLE of the AR coefficient
(:func:`restock.forecasting.models.ar1_state_regression_mle`) against statsmodels'
likelihood and fit.

Tolerances (measured, see the module docstring of models.py):
- closed form vs the 60-digit filter: ≤ 1e-12 of the series' forecast level (measured
  ≤ 5e-15);
- closed form vs statsmodels: ≤ 1e-5 of the level (measured ≤ 1.7e-6 on the 1,722
  refits of a demo origin). The difference is statsmodels' own float64 rounding: its
  filter starts the regression states at variance 1e10 and loses ~10 digits on the
  first updates; it is as far from the 60-digit filter as from the closed form.
"""

from __future__ import annotations

import warnings
from datetime import date, timedelta
from decimal import Decimal, localcontext
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtri

from restock.config import ForecastingConfig
from restock.forecasting import models
from restock.forecasting.calendar_regressors import calendar_regressors
from restock.forecasting.models import (
    ModelFitError,
    ar1_state_regression_forecast,
    damped_trend_regressor,
    fit_forecast,
    identifiable_columns,
)
from restock.forecasting.panel import forecast_panel

H = 8
LEVEL = 0.8
TOL_STATSMODELS = 1e-5  # of the series' level (statsmodels' own rounding: ≤ 1.7e-6 measured)
TOL_EXACT = 1e-12  # of the series' level


def _series(
    rng: np.random.Generator,
    n: int,
    ar: float,
    level: float,
    *,
    zeros: float = 0.0,
    promo: bool = False,
    calendar: bool = True,
    first_week: date = date(2023, 11, 6),
    growth: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A demo-like weekly series: level × trend + calendar effects (Spring Festival dip,
    holiday weeks) + AR(1) noise, rounded, clipped at 0, some weeks zeroed; the calendar
    regressors (+ a promotion column) for its history and H future weeks."""
    weeks = [first_week + timedelta(weeks=k) for k in range(n + H)]
    x = calendar_regressors(weeks) if calendar else np.zeros((n + H, 0))
    noise = rng.normal(0.0, 0.3 * level, n)
    u = np.zeros(n)
    for t in range(n):
        u[t] = (ar * u[t - 1] if t else 0.0) + noise[t]
    effects = rng.normal(-0.2 * level, 0.3 * level, x.shape[1])
    raw = level * (1.0 + growth) ** (np.arange(n) / 52.0) + u + (x[:n] @ effects if x.shape[1] else 0.0)
    y: np.ndarray = np.round(np.clip(raw, 0.0, None))
    if zeros:
        y[rng.random(n) < zeros] = 0.0
    if y.sum() == 0:
        y[-1] = 1.0
    if promo:
        p = np.where(rng.random(n + H) < 0.2, rng.uniform(0.05, 0.4, n + H), 0.0)
        x = np.column_stack([x, p])
    return y, x[:n], x[n:]


def _design(y: np.ndarray, xh: np.ndarray, xf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exog of ``_sarimax_calendar``: [1, identifiable calendar (+ promo), damped trend]."""
    if y.size >= models.DEFAULT_TREND_MIN_WEEKS:
        th, tf = damped_trend_regressor(y.size, H, models.DEFAULT_TREND_PHI)
        xh, xf = np.column_stack([xh, th]), np.column_stack([xf, tf])
    keep = identifiable_columns(xh) if xh.shape[1] else []
    return np.column_stack([np.ones(y.size), xh[:, keep]]), np.column_stack([np.ones(H), xf[:, keep]])


def _kalman_60_digits(y: np.ndarray, x: np.ndarray, future: np.ndarray, ar: float) -> tuple[np.ndarray, ...]:
    """statsmodels' model, filtered in 60-digit decimals: state (u_t, β), transition
    diag(φ, 1…), design [1, x_t], no measurement error; u_1 stationary (1/(1−φ²)), β
    approximate diffuse (1e10); the first k observations burned; scale concentrated."""
    with localcontext() as ctx:
        ctx.prec = 60
        n, k = x.shape
        m = k + 1
        phi = Decimal(float(ar))
        a = [Decimal(0)] * m
        p = [[Decimal(0)] * m for _ in range(m)]
        p[0][0] = 1 / (1 - phi * phi)
        for j in range(1, m):
            p[j][j] = Decimal(models.STATE_REGRESSION_INITIAL_VARIANCE)

        def transition(a, p):
            a = [phi * a[0], *a[1:]]
            p = [row[:] for row in p]
            for j in range(m):
                p[0][j] *= phi
            for i in range(m):
                p[i][0] *= phi
            p[0][0] += 1
            return a, p

        scaled = []
        for t in range(n):
            z = [Decimal(1), *(Decimal(float(v)) for v in x[t])]
            v = Decimal(float(y[t])) - sum((zi * ai for zi, ai in zip(z, a, strict=True)), Decimal(0))
            pz = [sum((p[i][j] * z[j] for j in range(m)), Decimal(0)) for i in range(m)]
            f = sum((zi * q for zi, q in zip(z, pz, strict=True)), Decimal(0))
            a = [ai + q * v / f for ai, q in zip(a, pz, strict=True)]
            p = [[p[i][j] - pz[i] * pz[j] / f for j in range(m)] for i in range(m)]
            scaled.append(v * v / f)
            a, p = transition(a, p)
        scale = sum(scaled[k:], Decimal(0)) / (n - k)
        z_q = Decimal(float(ndtri(1 - (1 - LEVEL) / 2)))
        point, lower, upper = [], [], []
        for j in range(future.shape[0]):
            z = [Decimal(1), *(Decimal(float(v)) for v in future[j])]
            mean = sum((zi * ai for zi, ai in zip(z, a, strict=True)), Decimal(0))
            se = (sum((z[i] * p[i][jj] * z[jj] for i in range(m) for jj in range(m)), Decimal(0)) * scale).sqrt()
            point.append(float(mean))
            lower.append(float(mean - z_q * se))
            upper.append(float(mean + z_q * se))
            a, p = transition(a, p)
    return np.array(point), np.array(lower), np.array(upper)


def _statsmodels(y: np.ndarray, x: np.ndarray, future: np.ndarray, ar: float) -> tuple[np.ndarray, ...]:
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = SARIMAX(y, exog=x, order=(1, 0, 0), trend="n", mle_regression=False, concentrate_scale=True)
        forecast = model.filter(np.array([ar])).get_forecast(future.shape[0], exog=future)
        bounds = np.asarray(forecast.conf_int(alpha=1 - LEVEL))
    return np.asarray(forecast.predicted_mean), bounds[:, 0], bounds[:, 1]


def _level(*arrays: np.ndarray) -> float:
    return max(float(np.abs(a).max()) for a in arrays)


def _cases() -> list[dict[str, Any]]:
    """Histories from the minimum (16 weeks, no trend below 26) to three years; AR near
    0 and near ±1; small intermittent-ish levels with zeros, large levels; with and
    without calendar regressors; with the promotions column; starting before, on and
    after a Spring Festival (early calendar rows all zero: the regression is resolved
    late in the filter)."""
    cases = []
    grid: list[tuple[int, float, float, dict[str, Any]]] = [
        (16, 0.0, 5.0, {}),
        (16, 0.99, 0.8, {"zeros": 0.5, "promo": True}),
        (17, -0.99, 40.0, {"calendar": False}),
        (20, 1e-4, 3.0, {"zeros": 0.3}),
        (25, -0.5, 12.0, {"promo": True}),
        (26, 0.5, 12.0, {"first_week": date(2024, 2, 19)}),
        (30, 0.999, 2000.0, {"growth": 0.12}),
        (40, -0.3, 0.7, {"zeros": 0.6, "promo": True, "first_week": date(2024, 3, 4)}),
        (52, 0.2, 150.0, {"calendar": False, "promo": True}),
        (60, -0.999, 8.0, {"growth": -0.1}),
        (96, 0.05, 1.3, {"zeros": 0.4}),
        (96, -0.2, 300.0, {"promo": True, "growth": 0.05}),
        (104, 0.9, 20.0, {"first_week": date(2023, 5, 1)}),
        (156, -0.6, 60.0, {"zeros": 0.1, "first_week": date(2022, 6, 6)}),
    ]
    for n, ar, level, kw in grid:
        cases.append({"n": n, "ar": ar, "level": level, **kw})
    return cases


@pytest.mark.parametrize("case", _cases(), ids=lambda c: f"n{c['n']}-ar{c['ar']}-lvl{c['level']}")
def test_closed_form_equals_a_60_digit_kalman_filter_and_statsmodels(case):
    rng = np.random.default_rng(case["n"] * 7 + int(abs(case["ar"]) * 1000))
    params = {k: v for k, v in case.items() if k not in ("n", "ar", "level")}
    y, xh, xf = _series(rng, case["n"], case["ar"], case["level"], **params)
    x, future = _design(y, xh, xf)
    ar = case["ar"]
    fast = ar1_state_regression_forecast(y, x, future, ar, LEVEL)
    assert fast is not None
    exact = _kalman_60_digits(y, x, future, ar)
    reference = _statsmodels(y, x, future, ar)
    level = _level(*exact)
    for got, want, ref in zip(fast, exact, reference, strict=True):
        assert np.max(np.abs(got - want)) <= TOL_EXACT * level
        assert np.max(np.abs(got - ref)) <= TOL_STATSMODELS * level
    # the interval is a real interval (not collapsed), centred on the point
    assert (fast[2] - fast[1] > 0).all()
    np.testing.assert_allclose(fast[2] - fast[0], fast[0] - fast[1], rtol=1e-12)


def _random_refits(count: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        case = {
            "n": int(rng.choice([16, 18, 24, 26, 27, 40, 52, 70, 96, 104, 130])),
            "ar": float(rng.choice([0.0, rng.uniform(-0.05, 0.05), rng.uniform(-0.9, 0.9), rng.choice([-0.99, 0.99])])),
            "level": float(rng.choice([0.5, 2.0, 10.0, 80.0, 1500.0])),
            "zeros": float(rng.choice([0.0, 0.0, 0.3, 0.6])),
            "promo": bool(rng.random() < 0.3),
            "calendar": bool(rng.random() < 0.85),
            "first_week": date(2022, 1, 3) + timedelta(weeks=int(rng.integers(0, 100))),
            "growth": float(rng.choice([0.0, 0.1, -0.1])),
        }
        cases.append(case)
    return cases


@pytest.mark.parametrize("name", ["sarimax_calendar", "combination"])
def test_fit_forecast_refit_fast_path_equals_statsmodels(name, monkeypatch):
    """Through ``fit_forecast`` (identifiable columns, trend, clipping at 0, the
    combination's mean): fast path on vs off on 120 random demo-like series."""
    rng = np.random.default_rng(11)
    worst = 0.0
    for case in _random_refits(120, seed=3 if name == "combination" else 4):
        params = {k: v for k, v in case.items() if k not in ("n", "ar", "level")}
        y, xh, xf = _series(rng, case["n"], case["ar"], case["level"], **params)
        kw: dict[str, Any] = {"exog_history": xh, "exog_future": xf, "fixed_params": [round(case["ar"], 10)]}
        got = {}
        for on in (True, False):
            monkeypatch.setattr(models, "EXACT_REFIT", on)
            got[on] = fit_forecast(name, y, H, level=LEVEL, **kw)
        fast, slow = got[True], got[False]
        assert fast.params == slow.params
        level = max(_level(slow.point, slow.upper), 1e-9)
        for attr in ("point", "lower", "upper"):
            diff = float(np.max(np.abs(getattr(fast, attr) - getattr(slow, attr))))
            worst = max(worst, diff / level)
            assert diff <= TOL_STATSMODELS * level, (case, attr, diff, level)
    assert worst > 0, "the fast path was not taken (bit-identical to statsmodels everywhere)"


@pytest.mark.parametrize("fixed", [[1.0], [-1.0], [1.2], [0.3, 0.1]])
def test_cases_outside_the_fast_path_behave_as_before(fixed, monkeypatch):
    """|φ| ≥ 1 or another number of parameters: statsmodels as before (same numbers or
    the same error), on vs off."""
    rng = np.random.default_rng(5)
    y, xh, xf = _series(rng, 60, 0.3, 10.0)
    outcome: dict[bool, object] = {}
    for on in (True, False):
        monkeypatch.setattr(models, "EXACT_REFIT", on)
        try:
            f = fit_forecast("sarimax_calendar", y, H, exog_history=xh, exog_future=xf, fixed_params=fixed)
            outcome[on] = (f.point.tolist(), f.lower.tolist(), f.upper.tolist(), f.params)
        except ModelFitError as exc:
            outcome[on] = str(exc)
    assert outcome[True] == outcome[False]
    if abs(fixed[0]) >= 1:
        assert ar1_state_regression_forecast(y, np.ones((60, 1)), np.ones((H, 1)), fixed[0], LEVEL) is None


def test_identifiable_columns_memo_is_the_greedy_rank_rule():
    weeks = [date(2024, 1, 1) + timedelta(weeks=k) for k in range(30)]
    x = calendar_regressors(weeks)
    x = np.column_stack([x, x[:, 0] + x[:, 1], np.zeros(30)])  # a collinear and a constant column
    first = identifiable_columns(x)
    assert first == list(models._identifiable_columns.__wrapped__(x.shape, x.tobytes()))
    assert 8 not in first and 9 not in first
    first.append(99)  # the caller's list is its own
    assert identifiable_columns(x.copy()) == first[:-1]


def _panel_tasks(rng: np.random.Generator, origin: date) -> tuple[list[dict], dict[tuple, dict]]:
    """Demo-like segment × SKU tasks ending the week before ``origin`` and their stored
    choices: the combination and SARIMAX with their AR held (from an MLE fit on a
    shorter history, as at the selection origin), other models, a combination without
    stored parameters, a stale rule and no choice (class default)."""
    last_week = origin - timedelta(days=6)
    tasks, choices = [], {}
    specs: list[tuple[str, int, dict[str, Any]]] = [
        ("combination", 96, {}),
        ("combination", 96, {"promo": True}),
        ("combination", 40, {"zeros": 0.2}),
        ("combination", 20, {}),
        ("combination", 104, {"growth": -0.086}),
        ("combination", 70, {"zeros": 0.5, "promo": True}),
        ("sarimax_calendar", 96, {}),
        ("sarimax_calendar", 30, {"promo": True}),
        ("combination_mle", 60, {}),
        ("sba", 60, {"zeros": 0.7}),
        ("moving_average", 50, {}),
        ("stale", 45, {}),
        ("none", 80, {}),
    ]
    for i, (kind, n, kw) in enumerate(specs):
        first_week = last_week - timedelta(weeks=n - 1)
        ar = float(rng.uniform(-0.6, 0.9))
        y, xh, xf = _series(rng, n, ar, float(rng.choice([2.0, 25.0, 400.0])), first_week=first_week, **kw)
        key = (f"S{i % 4}", f"K{i}")
        task: dict[str, Any] = {"key": key, "first_week": first_week, "y": y}
        if kw.get("promo"):
            task["promo"] = np.concatenate([xh[:, -1], xf[:, -1]])
        tasks.append(task)
        if kind in ("combination", "sarimax_calendar"):
            # the AR coefficient of a selection fit 4 weeks earlier, as panel.py stores it
            history = y[:-4]
            x = calendar_regressors([first_week + timedelta(weeks=k) for k in range(n + H)])
            if "promo" in task:
                x = np.column_stack([x, task["promo"]])
            fit = fit_forecast(
                "sarimax_calendar", history, H, exog_history=x[: n - 4], exog_future=x[n - 4 : n - 4 + H]
            )
            choices[key] = {"model": kind, "params": {"start_params": fit.params["start_params"]}, "fallback": False}
        elif kind == "combination_mle":
            choices[key] = {"model": "combination", "params": {}, "fallback": False}
        elif kind in ("sba", "moving_average"):
            choices[key] = {"model": kind, "params": {}, "fallback": False}
        elif kind == "stale":
            choices[key] = {"model": "combination", "params": {}, "fallback": True}
    return tasks, choices


def test_panel_refit_origin_same_forecasts_with_and_without_the_fast_path(monkeypatch):
    # the MLE fits by statsmodels in both arms, so that only the refit differs (the
    # closed-form MLE has its own tests below)
    monkeypatch.setattr(models, "CLOSED_FORM_MLE", False)
    origin = date(2025, 11, 2)
    tasks, choices = _panel_tasks(np.random.default_rng(21), origin)
    settings = ForecastingConfig(workers=1)
    out = {}
    for on in (True, False):
        monkeypatch.setattr(models, "EXACT_REFIT", on)
        out[on] = forecast_panel(tasks, origin, settings, choices)
    (fast, fast_selected), (slow, slow_selected) = out[True], out[False]
    labels = ["key", "horizon", "period_start", "model", "method", "fallback_reason"]
    pd.testing.assert_frame_equal(fast[labels], slow[labels])
    pd.testing.assert_frame_equal(fast_selected, slow_selected)
    assert set(fast["method"]) == {"refit", "class_default"}
    level = slow.assign(level=slow[["forecast_qty", "upper_qty"]].max(axis=1)).groupby("key")["level"].transform("max")
    for column in ("forecast_qty", "lower_qty", "upper_qty"):
        diff = (fast[column] - slow[column]).abs()
        assert (diff <= TOL_STATSMODELS * level.clip(lower=1e-9)).all(), column
    held = fast["key"].isin([k for k, c in choices.items() if c["params"].get("start_params")])
    assert (fast.loc[held, "forecast_qty"] != slow.loc[held, "forecast_qty"]).any(), "fast path not taken"
    assert fast.loc[~held, ["forecast_qty", "lower_qty", "upper_qty"]].equals(
        slow.loc[~held, ["forecast_qty", "lower_qty", "upper_qty"]]
    ), "series without a held AR coefficient are fitted by statsmodels as before"


def _mle_cases(count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Demo-like series (16..156 weeks, AR −0.6..0.95, levels 1..300, trends, zeros,
    promotions) and their SARIMAX design (constant, calendar, trend)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(count):
        n = int(rng.integers(16, 157))
        y, xh, xf = _series(
            rng,
            n,
            float(rng.uniform(-0.6, 0.95)),
            float(rng.uniform(1.0, 300.0)),
            zeros=0.3 if i % 4 == 0 else 0.0,
            promo=i % 5 == 0,
            growth=float(rng.uniform(-0.2, 0.2)),
        )
        exog, future = _design(y, xh, xf)
        cases.append((y, exog, future))
    return cases


def _statsmodels_model(y: np.ndarray, exog: np.ndarray) -> Any:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    return SARIMAX(y, exog=exog, order=(1, 0, 0), trend="n", mle_regression=False, concentrate_scale=True)


def test_closed_form_likelihood_is_statsmodels_loglike():
    """At AR coefficients across (−1, 1): within 1e-6 relative (measured ≤ 8e-8, the
    rounding of statsmodels' float64 filter with the 1e10 prior)."""
    worst = 0.0
    for y, exog, _ in _mle_cases(30, seed=31):
        model = _statsmodels_model(y, exog)
        ars = np.array([-0.95, -0.4, 0.0, 0.3, 0.7, 0.99])
        ours = models.ar1_concentrated_loglike(y, exog, ars)
        theirs = np.array([model.loglike(np.array([ar])) for ar in ars])
        relative = np.abs(ours - theirs) / np.abs(theirs)
        worst = max(worst, float(relative.max()))
    assert worst <= 1e-6, worst


def test_closed_form_mle_finds_the_maximum_statsmodels_approaches():
    """On 60 series: the coefficient is the maximum of a 20,001-point grid over
    (−1, 1) to its spacing; statsmodels' likelihood there is at least its own fit's
    (to its rounding); statsmodels' L-BFGS stops near it, not always on it."""
    dense = np.linspace(-0.9999, 0.9999, 20001)
    gains, distances = [], []
    for y, exog, _ in _mle_cases(60, seed=32):
        ar = models.ar1_state_regression_mle(y, exog)
        assert ar is not None and abs(ar) < 1
        surface = models.ar1_concentrated_loglike(y, exog, dense)
        assert abs(ar - dense[np.nanargmax(surface)]) <= 2 * (dense[1] - dense[0])
        assert models.ar1_concentrated_loglike(y, exog, ar)[0] >= np.nanmax(surface) - 1e-9
        model = _statsmodels_model(y, exog)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = model.fit(disp=False)
        gains.append((model.loglike(np.array([ar])) - fitted.llf) / abs(fitted.llf))
        distances.append(abs(ar - float(fitted.params[0])))
    assert min(gains) >= -1e-6, min(gains)  # never a worse likelihood than statsmodels'
    assert max(gains) > 1e-7, "statsmodels reached the maximum everywhere: nothing to compare"
    assert np.median(distances) < 1e-3 and max(distances) < 0.1, distances


def test_sarimax_fit_uses_the_closed_form_mle_and_holds_it(monkeypatch):
    """fit_forecast without fixed_params: the stored coefficient is the closed-form MLE
    (10 digits) and the forecast is the refit with it held; switched off, statsmodels'
    fit as before."""
    rng = np.random.default_rng(33)
    y, xh, xf = _series(rng, 90, 0.5, 40.0, growth=-0.1)
    fitted = fit_forecast("sarimax_calendar", y, H, exog_history=xh, exog_future=xf)
    design, _ = _design(y, xh, xf)
    expected = round(models.ar1_state_regression_mle(y, design) or 0.0, 10)
    assert fitted.params["start_params"] == [expected]
    held = fit_forecast("sarimax_calendar", y, H, exog_history=xh, exog_future=xf, fixed_params=[expected])
    for attr in ("point", "lower", "upper"):
        assert np.array_equal(getattr(fitted, attr), getattr(held, attr))
    monkeypatch.setattr(models, "CLOSED_FORM_MLE", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = _statsmodels_model(y, design).fit(disp=False)
    before = fit_forecast("sarimax_calendar", y, H, exog_history=xh, exog_future=xf)
    assert before.params["start_params"] == [round(float(reference.params[0]), 10)]


def test_closed_form_mle_declines_where_it_does_not_apply():
    y = np.arange(6, dtype=float)
    assert models.ar1_state_regression_mle(y, np.column_stack([np.ones(6), np.arange(6.0)] * 3)) is None
    assert np.isnan(models.ar1_concentrated_loglike(np.ones(3), np.ones((3, 1)), [0.5, np.nan])[1])
