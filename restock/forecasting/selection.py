"""Per-series model selection: demand class → candidates → rolling-origin backtest.

Procedure (FPP3 §5.10 "time series cross-validation"; Tashman 2000 on rolling
origins):

1. **Candidates** come from the demand class (Syntetos, Boylan & Croston 2005, see
   :mod:`restock.segmentation.product_classes`): smooth/erratic series get the
   continuous-demand models, intermittent/lumpy ones the Croston family plus two
   simple benchmarks, ``no_demand`` the zero forecast (:func:`candidates_for`).
2. **Score** each candidate by :func:`rolling_origin_backtest`: expanding window,
   ``origins`` forecast origins at the end of the history, ``h`` weeks each; the
   metric over all origins' forecasts stacked. Metric and number of origins depend
   on the class (:data:`DEFAULT_CLASS_METRICS`, :data:`DEFAULT_CLASS_ORIGINS`):
   WAPE / 3 origins for smooth and erratic, RMSSE / 8 origins for intermittent and
   lumpy, because absolute-error metrics reward the all-zero forecast there.
3. **Pick** the lowest score (ties: the earlier candidate in the list, i.e. the
   simpler one), except that the class's default model (the combination for
   smooth/erratic, :data:`DEFAULT_CLASS_MODELS`) is kept unless the best score is
   more than ``switch_margin`` (25%) below the default's; refit the pick on the
   whole history and forecast ``h`` weeks.

The combination (:func:`restock.forecasting.models._combination`: SES, the seasonal
naive scaled by the year-on-year ratio, SARIMAX with calendar and damped trend; why
these, and the measured bias and WAPE before and after they replaced SES α 0.1, the
plain seasonal naive and SARIMAX without trend: the models module docstring) is
backtested from its components' forecasts: ``ses_fixed`` and ``sarimax_calendar`` are
candidates whose backtest forecasts are cached, the adjusted seasonal naive (< 1 ms)
is fitted at each origin (:func:`_cached_combination`), so scoring it costs no extra
SARIMAX fit.

Fallback rules (:func:`select_and_forecast` never raises for a valid series):

- **no history** (0 weeks) → zero forecast, ``fallback_reason="no history"``;
- **new SKU** (fewer than ``min_history_weeks``, default 12, weeks) → mean of all
  weeks so far (moving average over the whole history), no selection;
- a candidate raising :class:`ModelFitError` in the backtest is scored ``inf``; if
  the chosen one fails on the final fit, the next best is tried;
- **all failed** → moving average (``window`` default 4), ``fallback_reason`` set
  with the failures.

Cost: the backtest is ``origins`` fits per candidate, so choose the cadence
(select rarely, refit the chosen model often) from the timings in
:mod:`restock.forecasting.models`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from restock.forecasting import metrics
from restock.forecasting.calendar_regressors import calendar_regressors, future_week_starts
from restock.forecasting.models import (
    COMBINATION,
    CROSTON,
    DEFAULT_LEVEL,
    DEFAULT_MA_WINDOW,
    DEFAULT_SEASON,
    DEFAULT_SES_ALPHA,
    ETS_DAMPED,
    MOVING_AVERAGE,
    SARIMAX_CALENDAR,
    SBA,
    SEASONAL_NAIVE,
    SEASONAL_NAIVE_ADJUSTED,
    SES_FIXED,
    TSB,
    ZERO,
    Forecast,
    ModelFitError,
    combination_components,
    fit_forecast,
    moving_average_fitted,
    residual_interval,
)
from restock.segmentation.product_classes import (
    ERRATIC,
    INTERMITTENT,
    LUMPY,
    NO_DEMAND,
    SMOOTH,
    classify_demand,
    validate_demand,
)

# Defaults of the pure functions. The pipeline passes restock.yaml's forecasting
# values where it has one (min_history_weeks, backtest_origins, backtest_metric);
# the others are technical constants.
DEFAULT_MIN_HISTORY_WEEKS = 12  # below: "new SKU" rule, no model selection
DEFAULT_ORIGINS = 3
DEFAULT_BACKTEST_H = 4
DEFAULT_MIN_TRAIN_WEEKS = 8  # an origin needs at least this many training weeks
DEFAULT_MIN_SARIMAX_WEEKS = 26  # fewer: too few weeks for 8 regressors + AR
DEFAULT_MIN_ETS_WEEKS = 10
# Backtest metric per demand class. Absolute-error metrics (WAPE, MAE, MASE) are
# minimised by the median, which is 0 for an intermittent series: on intermittent
# data they pick "forecast nothing" (Kolassa 2016, "Evaluating predictive count
# data distributions in retail sales forecasting", IJF 32(3)); measured here, naive
# last-value = 0 won WAPE on 4 of 5 synthetic intermittent series. Squared error
# (RMSSE, as in M5) is minimised by the mean, which is what replenishment needs.
DEFAULT_CLASS_METRICS = {SMOOTH: "wape", ERRATIC: "wape", INTERMITTENT: "rmsse", LUMPY: "rmsse"}
# Backtest origins per demand class. 3 origins x 4 weeks = 12 scored weeks is too
# few to tell Croston-type methods from a moving average on sparse data: on 20
# synthetic intermittent series (p = 0.25, 104 weeks) a Croston-family method won
# 12/20 with 3 origins and 19/20 with 8. Intermittent fits cost < 1 ms, so 8 is cheap;
# continuous candidates cost 10-150 ms per fit, so they keep 3.
DEFAULT_CLASS_ORIGINS = {SMOOTH: 3, ERRATIC: 3, INTERMITTENT: 8, LUMPY: 8}

# Fitted SES (``ses``) is not a default candidate: damped ETS nests it and
# ``ses_fixed`` covers the long-memory level; it cost ~10 ms a series for picks that
# the margin rule then discarded. Pass ``candidates`` to use it.
CONTINUOUS_CANDIDATES = (SEASONAL_NAIVE, MOVING_AVERAGE, SES_FIXED, ETS_DAMPED, SARIMAX_CALENDAR, COMBINATION)
# The model a class keeps unless another candidate beats it clearly in the backtest
# (score below (1 − switch margin) × the default's). Why: 12 scored weeks cannot tell
# close candidates apart on noisy weekly data, so plain argmin picks by chance. On the
# demo benchmark (docs/forecast_benchmark.md, 200 segment × SKU series) WAPE was
# 22.1% with plain argmin over the old candidates, 19.4% with a 10% margin, 18.2%
# with 25% and 17.8% with the combination always kept; the Spring Festival window
# ranks them the same way (34.7% / 33.7% / 32.6%). 25% keeps per-series selection
# for the series where the evidence is strong. Intermittent classes have no default:
# the Croston family is chosen by plain argmin on RMSSE over 8 origins.
DEFAULT_CLASS_MODELS = {SMOOTH: COMBINATION, ERRATIC: COMBINATION}
DEFAULT_SWITCH_MARGIN = 0.25
INTERMITTENT_CANDIDATES = (CROSTON, SBA, TSB, MOVING_AVERAGE, SEASONAL_NAIVE)

Metric = Callable[[np.ndarray, np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class SelectionResult:
    """The forecast of the chosen model, its name, every candidate's backtest score
    (``inf`` = failed to fit) and why a fallback rule was used (None when not)."""

    forecast: Forecast
    model: str
    scores: dict[str, float] = field(default_factory=dict)
    fallback_reason: str | None = None


def candidates_for(
    demand_class: str,
    n_obs: int,
    min_history_weeks: int = DEFAULT_MIN_HISTORY_WEEKS,
    min_sarimax_weeks: int = DEFAULT_MIN_SARIMAX_WEEKS,
    min_ets_weeks: int = DEFAULT_MIN_ETS_WEEKS,
) -> list[str]:
    """Candidate names for a demand class and history length (simplest first).

    smooth/erratic → seasonal naive, moving average, SES with fixed α, damped ETS,
    SARIMAX with calendar, their combination; intermittent/lumpy → Croston, SBA, TSB, moving average, seasonal naive;
    no_demand → ``["zero"]``. Fewer than ``min_history_weeks`` weeks → moving average
    only (the new-SKU rule); ETS and SARIMAX are dropped below ``min_ets_weeks`` /
    ``min_sarimax_weeks`` weeks of history.
    """
    if n_obs < 0:
        raise ValueError(f"n_obs must be >= 0, got {n_obs}")
    if demand_class == NO_DEMAND or n_obs == 0:
        return [ZERO]
    if n_obs < min_history_weeks:
        return [MOVING_AVERAGE]
    if demand_class in (SMOOTH, ERRATIC):
        names = list(CONTINUOUS_CANDIDATES)
    elif demand_class in (INTERMITTENT, LUMPY):
        names = list(INTERMITTENT_CANDIDATES)
    else:
        raise ValueError(f"unknown demand class {demand_class!r}")
    too_short = {ETS_DAMPED: n_obs < min_ets_weeks, SARIMAX_CALENDAR: n_obs < min_sarimax_weeks}
    return [name for name in names if not too_short.get(name, False)]


def rolling_origin_backtest(
    y: ArrayLike,
    candidate: str,
    origins: int = DEFAULT_ORIGINS,
    h: int = DEFAULT_BACKTEST_H,
    metric: str | Metric = "wape",
    exog: ArrayLike | None = None,
    step: int | None = None,
    min_train: int = DEFAULT_MIN_TRAIN_WEEKS,
    season: int = DEFAULT_SEASON,
    cache: dict | None = None,
    **params: Any,
) -> float:
    """Expanding-window backtest score of ``candidate`` on ``y`` (lower is better).

    Origin ``i`` (``i = 0..origins−1``) trains on ``y[:e_i]`` with
    ``e_i = n − h − step·(origins−1−i)`` (``step`` defaults to ``h``: adjacent,
    non-overlapping test windows ending at the last week) and forecasts
    ``y[e_i:e_i+h]``. Origins with fewer than ``min_train`` training weeks are
    skipped. The forecasts of all origins are stacked and scored at once:

    - ``"wape"`` (default): Σ|y − ŷ| / Σy; when the stacked actuals are all zero
      (WAPE undefined) the mean absolute error is returned instead — every
      candidate of one series sees the same actuals, so scores stay comparable;
    - ``"mae"``; ``"mase"``: MAE scaled by the one-step naive in-sample MAE of the
      first origin's training data (Hyndman & Koehler 2006);
    - ``"rmsse"`` (M5; :func:`restock.forecasting.metrics.rmsse`, one-step naive
      scale from the first origin's training data); RMSE when that scale is
      undefined (no demand in the training data);
    - or a callable ``metric(actual, forecast, insample) -> float``.

    ``exog`` (``n + ?`` rows, at least ``n``) is sliced per origin for
    ``sarimax_calendar``. ``cache`` (a dict shared by the candidates of one series)
    keeps each origin's point forecast so that ``combination`` is the mean of the
    components already backtested instead of fitting them again; SARIMAX estimates
    its ARMA coefficients at the first origin and holds them at the later ones. Returns NaN when no origin
    has enough history.
    :class:`ModelFitError` propagates to the caller.
    """
    values = validate_demand(y)
    n = values.size
    step = h if step is None else step
    if origins < 1 or h < 1 or step < 1:
        raise ValueError("origins, h and step must be positive")
    x = None if exog is None else np.asarray(exog, dtype=float)
    x = None if x is None else x.reshape(x.shape[0], -1)
    actuals, forecasts, first_train = [], [], None
    for i in range(origins):
        end = n - h - step * (origins - 1 - i)
        if end < max(min_train, 1):
            continue
        first_train = values[:end] if first_train is None else first_train
        exog_kw: dict[str, Any] = {} if x is None else {"exog_history": x[:end], "exog_future": x[end : end + h]}
        point = _cached_combination(cache, values[:end], h, season, x is not None) if candidate == COMBINATION else None
        if point is None:
            result = fit_forecast(candidate, values[:end], h, season=season, **exog_kw, **params)
            point = result.point
            if "start_params" in result.params and "fixed_params" not in params:
                # Later origins hold the ARMA coefficients of the first one, as the
                # weekly refits between selections do (panel.py): 3x cheaper.
                params = {**params, "fixed_params": result.params["start_params"]}
        if cache is not None:
            cache[(candidate, end, h)] = point
        actuals.append(values[end : end + h])
        forecasts.append(point)
    if not actuals or first_train is None:
        return float("nan")
    return _score(np.concatenate(actuals), np.concatenate(forecasts), first_train, metric)


def _cached_combination(
    cache: dict | None, history: np.ndarray, h: int, season: int, has_calendar: bool
) -> np.ndarray | None:
    """The combination's backtest point at one origin (``history`` = its training
    weeks) from its components' points: those backtested as candidates (SES,
    SARIMAX) from the cache, the adjusted seasonal naive (< 1 ms, not a candidate of
    its own) fitted here. None when SARIMAX or SES was not backtested or a component
    fails (then the combination is fitted)."""
    if cache is None:
        return None
    end = history.size
    points = []
    for name in combination_components(end, season, has_calendar):
        if (name, end, h) not in cache:
            if name != SEASONAL_NAIVE_ADJUSTED:
                return None
            try:
                cache[(name, end, h)] = fit_forecast(name, history, h, season=season).point
            except ModelFitError:
                return None
        points.append(cache[(name, end, h)])
    return np.mean(points, axis=0)


def _score(actual: np.ndarray, forecast: np.ndarray, insample: np.ndarray, metric: str | Metric) -> float:
    if callable(metric):
        return float(metric(actual, forecast, insample))
    if metric == "wape":
        value = metrics.wape(actual, forecast)
        return float(np.mean(np.abs(forecast - actual))) if math.isnan(value) else value
    if metric == "mae":
        return float(np.mean(np.abs(forecast - actual)))
    if metric == "mase":
        return metrics.mase(actual, forecast, insample) if insample.size > 1 else float("nan")
    if metric == "rmsse":
        value = metrics.rmsse(actual, forecast, insample)
        return float(np.sqrt(np.mean((forecast - actual) ** 2))) if math.isnan(value) else value
    raise ValueError(f"unknown metric {metric!r}; use 'wape', 'mae', 'mase', 'rmsse' or a callable")


def select_and_forecast(
    y: ArrayLike,
    week_starts: Sequence[date],
    h: int,
    demand_class: str | None = None,
    min_history_weeks: int = DEFAULT_MIN_HISTORY_WEEKS,
    origins: int | None = None,
    backtest_h: int | None = None,
    metric: str | Metric | None = None,
    season: int = DEFAULT_SEASON,
    level: float = DEFAULT_LEVEL,
    fallback_window: int = DEFAULT_MA_WINDOW,
    candidates: Sequence[str] | None = None,
    default_model: str | None = None,
    switch_margin: float = DEFAULT_SWITCH_MARGIN,
    ses_alpha: float = DEFAULT_SES_ALPHA,
    extra_exog: ArrayLike | None = None,
) -> SelectionResult:
    """Choose a model for one weekly series by backtest and forecast ``h`` weeks.

    ``week_starts`` are the dates of ``y``'s weeks (for the calendar regressors).
    ``demand_class`` None → :func:`classify_demand` of ``y``. ``backtest_h``
    defaults to ``h``. ``metric`` None → :data:`DEFAULT_CLASS_METRICS` of the class
    (WAPE for smooth/erratic, RMSSE for intermittent/lumpy); ``origins`` None →
    :data:`DEFAULT_CLASS_ORIGINS` (3 for smooth/erratic, 8 for intermittent/lumpy).
    ``candidates`` overrides :func:`candidates_for`. ``default_model`` (None →
    :data:`DEFAULT_CLASS_MODELS` of the class, ``""`` → none) is kept unless the best
    candidate's score is below ``(1 − switch_margin)`` × its score. ``ses_alpha`` is
    the fixed weight of ``ses_fixed`` (alone and in the combination).
    ``extra_exog`` (None: none): regressor values appended as columns to the
    calendar regressors of ``sarimax_calendar`` and the combination (e.g. the
    promotions of :mod:`restock.forecasting.promotions`), one row per history week
    then at least ``max(h, backtest_h)`` future weeks; the backtest slices them per
    origin like the calendar (their future values taken as known). Raises
    ``ValueError`` only for invalid input (NaN, negative, mismatched lengths, bad
    ``h``); every model failure ends in a fallback, see the module docstring.
    """
    raw = np.asarray(y, dtype=float)
    if raw.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {raw.shape}")
    if len(week_starts) != raw.size:
        raise ValueError(f"week_starts has {len(week_starts)} dates for {raw.size} weeks")
    if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
        raise ValueError(f"h must be a positive integer, got {h!r}")
    if raw.size == 0:
        return _fixed(np.zeros(0), h, ZERO, level, "no history: zero forecast")
    values = validate_demand(raw, "y")
    if values.size < min_history_weeks:
        reason = f"new SKU: {values.size} < {min_history_weeks} weeks, mean of all weeks"
        return _fixed(values, h, MOVING_AVERAGE, level, reason, window=values.size)
    klass = classify_demand(values) if demand_class is None else demand_class
    names = list(candidates) if candidates is not None else candidates_for(klass, values.size, min_history_weeks)
    if names == [ZERO]:
        return _fixed(values, h, ZERO, level, None)
    params = {SES_FIXED: {"alpha": ses_alpha}, COMBINATION: {"alpha": ses_alpha}}
    metric = DEFAULT_CLASS_METRICS.get(klass, "wape") if metric is None else metric
    origins = DEFAULT_CLASS_ORIGINS.get(klass, DEFAULT_ORIGINS) if origins is None else origins
    if extra_exog is not None and len(np.asarray(extra_exog)) < values.size + max(h, backtest_h or h):
        needed = values.size + max(h, backtest_h or h)
        raise ValueError(f"extra_exog has {len(np.asarray(extra_exog))} rows, needs {needed} (history + future weeks)")
    try:
        exog = _calendar(week_starts, h, backtest_h or h, names, extra_exog)
        calendar_failure = None
    except ValueError as exc:
        # Dates the calendar cannot place (before 1950 or after 2100): the calendar
        # model can't run, the rest can.
        names = [name for name in names if name != SARIMAX_CALENDAR]
        exog, calendar_failure = None, str(exc)
    if len(names) == 1 and calendar_failure is None:
        # One candidate: nothing to choose, so no backtest; fit it (or fall back).
        exog_kw = (
            {}
            if exog is None
            else {"exog_history": exog[: values.size], "exog_future": exog[values.size : values.size + h]}
        )
        try:
            forecast = fit_forecast(
                names[0], values, h, season=season, level=level, **exog_kw, **params.get(names[0], {})
            )
            return SelectionResult(forecast, names[0], {}, None)
        except ModelFitError as exc:
            return _fixed(values, h, MOVING_AVERAGE, level, f"{names[0]} failed: {exc.reason}", window=fallback_window)
    scores, failures = _backtest_all(values, names, origins, backtest_h or h, metric, exog, season, params)
    if calendar_failure is not None:
        scores[SARIMAX_CALENDAR], failures[SARIMAX_CALENDAR] = math.inf, calendar_failure
    ranked = [
        name for _, _, name in sorted((s, i, name) for i, (name, s) in enumerate(scores.items()) if math.isfinite(s))
    ]
    default = DEFAULT_CLASS_MODELS.get(klass) if default_model is None else default_model
    if default in ranked and ranked[0] != default and not scores[ranked[0]] < (1.0 - switch_margin) * scores[default]:
        ranked.remove(default)  # the challenger is not clearly better: keep the default
        ranked.insert(0, default)
    for name in ranked:
        try:
            exog_kw = (
                {}
                if exog is None
                else {"exog_history": exog[: values.size], "exog_future": exog[values.size : values.size + h]}
            )
            forecast = fit_forecast(name, values, h, season=season, level=level, **exog_kw, **params.get(name, {}))
            return SelectionResult(forecast, name, scores, None)
        except ModelFitError as exc:
            failures[name] = exc.reason
            scores[name] = math.inf
    if failures and all(v == "no backtest origin with enough history" for v in failures.values()):
        reason = f"too short for a backtest ({values.size} weeks): mean of the last {fallback_window} weeks"
    else:
        reason = "all candidates failed or could not be scored: " + "; ".join(f"{k}: {v}" for k, v in failures.items())
    return _fixed(values, h, MOVING_AVERAGE, level, reason, scores=scores, window=fallback_window)


def _backtest_all(
    values: np.ndarray,
    names: list[str],
    origins: int,
    h: int,
    metric: str | Metric,
    exog: np.ndarray | None,
    season: int,
    params: dict[str, dict[str, Any]],
) -> tuple[dict[str, float], dict[str, str]]:
    """Score every candidate; ModelFitError → ``inf``, unscoreable (NaN) → ``inf``."""
    scores: dict[str, float] = {}
    failures: dict[str, str] = {}
    cache: dict = {}
    for name in names:
        try:
            x = exog if name in (SARIMAX_CALENDAR, COMBINATION) else None
            score = rolling_origin_backtest(
                values,
                name,
                origins=origins,
                h=h,
                metric=metric,
                exog=x,
                season=season,
                cache=cache,
                **params.get(name, {}),
            )
        except ModelFitError as exc:
            failures[name] = exc.reason
            score = math.inf
        if math.isnan(score):
            failures[name] = "no backtest origin with enough history"
            score = math.inf
        scores[name] = score
    return scores, failures


def _calendar(
    week_starts: Sequence[date], h: int, backtest_h: int, names: list[str], extra: ArrayLike | None = None
) -> np.ndarray | None:
    """Calendar regressors for the history plus ``max(h, backtest_h)`` future weeks,
    ``extra`` columns appended (its first rows)."""
    if SARIMAX_CALENDAR not in names and COMBINATION not in names:
        return None
    ahead = max(h, backtest_h)
    x = calendar_regressors(list(week_starts) + future_week_starts(week_starts[-1], ahead))
    if extra is None:
        return x
    e = np.asarray(extra, dtype=float)
    e = e.reshape(e.shape[0], -1)
    return np.column_stack([x, e[: x.shape[0]]])


def _fixed(
    values: np.ndarray,
    h: int,
    model: str,
    level: float,
    reason: str | None,
    scores: dict[str, float] | None = None,
    **params: Any,
) -> SelectionResult:
    """A rule-based forecast (zero or moving average) computed directly, not through
    :func:`fit_forecast`, so that it cannot fail on valid data."""
    if model == ZERO or values.size == 0:
        zeros = np.zeros(h)
        forecast = Forecast(point=zeros, lower=zeros.copy(), upper=zeros.copy(), model=ZERO, level=level)
        return SelectionResult(forecast, ZERO, scores or {}, reason)
    window = max(1, min(int(params.get("window", DEFAULT_MA_WINDOW)), values.size))
    point = np.full(h, values[-window:].mean())
    lower, upper = residual_interval(point, values - moving_average_fitted(values, window), level)
    forecast = Forecast(
        point=point, lower=lower, upper=upper, model=MOVING_AVERAGE, level=level, params={"window": window}
    )
    return SelectionResult(forecast, MOVING_AVERAGE, scores or {}, reason)
