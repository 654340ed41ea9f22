"""A uniform interface over the forecasting candidates for WEEKLY demand series.

``fit_forecast(name, y, h, ...)`` fits one named candidate to the history ``y``
(non-negative, zeros included, one value per week) and returns a :class:`Forecast`:
``h`` non-negative point forecasts with an interval (``level`` = 0.8 by default).

Candidates (:data:`CANDIDATES`):

- ``seasonal_naive``: the value of the same week last season (``season`` = 52) when
  at least one full season exists, else the last value (naive). Hyndman &
  Athanasopoulos, *Forecasting: Principles and Practice* (FPP3) §5.2.
- ``moving_average``: mean of the last ``window`` weeks (default 4), flat.
- ``ses``: simple exponential smoothing (statsmodels ``SimpleExpSmoothing``).
- ``ses_fixed``: SES with a fixed smoothing weight (``alpha``, default 0.15), no fit.
- ``seasonal_naive_adjusted``: the seasonal naive × the year-on-year ratio (Σ of the
  last 26 weeks ÷ Σ of the same weeks a season earlier, clipped to [0.25, 2];
  :func:`yoy_ratio`), from ``season + 4`` weeks of history. Not a selection candidate
  of its own: the combination's seasonal component.
- ``ets_damped``: Holt's additive damped trend (Gardner & McKenzie 1985) via
  statsmodels ``ExponentialSmoothing``, with an additive season of ``season`` weeks
  only when at least three full seasons exist (Holt-Winters, FPP3 §8.3; see
  ``DEFAULT_ETS_SEASONS_REQUIRED`` for why not two).
- ``sarimax_calendar``: regression on the calendar regressors of
  :func:`restock.forecasting.calendar_regressors.calendar_regressors` (Spring Festival weeks, holiday weeks) with AR(1)
  errors, a constant and, from 26 weeks of history, a linear trend whose future path
  is damped (φ = 0.95 a week, :func:`damped_trend_regressor`): SARIMAX(1,0,0) by
  default (``order`` parameter). The constant, the trend and the regression
  coefficients are kept in the state vector (``mle_regression=False``, i.e. GLS given
  the ARMA parameters via the Kalman filter) and the scale is concentrated out, so
  MLE searches the AR coefficient only: with 8 weakly identified dummies as MLE
  parameters a fit took ~50 iterations and 300–400 ms here and often did not
  converge; this way ~10 ms. ``trend_phi=None``: no trend (the model before).
  The refit with the AR coefficient held (``fixed_params``: the weekly refits and the
  later backtest origins) is the same GLS in closed form
  (:func:`ar1_state_regression_forecast`, issue 13): ~0.4 ms instead of ~6 ms, the
  numbers statsmodels' filter gives up to its own rounding (≤ 1.7e-6 of the level).
  The AR coefficient itself is estimated by maximising statsmodels' likelihood in
  closed form (:func:`ar1_state_regression_mle`, issue 13): ~3 ms instead of ~20 ms
  for the L-BFGS fit, a likelihood at least as high; statsmodels' optimiser stops up
  to ~0.03 away from the maximum in φ, so these forecasts differ slightly from
  statsmodels' (by design; same accuracy on the demo).
- ``combination``: the equal-weight mean of ``ses_fixed``, ``seasonal_naive_adjusted``
  and ``sarimax_calendar`` (:func:`_combination`), the default of smooth and erratic
  series (see "The combination" below).
- ``croston``, ``sba``, ``tsb``: :mod:`restock.forecasting.intermittent`.
- ``zero``: the zero forecast (for ``no_demand`` items).

Intervals. ``sarimax_calendar`` uses the model's own Gaussian forecast interval.
Every other candidate uses one documented simple rule (:func:`residual_interval`):
``point + empirical quantiles`` of its in-sample one-step-ahead residuals
``y_t − ŷ_t``, the same width at every step of the horizon. That ignores the growth of
uncertainty with the step (it understates the far end of the horizon) but is
distribution-free and defined for Croston-type methods, which have no model-based
interval (no consistent stochastic model underlies Croston: Shenstone & Hyndman
2005, J. Forecasting 24(6)). All bounds are clipped at 0 and
``lower ≤ point ≤ upper`` is enforced.

Failures. statsmodels warnings (ConvergenceWarning, …) are suppressed inside the
fit; any exception while fitting, or a non-finite result, becomes
:class:`ModelFitError` so that callers can fall back. Invalid input (NaN, negative,
empty, bad horizon) raises ``ValueError`` before any fit.

Measured cost per fit on a 104-week series (this machine, statsmodels 0.15, warm):
seasonal naive, moving average, ses_fixed, Croston/SBA/TSB ≤ 0.4 ms; SES ~2-5 ms;
damped ETS ~4 ms without season, 100+ ms with season 52 (used from 156 weeks);
SARIMAX calendar ~10 ms (5 ms warm-started); combination ~11 ms. A refit with the AR
held (issue 13, CPU time per series over a demo origin's 1,719 combination refits,
interleaved, shared 2-core machine): SARIMAX 6.1 ms with statsmodels' filter → 0.42 ms
in closed form; the whole combination refit 6.5 → 0.68 ms.

The combination: trend and bias (issue 11, item 3). Before, it was the mean of SES
(α 0.1), the plain seasonal naive and SARIMAX without trend. None of them follows a
trend: the seasonal naive repeats last year's level (a year of trend behind), the
SARIMAX constant is the GLS mean of the history (~half the history behind) and SES
lags ``(1−α)/α`` = 9 weeks; on the demo (demand −8.6 % a year) it over-forecast by
4.4 %, on a market growing 12 % a year it under-forecast by 8.8 %, and a level
shift was still 14 % short after 16 weeks. Now (each choice screened on the series of
the five data sets of benchmarks/bench_lifecycle_demand.py at their 11 origins,
horizons 1-8, and on three synthetic panels of 150 seasonal / trending / shifting
series, then confirmed by the full benchmark below):

- the seasonal naive is scaled by the year-on-year ratio (unbiased under a steady
  trend: exact on ``y = c·g^t``). Ratio over 26 weeks (13: same totals, slightly
  noisier series); clipped to [0.25, 2] (CDNOW, whose history starts with its one
  big cohort, needs ratios down to ~0.25: clipped at 0.5 its Σ forecast / demand
  was 1.13; an upper clip of 4 made the small CDNOW tiers worse, series WAPE 0.65
  against 0.58); from 4 weeks of overlap (13: demo alike, CDNOW total WAPE 0.287
  against 0.253; 26: growing set 0.973 against 0.982);
- SARIMAX gets a deterministic trend, damped in the future (linear, φ 0.98 and 0.95
  within 0.001 of each other in Σ forecast / demand; flat, φ = 0, 0.2-0.5 % less of
  the trend on the growing sets); from 26 weeks (from 52: demo WAPE 0.050 against
  0.047);
- SES's weight 0.1 → 0.15 (restock.yaml ``ses_alpha``): a level shift is 95 %
  absorbed in 18 weeks instead of 28; on the grid 0.1/0.15/0.2/0.25/0.3 higher
  weights helped the demo sets a little and tiny (12-20 weeks across the Spring
  Festival) lost from 0.2 on (Σ forecast / demand 1.001 at 0.15, 0.961 at 0.2).

Tried and rejected (same measurements): a damped-trend Holt with fixed weights in
place of SES (grid α 0.1/0.2/0.3 × β 0.02/0.05/0.1 × φ 0.9/0.95/0.98, with the two
other new components): within 0.3 % of SES with the same α on the demo and growing
sets, worse on tiny (α 0.15, β 0.02, φ 0.9: Σ forecast / demand 0.984 and WAPE 0.201
against 1.001 and 0.195) and, its trend chasing the season, on the synthetic
seasonal panel (series WAPE 0.121 at α 0.1, β 0.05, φ 0.98 against 0.110 with SES);
fitted ``ets_damped`` as a fourth component: 0.970 against 0.982 on the growing set
and 0.85 against 1.00 on tiny, at 7.4 ms a fit against 5.4 ms for the whole
combination's refit; SARIMAX(0,1,1) (a local level with calendar) in place of the AR(1)
with trend: 0.962 against 0.977 on the growing set.

Before → after, Σ forecast / demand that arrived (total WAPE; customer × SKU WAPE
h1), benchmarks/bench_lifecycle_demand.py, same data and origins:
tiny 1.054 (0.217; 0.716) → 1.001 (0.195; 0.688);
demo 1.044 (0.055; 0.735) → 1.002 (0.047; 0.725);
growing market (+12 %/year) 0.912 (0.108; 0.705) → 0.979 (0.057; 0.715);
irregular buyers + trend (rhythms) 0.931 (0.106; 1.367) → 0.979 (0.101; 1.389);
CDNOW (real) 1.047 (0.237; 1.733) → 0.995 (0.252; 1.727): its one big series now
keeps the combination at selection instead of the naive (the combination's
backtest improved), unbiased but noisier. The customer × SKU WAPE rises 1-2 % where
the totals rose: customer demand is intermittent and WAPE rewards forecasting low.
Segment × SKU WAPE (h1-8): tiny 0.567 → 0.560, demo 0.237 → 0.233, growing 0.219 →
0.215, rhythms 0.485 → 0.490, CDNOW 0.250 → 0.267. Walmart (7 departments, weekly,
no calendar regressors: SES + adjusted seasonal naive; benchmarks/bench_forecasting.py
evaluation): selection WAPE 6.6 % → 7.1 %, Σ forecast / actual 0.985 → 0.995 (with
α 0.1: 6.75 %), still ahead of the seasonal naive (7.3 %) and AutoETS (8.6 %). A
stable seasonal series is forecast as before (tests: within 2 % on a demo-like
series; the synthetic seasonal panel's series WAPE 0.108 against 0.109); a strongly
seasonal one (±30 %) can lose where the history ends mid-swing, since SES and the
trend term are not seasonal (the panel averages that out).
Cost (min of 15 interleaved runs, 96 weeks, on the shared benchmark machine):
``seasonal_naive_adjusted`` 0.10 ms (plain 0.07 ms); SARIMAX refit with the AR
held 4.92 ms with the trend, 4.93 ms without; the combination's refit 5.4 ms against
5.1 ms for its old parts — a refit origin costs what it did, within the noise of the
machine.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from restock.forecasting import intermittent
from restock.segmentation.product_classes import validate_demand

# Defaults of the pure functions. The pipeline passes restock.yaml's forecasting
# values where it has one (season_weeks, interval_level, ses_alpha); the others are
# technical constants.
DEFAULT_SEASON = 52
DEFAULT_LEVEL = 0.8
DEFAULT_MA_WINDOW = 4
# Full seasons of history before a seasonal model is used. Seasonal naive needs one
# (the same week last year exists); Holt-Winters needs two to estimate the season.
DEFAULT_SEASONS_REQUIRED = 1
# Holt-Winters with a 52-week season has 51 free initial seasonal states: from two
# seasons (104 points) the fit overfits and costs 100-400 ms (numerical gradients
# over ~56 parameters); from three it has at least 3 points per state.
DEFAULT_ETS_SEASONS_REQUIRED = 3
DEFAULT_SES_ALPHA = 0.15  # fixed smoothing weight of ses_fixed and of the combination's SES
# Level-adjusted seasonal naive (``seasonal_naive_adjusted``): last season's same week
# × (sum of the last ``window`` weeks / sum of the same weeks one season earlier),
# the ratio clipped to ``DEFAULT_YOY_CLIP``; with fewer than ``season + min window``
# weeks of history the ratio is not estimated (the component is left out).
DEFAULT_YOY_WINDOW = 26
DEFAULT_YOY_MIN_WINDOW = 4
DEFAULT_YOY_CLIP = (0.25, 2.0)
# SARIMAX's deterministic trend (a linear time regressor, GLS-estimated like the
# constant) from this many weeks of history; its future path is damped by
# DEFAULT_TREND_PHI a week (the extrapolated slope adds up to φ/(1−φ) = 19 weeks).
DEFAULT_TREND_MIN_WEEKS = 26
DEFAULT_TREND_PHI = 0.95
DEFAULT_SARIMAX_ORDER = (1, 0, 0)  # (1,0,1) took 2-3x longer here for no clear gain
# Fewest weeks a statsmodels candidate is fitted on (fewer -> ModelFitError): with
# less, the optimiser "succeeds" on 1-2 points and returns meaningless trends.
DEFAULT_MIN_OBS = {"ses": 4, "ets_damped": 10, "sarimax_calendar": 16}

SEASONAL_NAIVE = "seasonal_naive"
MOVING_AVERAGE = "moving_average"
SES = "ses"
SES_FIXED = "ses_fixed"
SEASONAL_NAIVE_ADJUSTED = "seasonal_naive_adjusted"
COMBINATION = "combination"
ETS_DAMPED = "ets_damped"
SARIMAX_CALENDAR = "sarimax_calendar"
CROSTON = "croston"
SBA = "sba"
TSB = "tsb"
ZERO = "zero"


class ModelFitError(Exception):
    """A candidate could not be fitted to a series; callers fall back on another."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True, eq=False)
class Forecast:
    """``h`` point forecasts with an interval at ``level`` (all ≥ 0, lower ≤ point ≤ upper).

    model: the candidate name; params: what was used, for the audit trail.
    """

    point: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    model: str
    level: float = DEFAULT_LEVEL
    params: dict[str, object] = field(default_factory=dict)


# --------------------------------------------------------------------------- intervals


def residual_interval(
    point: np.ndarray, residuals: ArrayLike, level: float = DEFAULT_LEVEL
) -> tuple[np.ndarray, np.ndarray]:
    """``point`` + the ``(1−level)/2`` and ``(1+level)/2`` empirical residual quantiles.

    ``residuals`` are in-sample one-step errors ``y_t − ŷ_t`` (NaN ignored). With no
    residual the interval collapses to the point. Bounds are widened to contain the
    point and clipped at 0.
    """
    r = np.asarray(residuals, dtype=float)
    r = r[np.isfinite(r)]
    if r.size == 0:
        return _ordered(point, point.copy(), point.copy())[1:]
    tail = (1.0 - level) / 2.0
    lo, hi = linear_quantiles(r, np.array([tail, 1.0 - tail]))
    return _ordered(point, point + lo, point + hi)[1:]


def linear_quantiles(values: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``np.quantile(values, q)`` (method "linear", finite values, ``0 ≤ q ≤ 1``),
    the same floats, for the small arrays of :func:`residual_interval`: ~14 µs a call
    instead of numpy's ~34 µs (100 values), and a grid origin makes ~90,000 calls. numpy's steps
    are kept as they are: virtual index ``(n − 1)·q``, neighbours clamped at the
    last value, and its two-sided interpolation (``b − (b − a)·(1 − γ)`` from
    γ = 0.5 on; tests/forecasting/test_models.py compares the two)."""
    ordered = np.sort(values)
    n = ordered.size
    virtual = (n - 1) * q
    previous = np.floor(virtual)
    above = virtual >= n - 1
    previous = np.where(above, -1.0, previous)
    gamma = virtual - previous
    low = ordered[np.where(above, n - 1, previous).astype(np.intp)]
    high = ordered[np.where(above, n - 1, previous + 1).astype(np.intp)]
    diff = high - low
    return np.where(gamma >= 0.5, high - diff * (1 - gamma), low + diff * gamma)


def _ordered(point: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    point = np.clip(point, 0.0, None)
    lower = np.clip(np.minimum(lower, point), 0.0, None)
    upper = np.maximum(upper, point)
    return point, lower, upper


# --------------------------------------------------------------------------- candidates
# Each returns (point, lower, upper, params); y validated, h >= 1.


def _seasonal_naive(
    y: np.ndarray, h: int, level: float, season: int, seasons_required: int = DEFAULT_SEASONS_REQUIRED, **_: object
):
    if y.size >= seasons_required * season:
        last = y[-season:]
        point = np.array([last[k % season] for k in range(h)])
        residuals = y[season:] - y[:-season]
        params: dict[str, object] = {"season": season}
    else:
        point = np.full(h, y[-1])
        residuals = np.diff(y)
        params = {"season": 1}
    return (*residual_interval_full(point, residuals, level), params)


def _moving_average(y: np.ndarray, h: int, level: float, window: int = DEFAULT_MA_WINDOW, **_: object):
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ValueError(f"window must be a positive integer, got {window!r}")
    used = min(int(window), y.size)
    point = np.full(h, y[-used:].mean())
    fitted = moving_average_fitted(y, used)
    return (*residual_interval_full(point, y - fitted, level), {"window": used})


def moving_average_fitted(y: np.ndarray, window: int) -> np.ndarray:
    """One-step in-sample moving averages: ``fitted[t] = mean(y[t−window:t])``, NaN before."""
    fitted = np.full(y.size, np.nan)
    if y.size > window:
        sums = np.convolve(y, np.ones(window), mode="valid")[:-1]
        fitted[window:] = sums / window
    return fitted


def _ses(y: np.ndarray, h: int, level: float, **_: object):
    from statsmodels.tsa.holtwinters import SimpleExpSmoothing

    result = SimpleExpSmoothing(y, initialization_method="estimated").fit()
    point = np.asarray(result.forecast(h), dtype=float)
    params = {"alpha": float(result.params["smoothing_level"])}
    return (*residual_interval_full(point, y - result.fittedvalues, level), params)


def _ets_damped(
    y: np.ndarray, h: int, level: float, season: int, seasons_required: int = DEFAULT_ETS_SEASONS_REQUIRED, **_: object
):
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = y.size >= seasons_required * season
    model = ExponentialSmoothing(
        y,
        trend="add",
        damped_trend=True,
        seasonal="add" if seasonal else None,
        seasonal_periods=season if seasonal else None,
        initialization_method="estimated",
    )
    # use_brute=False: the brute-force grid only seeds the optimiser; without it the
    # fit took half the time (4 vs 9.5 ms) and reached the same SSE on demo series.
    result = model.fit(use_brute=False)
    point = np.asarray(result.forecast(h), dtype=float)
    params = {"season": season if seasonal else None, "phi": float(result.params["damping_trend"])}
    return (*residual_interval_full(point, y - result.fittedvalues, level), params)


def _sarimax_calendar(
    y: np.ndarray,
    h: int,
    level: float,
    exog_history: np.ndarray | None = None,
    exog_future: np.ndarray | None = None,
    order: tuple[int, int, int] = DEFAULT_SARIMAX_ORDER,
    start_params: Sequence[float] | None = None,
    fixed_params: Sequence[float] | None = None,
    trend_phi: float | None = DEFAULT_TREND_PHI,
    trend_min_weeks: int = DEFAULT_TREND_MIN_WEEKS,
    **_: object,
):
    # start_params: the ARMA parameters of an earlier fit of the same series, where
    # the optimiser starts (the next origin of a backtest). fixed_params: use them
    # as they are, no optimisation (the weekly refit between two selections).
    # trend_phi None: no trend regressor (the model as it was before the trend).
    if exog_history is None or exog_future is None:
        raise ValueError("needs exog_history and exog_future (calendar_regressors)")
    xh = np.asarray(exog_history, dtype=float).reshape(y.size, -1)
    xf = np.asarray(exog_future, dtype=float).reshape(h, -1)
    phi = None if trend_phi is None or y.size < trend_min_weeks else float(trend_phi)
    if phi is not None:
        if not 0 <= phi <= 1:
            raise ValueError(f"trend_phi must be in [0, 1], got {trend_phi!r}")
        history_t, future_t = damped_trend_regressor(y.size, h, phi)
        xh, xf = np.column_stack([xh, history_t]), np.column_stack([xf, future_t])
    keep = identifiable_columns(xh)
    # The constant is a regressor like the calendar columns: all of them sit in the
    # state vector and are estimated by GLS in the Kalman filter, and the scale is
    # concentrated out, so the optimiser searches the ARMA coefficients only (one for
    # AR(1)): ~10 ms per fit instead of ~36 ms with the constant as an MLE parameter.
    exog = np.column_stack([np.ones(y.size), xh[:, keep]])
    future = np.column_stack([np.ones(h), xf[:, keep]])
    if CLOSED_FORM_MLE and fixed_params is None and tuple(order) == (1, 0, 0):
        # The AR coefficient by maximising the same likelihood in closed form (~3 ms
        # instead of ~20 ms for statsmodels' L-BFGS fit); start_params are not needed
        # (a grid search, then Brent). Held, the forecast is the exact refit.
        ar = ar1_state_regression_mle(y, exog)
        if ar is not None:
            fixed_params = [round(ar, 10)]
    if EXACT_REFIT and fixed_params is not None and tuple(order) == (1, 0, 0) and len(fixed_params) == 1:
        # Refit with the AR coefficient held: the same numbers in closed form (~0.4 ms
        # instead of ~6 ms), statsmodels below when it does not apply.
        fast = ar1_state_regression_forecast(y, exog, future, float(fixed_params[0]), level)
        if fast is not None:
            point, lower, upper = _ordered(*fast)
            fitted = [round(float(v), 10) for v in fixed_params]
            params = {"order": tuple(order), "exog_columns": keep, "start_params": fitted}
            return point, lower, upper, {**params, "trend_phi": phi}
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    model = SARIMAX(y, exog=exog, order=order, trend="n", mle_regression=False, concentrate_scale=True)
    n_params = len(model.start_params)
    if fixed_params is not None and len(fixed_params) == n_params:
        # Refit between selections: ARMA coefficients held, constant and calendar
        # effects re-estimated by the filter on the longer history (~1 ms).
        result = model.filter(np.asarray(fixed_params, dtype=float))
    else:
        start = None
        if start_params is not None and len(start_params) == n_params:
            start = np.asarray(start_params, dtype=float)
        result = model.fit(disp=False, start_params=start)
    forecast = result.get_forecast(h, exog=future)
    point = np.asarray(forecast.predicted_mean, dtype=float)
    bounds = np.asarray(forecast.conf_int(alpha=1.0 - level), dtype=float)
    point, lower, upper = _ordered(point, bounds[:, 0], bounds[:, 1])
    fitted = [round(float(v), 10) for v in np.asarray(result.params, dtype=float)]
    params = {"order": tuple(order), "exog_columns": keep, "start_params": fitted}
    return point, lower, upper, {**params, "trend_phi": phi}


# The refit of ``sarimax_calendar`` with its AR(1) coefficient held (``fixed_params``)
# uses :func:`ar1_state_regression_forecast` instead of statsmodels' filter. False:
# statsmodels for every fit (the tests compare the two).
EXACT_REFIT = True
# statsmodels' SARIMAX prior variance of regression coefficients kept in the state
# (``mle_regression=False``: ``initial_variance`` defaults to 1e10, approximate diffuse).
STATE_REGRESSION_INITIAL_VARIANCE = 1e10


def ar1_state_regression_forecast(
    y: np.ndarray, exog: np.ndarray, future: np.ndarray, ar: float, level: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Point forecasts and Gaussian ``level`` interval of statsmodels'
    ``SARIMAX(y, exog, order=(1, 0, 0), trend="n", mle_regression=False,
    concentrate_scale=True).filter([ar]).get_forecast(h, exog=future)``, in closed form.

    That model is ``y_t = x_t'β + u_t``, ``u_t = φ·u_{t−1} + ε_t``, ``ε_t ~ N(0, σ²)``,
    with the state ``(u_t, β)`` initialised as statsmodels does (``initialize_default``):
    ``u_1 ~ N(0, σ²/(1−φ²))`` (stationary), ``β ~ N(0, σ²·κ·I)`` with ``κ = 1e10``
    (approximate diffuse, :data:`STATE_REGRESSION_INITIAL_VARIANCE`), a log-likelihood
    burn of ``d = k`` observations (the ``k`` exog columns) and the scale concentrated
    out: ``σ̂² = Σ_{t≥d} v_t²/F_t ÷ (n − d)`` (innovations ``v_t``, variances ``F_t``
    of the filter with ``σ² = 1``). With ``W`` the Prais–Winsten whitening of the AR(1)
    errors (first row × ``√(1−φ²)``, then ``z_t − φ·z_{t−1}``), Gaussian algebra gives,
    for the first ``m`` observations,
    ``Σ_{t<m} v_t²/F_t = y'(Ω + κXX')⁻¹y = min_β ‖W(y − Xβ)‖² + ‖β‖²/κ =: Q_m``, so

    - ``β̂`` = that penalised GLS over all ``n`` weeks, ``V = (X̃'X̃ + I/κ)⁻¹``;
    - ``σ̂² = (Q_n − Q_d) / (n − d)``;
    - ``u_n = y_n − x_n'β̂`` exactly (no measurement error), and the ``j``-step forecast
      is ``x_{n+j}'β̂ + φ^j·u_n`` with variance
      ``σ̂²·(c_j'Vc_j + Σ_{i<j} φ^{2i})``, ``c_j = x_{n+j} − φ^j·x_n``;
    - bounds ``point ∓ z·se``, ``z`` the normal quantile of ``(1 + level)/2`` (as statsmodels).

    Accuracy: equal to a 60-digit Kalman filter of the same model to ~1e-15 of the
    forecast's level; statsmodels' own float64 filter is ~1e-8 to ~2e-6 of the level
    away from both (the ``1e10`` prior variance costs its first updates ~10 digits),
    so that is the difference from statsmodels (tests/forecasting/test_fast_refit.py).
    Returns None where it does not apply (``|φ| ≥ 1``, ``n ≤ k``, a non-finite result):
    the caller then uses statsmodels. Unclipped.
    """
    n, k = exog.shape
    h = future.shape[0]
    if not (abs(ar) < 1 and n > k and future.shape[1] == k):
        return None
    root = np.sqrt(1.0 - ar * ar)
    yw = np.empty(n + k)
    yw[0] = root * y[0]
    yw[1:n] = y[1:] - ar * y[:-1]
    yw[n:] = 0.0
    xw = np.empty((n + k, k))
    xw[0] = root * exog[0]
    xw[1:n] = exog[1:] - ar * exog[:-1]
    # the prior as k pseudo-observations 0 = β_j/√κ
    ridge = np.eye(k) / np.sqrt(STATE_REGRESSION_INITIAL_VARIANCE)
    xw[n:] = ridge
    beta, r_factor, q_n = _penalised_gls(xw, yw)
    _, _, q_d = _penalised_gls(np.vstack([xw[:k], ridge]), np.concatenate([yw[:k], np.zeros(k)]))
    scale = (q_n - q_d) / (n - k)
    powers = ar ** np.arange(1, h + 1, dtype=float)
    c = future - powers[:, None] * exog[-1]
    point = c @ beta + powers * y[-1]
    spread = np.linalg.solve(r_factor.T, c.T)  # c'Vc = ‖R^{-T}c‖², V = (R'R)^{-1}
    ar_variance = np.cumsum(np.concatenate([[1.0], ar ** (2.0 * np.arange(1, h))]))
    se = np.sqrt((np.einsum("ij,ij->j", spread, spread) + ar_variance) * scale)
    z = _normal_quantile(1.0 - (1.0 - level) / 2.0)
    lower, upper = point - z * se, point + z * se
    if not (np.isfinite(scale) and scale >= 0 and np.isfinite(point).all() and np.isfinite(se).all()):
        return None
    return point, lower, upper


# The AR coefficient of ``sarimax_calendar`` (order (1, 0, 0)) is estimated by
# :func:`ar1_state_regression_mle` instead of statsmodels' fit. False: statsmodels'
# L-BFGS (the tests compare the two).
CLOSED_FORM_MLE = True
# Where the MLE search looks first: the likelihood on this grid, then Brent's method
# between the best point's neighbours (to the stationarity bound at the ends).
AR_GRID = np.linspace(-0.98, 0.98, 50)
AR_BOUND = 1.0 - 1e-6
AR_TOLERANCE = 1e-8


def ar1_concentrated_loglike(y: np.ndarray, exog: np.ndarray, ars: ArrayLike) -> np.ndarray:
    """statsmodels' log-likelihood (``llf``) of the model of
    :func:`ar1_state_regression_forecast` with the scale concentrated out, at each AR
    coefficient of ``ars`` (``|φ| < 1``), in closed form.

    With the notation there (whitening ``W``, prior variance ``κ``, burn ``d = k``,
    ``m = n − d``): the innovations' variances satisfy ``Σ_{t<j} log F_t =
    log det(Ω_j + κX_jX_j') = −log(1−φ²) + k·log κ + log det(X̃_j'X̃_j + I/κ)``
    (the matrix determinant lemma; ``det Ω_j = 1/(1−φ²)`` for the stationary AR(1)),
    so ``Σ_{t≥d} log F_t = log det A_n − log det A_d`` with ``A_j = X̃_j'X̃_j + I/κ``,
    and ``llf = −½·(m·log 2π + Σ_{t≥d} log F_t + m·log σ̂² + m)``. One QR of
    ``[X̃ | ỹ]`` (prior rows below) per coefficient gives both: ``|R_kk|`` is the
    residual norm ``√Q`` and ``log det A = Σ log R_ii²`` over the first ``k``.
    Equal to statsmodels' ``loglike`` up to its own rounding (~1e-8 relative,
    tests/forecasting/test_fast_refit.py). NaN where the fit is perfect (σ̂² = 0).
    """
    n, k = exog.shape
    phis = np.atleast_1d(np.asarray(ars, dtype=float))
    z = np.column_stack([exog, y])
    whitened = np.zeros((phis.size, n + k, k + 1))
    whitened[:, 0] = np.sqrt(1.0 - phis * phis)[:, None] * z[0]
    whitened[:, 1:n] = z[1:] - phis[:, None, None] * z[:-1]
    whitened[:, n:, :k] = np.eye(k) / np.sqrt(STATE_REGRESSION_INITIAL_VARIANCE)
    r_all = np.linalg.qr(whitened, mode="r")
    r_burn = np.linalg.qr(np.concatenate([whitened[:, :k], whitened[:, n:]], axis=1), mode="r")
    m = n - k
    with np.errstate(divide="ignore", invalid="ignore"):
        diag_all = np.abs(np.diagonal(r_all, axis1=1, axis2=2))
        diag_burn = np.abs(np.diagonal(r_burn, axis1=1, axis2=2))
        log_det = 2.0 * (np.log(diag_all[:, :k]).sum(axis=1) - np.log(diag_burn[:, :k]).sum(axis=1))
        scale = (diag_all[:, k] ** 2 - diag_burn[:, k] ** 2) / m
        llf = -0.5 * (m * np.log(2.0 * np.pi) + log_det + m * np.log(scale) + m)
    return np.where(np.isfinite(llf) & (scale > 0), llf, np.nan)


def ar1_state_regression_mle(y: np.ndarray, exog: np.ndarray) -> float | None:
    """The AR coefficient that maximises :func:`ar1_concentrated_loglike`: what
    statsmodels' ``SARIMAX(y, exog, order=(1, 0, 0), trend="n", mle_regression=False,
    concentrate_scale=True).fit()`` estimates, searched globally on ``(−1, 1)``.

    The likelihood on :data:`AR_GRID` (50 coefficients, one batched QR), then Brent's
    method between the best grid point's neighbours to :data:`AR_TOLERANCE`. On 200
    simulated demo-like series statsmodels' L-BFGS stopped up to 0.028 away from the
    maximum (its likelihood there is lower, sometimes with a ConvergenceWarning); this
    finds a likelihood at least as high. None where it does not apply (``n ≤ k + 1``,
    no finite likelihood): the caller then uses statsmodels.
    """
    n, k = exog.shape
    if n <= k + 1:
        return None
    grid = ar1_concentrated_loglike(y, exog, AR_GRID)
    if not np.isfinite(grid).any():
        return None
    best = int(np.nanargmax(grid))
    low = AR_GRID[best - 1] if best > 0 else -AR_BOUND
    high = AR_GRID[best + 1] if best < AR_GRID.size - 1 else AR_BOUND
    from scipy.optimize import minimize_scalar

    def negative(ar: float) -> float:
        value = ar1_concentrated_loglike(y, exog, ar)[0]
        return -value if np.isfinite(value) else np.inf

    found = minimize_scalar(negative, bounds=(low, high), method="bounded", options={"xatol": AR_TOLERANCE})
    if np.isfinite(found.fun) and -found.fun >= grid[best]:
        return float(found.x)
    return float(AR_GRID[best])


def _penalised_gls(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """``β = argmin ‖b − aβ‖²`` (the prior rows already in ``a``, ``b``) by QR: β, R and
    the minimum (residuals computed directly, not as ``b'b − ‖Q'b‖²``)."""
    q_factor, r_factor = np.linalg.qr(a)
    beta = np.linalg.solve(r_factor, q_factor.T @ b)
    residual = b - a @ beta
    return beta, r_factor, float(residual @ residual)


def _normal_quantile(p: float) -> float:
    # scipy.stats.norm.ppf is scipy.special.ndtri (without importing scipy.stats: ~1 s)
    from scipy.special import ndtri

    return float(ndtri(p))


def damped_trend_regressor(n: int, h: int, phi: float) -> tuple[np.ndarray, np.ndarray]:
    """SARIMAX's trend column: years relative to the last history week over the
    history (``(t − (n−1)) / 52``: −(n−1)/52 … 0), and over the ``h`` future weeks the
    damped path ``Σ_{j≤k} φ^j / 52`` (φ = 1: the straight line; φ = 0: flat, the
    trend line's value at the last week). Centred on the last week, the constant is
    the level there, not the history's mean."""
    history = (np.arange(n, dtype=float) - (n - 1)) / 52.0
    future = np.cumsum(phi ** np.arange(1, h + 1, dtype=float)) / 52.0
    return history, future


def identifiable_columns(x: np.ndarray) -> list[int]:
    """Indices of columns kept greedily, left to right, while the matrix ``[1, X]``
    stays full rank: drops constant columns (e.g. no Spring Festival in the history)
    and collinear ones, which would make the regression unidentified.

    Memoised on the matrix's bytes: the series of one origin mostly share their
    calendar columns (same first week, same length) and the rank tests cost ~0.3 ms."""
    x = np.ascontiguousarray(x, dtype=float)
    return list(_identifiable_columns(x.shape, x.tobytes()))


@functools.lru_cache(maxsize=256)
def _identifiable_columns(shape: tuple[int, ...], data: bytes) -> tuple[int, ...]:
    x = np.frombuffer(data, dtype=float).reshape(shape)
    kept: list[int] = []
    base = np.ones((x.shape[0], 1))
    for j in range(x.shape[1]):
        trial = np.column_stack([base, x[:, kept + [j]]])
        if np.linalg.matrix_rank(trial) == trial.shape[1]:
            kept.append(j)
    return tuple(kept)


def _ses_fixed(y: np.ndarray, h: int, level: float, alpha: float = DEFAULT_SES_ALPHA, **_: object):
    """SES with a fixed smoothing weight (no optimisation): ``l_t = α·y_t + (1−α)·l_{t−1}``,
    initial level the mean of the first ``min(4, n)`` weeks. With α ≈ 0.1 it is a
    long memory level that ignores week-to-week noise."""
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
    level_t = float(y[: min(4, y.size)].mean())
    fitted = np.empty(y.size)
    for t, value in enumerate(y):
        fitted[t] = level_t
        level_t += alpha * (value - level_t)
    point = np.full(h, level_t)
    return (*residual_interval_full(point, y - fitted, level), {"alpha": float(alpha)})


def yoy_ratio(
    y: np.ndarray,
    season: int,
    window: int = DEFAULT_YOY_WINDOW,
    min_window: int = DEFAULT_YOY_MIN_WINDOW,
    clip: tuple[float, float] = DEFAULT_YOY_CLIP,
) -> float | None:
    """Σ of the last ``m`` weeks ÷ Σ of the same ``m`` weeks one season earlier,
    ``m = min(window, n − season)``, clipped to ``clip``; None when ``m < min_window``
    (not enough overlap to measure it). No demand then: 1 when none now either, else
    the upper clip."""
    m = min(int(window), y.size - season)
    if m < min_window:
        return None
    now, then = float(y[-m:].sum()), float(y[-season - m : -season].sum())
    if then <= 0:
        return 1.0 if now <= 0 else float(clip[1])
    return float(np.clip(now / then, clip[0], clip[1]))


def _seasonal_naive_adjusted(
    y: np.ndarray,
    h: int,
    level: float,
    season: int,
    window: int = DEFAULT_YOY_WINDOW,
    min_window: int = DEFAULT_YOY_MIN_WINDOW,
    clip: tuple[float, float] = DEFAULT_YOY_CLIP,
    **_: object,
):
    """Seasonal naive scaled by the year-on-year ratio (:func:`yoy_ratio`): last
    season's same week × (recent level ÷ the same weeks' level a season earlier), so a
    trend or a decaying cohort does not carry last year's level forward. In-sample
    one-step fitted values use the ratio of the weeks before each week (residuals for
    the interval). Needs ``season + min_window`` weeks (else :class:`ModelFitError`)."""
    ratio = yoy_ratio(y, season, window, min_window, clip)
    if ratio is None:
        raise ModelFitError(SEASONAL_NAIVE_ADJUSTED, f"needs at least {season + min_window} weeks, got {y.size}")
    last = y[-season:]
    point = np.array([last[k % season] for k in range(h)]) * ratio
    sums = np.concatenate([[0.0], np.cumsum(y)])
    t = np.arange(season + min_window, y.size)
    m = np.minimum(int(window), t - season)
    now, then = sums[t] - sums[t - m], sums[t - season] - sums[t - season - m]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(then > 0, np.clip(now / then, clip[0], clip[1]), np.where(now > 0, clip[1], 1.0))
    residuals = y[t] - y[t - season] * ratios
    return (*residual_interval_full(point, residuals, level), {"season": season, "ratio": ratio})


def _combination(
    y: np.ndarray,
    h: int,
    level: float,
    season: int,
    exog_history: np.ndarray | None = None,
    exog_future: np.ndarray | None = None,
    alpha: float = DEFAULT_SES_ALPHA,
    start_params: Sequence[float] | None = None,
    fixed_params: Sequence[float] | None = None,
    **_: object,
):
    """Equal-weight mean of SES (fixed α), the level-adjusted seasonal naive and
    SARIMAX with calendar and damped trend.

    Why a combination: on the demo's weekly segment × SKU series its components make
    different errors (level noise, last year's calendar, this year's holiday dates)
    and their mean beat every single candidate and per-series selection
    (docs/forecast_benchmark.md; forecast combinations: Clemen 1989, Makridakis et al.
    M4 2020). Why these three (before: SES α = 0.1, the plain seasonal naive and
    SARIMAX without trend, which carried last year's level and the history's mean
    into the forecast): see the module docstring.

    A component that cannot run is left out: the seasonal naive before
    ``season + DEFAULT_YOY_MIN_WINDOW`` weeks, SARIMAX below its minimum history,
    without calendar regressors or when its fit fails. The bounds are the means of
    the components' bounds (an approximation: it ignores how correlated their errors
    are).
    """
    wanted = combination_components(y.size, season, exog_history is not None and exog_future is not None)
    parts = [_ses_fixed(y, h, level, alpha=alpha)]
    used = [SES_FIXED]
    if SEASONAL_NAIVE_ADJUSTED in wanted:
        parts.append(_seasonal_naive_adjusted(y, h, level, season=season))
        used.append(SEASONAL_NAIVE_ADJUSTED)
    extra: dict[str, object] = {}
    if SARIMAX_CALENDAR in wanted:
        try:
            part = _sarimax_calendar(
                y, h, level, exog_history, exog_future, start_params=start_params, fixed_params=fixed_params
            )
            if all(np.isfinite(np.asarray(a, dtype=float)).all() for a in part[:3]):
                parts.append(part)
                used.append(SARIMAX_CALENDAR)
                extra["start_params"] = part[3]["start_params"]
        except Exception:  # noqa: BLE001 - a failing component is left out, see docstring
            pass
    point, lower, upper = (np.mean([np.asarray(p[i], dtype=float) for p in parts], axis=0) for i in range(3))
    return point, lower, upper, {"components": used, "alpha": float(alpha), **extra}


def combination_components(n_obs: int, season: int, has_calendar: bool) -> list[str]:
    """The components :func:`_combination` tries for a history of ``n_obs`` weeks."""
    names = [SES_FIXED]
    if n_obs >= season + DEFAULT_YOY_MIN_WINDOW:
        names.append(SEASONAL_NAIVE_ADJUSTED)
    if has_calendar and n_obs >= DEFAULT_MIN_OBS[SARIMAX_CALENDAR]:
        names.append(SARIMAX_CALENDAR)
    return names


def _intermittent(method: Callable[..., intermittent.IntermittentForecast]):
    def fit(y: np.ndarray, h: int, level: float, **params: object):
        own = {k: v for k, v in params.items() if k in ("alpha", "alpha_size", "alpha_probability")}
        result = method(y, h=h, **own)
        point = np.asarray(result.point, dtype=float)
        return (*residual_interval_full(point, y - result.fitted, level), dict(result.params))

    return fit


def _zero(y: np.ndarray, h: int, level: float, **_: object):
    z = np.zeros(h)
    return z, z.copy(), z.copy(), {}


def residual_interval_full(point: np.ndarray, residuals: ArrayLike, level: float):
    """(point, lower, upper) with :func:`residual_interval` and the point clipped at 0."""
    lower, upper = residual_interval(point, residuals, level)
    return np.clip(point, 0.0, None), lower, upper


CANDIDATES: dict[str, Callable[..., tuple]] = {
    SEASONAL_NAIVE: _seasonal_naive,
    MOVING_AVERAGE: _moving_average,
    SES: _ses,
    SES_FIXED: _ses_fixed,
    SEASONAL_NAIVE_ADJUSTED: _seasonal_naive_adjusted,
    ETS_DAMPED: _ets_damped,
    SARIMAX_CALENDAR: _sarimax_calendar,
    COMBINATION: _combination,
    CROSTON: _intermittent(intermittent.croston),
    SBA: _intermittent(intermittent.sba),
    TSB: _intermittent(intermittent.tsb),
    ZERO: _zero,
}


# --------------------------------------------------------------------------- entry point


def fit_forecast(
    name: str,
    y: ArrayLike,
    h: int,
    exog_history: ArrayLike | None = None,
    exog_future: ArrayLike | None = None,
    season: int = DEFAULT_SEASON,
    level: float = DEFAULT_LEVEL,
    **params: object,
) -> Forecast:
    """Fit candidate ``name`` to the weekly history ``y`` and forecast ``h`` weeks.

    ``exog_history`` (``len(y)`` rows) and ``exog_future`` (``h`` rows) are used by
    ``sarimax_calendar`` only. Extra ``params`` go to the candidate (``window`` for
    the moving average, ``alpha`` for Croston/SBA, ``order`` for SARIMAX,
    ``min_obs`` to override :data:`DEFAULT_MIN_OBS`, …).

    Raises ``ValueError`` for an unknown name or invalid input and
    :class:`ModelFitError` when the fit fails or gives a non-finite forecast.
    """
    if name not in CANDIDATES:
        raise ValueError(f"unknown candidate {name!r}; known: {sorted(CANDIDATES)}")
    values = validate_demand(y)
    _check_positive_int(h, "h")
    _check_positive_int(season, "season")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    min_obs = int(params.pop("min_obs", DEFAULT_MIN_OBS.get(name, 1)))  # type: ignore[call-overload]
    if values.size < min_obs:
        raise ModelFitError(name, f"needs at least {min_obs} weeks, got {values.size}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                point, lower, upper, used = CANDIDATES[name](
                    values, h, level, season=season, exog_history=exog_history, exog_future=exog_future, **params
                )
    except ModelFitError:
        raise
    except Exception as exc:  # noqa: BLE001 - every fit failure becomes a ModelFitError
        raise ModelFitError(name, f"{type(exc).__name__}: {exc}") from exc
    arrays = [np.asarray(a, dtype=float) for a in (point, lower, upper)]
    if any(a.shape != (h,) or not np.isfinite(a).all() for a in arrays):
        raise ModelFitError(name, "non-finite or misshapen forecast")
    point, lower, upper = _ordered(*arrays)
    for a in (point, lower, upper):
        a.setflags(write=False)
    return Forecast(point=point, lower=lower, upper=upper, model=name, level=level, params=used)


def _check_positive_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
