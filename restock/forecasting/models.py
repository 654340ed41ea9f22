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
- ``ses_fixed``: SES with a fixed smoothing weight (``alpha``, default 0.1), no fit.
- ``ets_damped``: Holt's additive damped trend (Gardner & McKenzie 1985) via
  statsmodels ``ExponentialSmoothing``, with an additive season of ``season`` weeks
  only when at least three full seasons exist (Holt-Winters, FPP3 §8.3; see
  ``DEFAULT_ETS_SEASONS_REQUIRED`` for why not two).
- ``sarimax_calendar``: regression on the calendar regressors of
  :func:`restock.forecasting.calendar_regressors.calendar_regressors` (Spring Festival weeks, holiday weeks) with AR(1)
  errors and a constant: SARIMAX(1,0,0) by default (``order`` parameter). The
  constant and the regression coefficients are kept in the state vector
  (``mle_regression=False``, i.e. GLS given the ARMA parameters via the Kalman
  filter) and the scale is concentrated out, so MLE searches the AR coefficient
  only: with 8 weakly identified dummies as MLE parameters a fit took ~50
  iterations and 300–400 ms here and often did not converge; this way ~10 ms.
- ``combination``: the equal-weight mean of ``ses_fixed``, ``seasonal_naive`` and
  ``sarimax_calendar`` (:func:`_combination`).
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
SARIMAX calendar ~10 ms (5 ms warm-started); combination ~11 ms.
"""

from __future__ import annotations

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
DEFAULT_SES_ALPHA = 0.1  # fixed smoothing weight of the combination's SES component
DEFAULT_SARIMAX_ORDER = (1, 0, 0)  # (1,0,1) took 2-3x longer here for no clear gain
# Fewest weeks a statsmodels candidate is fitted on (fewer -> ModelFitError): with
# less, the optimiser "succeeds" on 1-2 points and returns meaningless trends.
DEFAULT_MIN_OBS = {"ses": 4, "ets_damped": 10, "sarimax_calendar": 16}

SEASONAL_NAIVE = "seasonal_naive"
MOVING_AVERAGE = "moving_average"
SES = "ses"
SES_FIXED = "ses_fixed"
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
    lo, hi = np.quantile(r, [tail, 1.0 - tail])
    return _ordered(point, point + lo, point + hi)[1:]


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
    **_: object,
):
    # start_params: the ARMA parameters of an earlier fit of the same series, where
    # the optimiser starts (the next origin of a backtest). fixed_params: use them
    # as they are, no optimisation (the weekly refit between two selections).
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    if exog_history is None or exog_future is None:
        raise ValueError("needs exog_history and exog_future (calendar_regressors)")
    xh = np.asarray(exog_history, dtype=float).reshape(y.size, -1)
    xf = np.asarray(exog_future, dtype=float).reshape(h, -1)
    keep = identifiable_columns(xh)
    # The constant is a regressor like the calendar columns: all of them sit in the
    # state vector and are estimated by GLS in the Kalman filter, and the scale is
    # concentrated out, so the optimiser searches the ARMA coefficients only (one for
    # AR(1)): ~10 ms per fit instead of ~36 ms with the constant as an MLE parameter.
    exog = np.column_stack([np.ones(y.size), xh[:, keep]])
    future = np.column_stack([np.ones(h), xf[:, keep]])
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
    return point, lower, upper, {"order": tuple(order), "exog_columns": keep, "start_params": fitted}


def identifiable_columns(x: np.ndarray) -> list[int]:
    """Indices of columns kept greedily, left to right, while the matrix ``[1, X]``
    stays full rank: drops constant columns (e.g. no Spring Festival in the history)
    and collinear ones, which would make the regression unidentified."""
    kept: list[int] = []
    base = np.ones((x.shape[0], 1))
    for j in range(x.shape[1]):
        trial = np.column_stack([base, x[:, kept + [j]]])
        if np.linalg.matrix_rank(trial) == trial.shape[1]:
            kept.append(j)
    return kept


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
    """Equal-weight mean of SES (fixed α), seasonal naive and SARIMAX with calendar.

    Why: on the demo's weekly segment × SKU series the three make different errors
    (level noise, last year's calendar, this year's holiday dates) and their mean beat
    every single candidate and per-series selection (docs/forecast_benchmark.md;
    forecast combinations: Clemen 1989, Makridakis et al. M4 2020). A component that
    cannot run is left out: seasonal naive before one full season, SARIMAX below its
    minimum history, without calendar regressors or when its fit fails. The bounds are
    the means of the components' bounds (an approximation: it ignores how correlated
    their errors are).
    """
    wanted = combination_components(y.size, season, exog_history is not None and exog_future is not None)
    parts = [_ses_fixed(y, h, level, alpha=alpha)]
    used = [SES_FIXED]
    if SEASONAL_NAIVE in wanted:
        parts.append(_seasonal_naive(y, h, level, season=season))
        used.append(SEASONAL_NAIVE)
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
    if n_obs >= season:
        names.append(SEASONAL_NAIVE)
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
