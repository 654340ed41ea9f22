"""Forecasts for intermittent demand: Croston, SBA, TSB and ADIDA.

statsmodels has no Croston family, so the methods are implemented here. Input is a
1-D array of non-negative per-period demand with the zero periods included (a week
without an order is a 0, never a gap). Output is an :class:`IntermittentForecast`:
a flat point forecast for ``h`` periods (these methods forecast a constant demand
rate) and the one-step-ahead in-sample forecasts.

Initialisation (Croston, SBA, TSB), stated once:

- the estimates start at the **first non-zero demand**, at index ``i0``: size
  ``z = y[i0]`` and interval ``p = i0 + 1`` (the first interval is counted from the
  period before the window, so a demand in the first period has interval 1); TSB's
  probability starts at ``1 / p``;
- ``fitted[t]`` is the forecast for period ``t`` made with ``y[0..t-1]``. It is NaN
  for ``t <= i0``: no estimate exists before the first demand has been seen (a zero
  there would be a convention, not a forecast), and the first demand is itself used
  to initialise;
- a series without any demand forecasts 0 (convention: nothing was ever ordered)
  and its fitted values are all NaN.

Smoothing constants default to 0.1, inside the 0.05–0.2 range usual in the
intermittent-demand literature (e.g. the values studied by Syntetos & Boylan 2005),
a technical default (not a business rule, so not in restock.yaml). :func:`select_alpha`
picks one from a grid instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from restock.segmentation.product_classes import adi_cv2, validate_demand

# Technical defaults (see the module docstring).
DEFAULT_ALPHA = 0.1
DEFAULT_ALPHA_GRID = (0.05, 0.1, 0.15, 0.2, 0.3)


@dataclass(frozen=True, eq=False)
class IntermittentForecast:
    """Result of an intermittent-demand method (arrays are read-only).

    point: forecast for the next ``h`` periods (flat for these methods).
    fitted: one-step-ahead in-sample forecasts, same length as the input; NaN where
        the method has no estimate yet (see the module docstring).
    method: ``"croston"``, ``"sba"``, ``"tsb"`` or ``"adida"``.
    params: the parameters used, e.g. ``{"alpha": 0.1}``, for the audit trail.
    """

    point: np.ndarray
    fitted: np.ndarray
    method: str
    params: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.point.setflags(write=False)
        self.fitted.setflags(write=False)


def croston(demand: ArrayLike, h: int = 1, alpha: float = DEFAULT_ALPHA) -> IntermittentForecast:
    """Croston's method (Croston 1972).

    Simple exponential smoothing, with the same ``alpha``, of the non-zero sizes
    ``z`` and of the intervals ``p`` between them, updated only in periods with
    demand: ``z ← z + α(y_t − z)``, ``p ← p + α(q_t − p)`` with ``q_t`` the periods
    since the previous demand. Forecast per period: ``z / p``. Known to be biased
    upwards by about α/2 — see :func:`sba`.
    """
    y = validate_demand(demand)
    _check_horizon(h)
    _check_alpha(alpha, "alpha")
    rate, fitted = _croston_recursion(y, alpha)
    return _result(rate, fitted, h, "croston", {"alpha": alpha})


def sba(demand: ArrayLike, h: int = 1, alpha: float = DEFAULT_ALPHA) -> IntermittentForecast:
    """Syntetos–Boylan Approximation (Syntetos & Boylan 2005).

    Croston's forecast times ``(1 − α/2)``, which removes most of its bias. Both the
    point forecast and the fitted values are exactly Croston's scaled by that factor.
    """
    y = validate_demand(demand)
    _check_horizon(h)
    _check_alpha(alpha, "alpha")
    rate, fitted = _croston_recursion(y, alpha)
    factor = 1.0 - alpha / 2.0
    return _result(rate * factor, fitted * factor, h, "sba", {"alpha": alpha})


def tsb(
    demand: ArrayLike,
    h: int = 1,
    alpha_size: float = DEFAULT_ALPHA,
    alpha_probability: float = DEFAULT_ALPHA,
) -> IntermittentForecast:
    """Teunter–Syntetos–Babai method (Teunter, Syntetos & Babai 2011).

    Smooths the demand *probability* every period and the size only in periods
    with demand:

    ``d ← d + α_p (1[y_t > 0] − d)`` every period;
    ``z ← z + α_z (y_t − z)`` only when ``y_t > 0``.

    Forecast per period: ``d · z``. After a run of zeros ``d`` (and so the forecast)
    decays geometrically by ``(1 − α_p)`` per period towards 0, which is what makes
    TSB suitable for items that are dying (obsolescence); Croston's forecast would
    stay put. Initialisation: ``z = y[i0]``, ``d = 1 / (i0 + 1)``.
    """
    y = validate_demand(demand)
    _check_horizon(h)
    _check_alpha(alpha_size, "alpha_size")
    _check_alpha(alpha_probability, "alpha_probability")
    params = {"alpha_size": alpha_size, "alpha_probability": alpha_probability}
    fitted = np.full(y.size, np.nan)
    demand_periods = np.flatnonzero(y > 0)
    if demand_periods.size == 0:
        return _result(0.0, fitted, h, "tsb", params)
    first = int(demand_periods[0])
    size, probability = y[first], 1.0 / (first + 1)
    for t in range(first + 1, y.size):
        fitted[t] = probability * size
        occurred = y[t] > 0
        probability += alpha_probability * (float(occurred) - probability)
        if occurred:
            size += alpha_size * (y[t] - size)
    return _result(probability * size, fitted, h, "tsb", params)


def adida(
    demand: ArrayLike,
    h: int = 1,
    alpha: float = DEFAULT_ALPHA,
    bucket_size: int | None = None,
) -> IntermittentForecast:
    """Aggregate–Disaggregate Intermittent Demand Approach (Nikolopoulos et al. 2011).

    1. Sum the series into non-overlapping buckets of ``bucket_size`` periods. When
       the length is not a multiple of the bucket size, the *oldest* ``n mod k``
       periods are dropped, so the last bucket ends with the last observation.
    2. Simple exponential smoothing of the bucket totals, level initialised to the
       first bucket total: ``L ← L + α(Y_j − L)``.
    3. Split the bucket forecast evenly back: forecast per period = ``L / k``.

    ``bucket_size`` None → the mean inter-demand interval (ADI, as defined in
    :mod:`restock.segmentation.product_classes`) rounded to the nearest integer,
    halves up, at least 1 — the aggregation level suggested by Nikolopoulos et al.
    A series with a single demand gets one bucket spanning the series.

    ``fitted[t]`` for every period of bucket ``j ≥ 1`` is the bucket-level
    one-step-ahead forecast made at the end of bucket ``j − 1``, divided by ``k``;
    NaN in the first bucket and in dropped periods.
    """
    y = validate_demand(demand)
    _check_horizon(h)
    _check_alpha(alpha, "alpha")
    k = _default_bucket_size(y) if bucket_size is None else bucket_size
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"bucket_size must be a positive integer, got {bucket_size!r}")
    k = int(k)
    if k > y.size:
        raise ValueError(f"bucket_size {k} exceeds the series length {y.size}")
    params = {"alpha": alpha, "bucket_size": k}
    dropped = y.size % k
    totals = y[dropped:].reshape(-1, k).sum(axis=1)
    level = totals[0]
    bucket_forecasts = np.full(totals.size, np.nan)
    for j in range(1, totals.size):
        bucket_forecasts[j] = level
        level += alpha * (totals[j] - level)
    fitted = np.concatenate((np.full(dropped, np.nan), np.repeat(bucket_forecasts / k, k)))
    return _result(level / k, fitted, h, "adida", params)


def select_alpha(
    demand: ArrayLike,
    forecaster: Callable[..., IntermittentForecast] = croston,
    parameter: str = "alpha",
    grid: Sequence[float] = DEFAULT_ALPHA_GRID,
    loss: Literal["mse", "mae"] = "mse",
    fallback: float = DEFAULT_ALPHA,
) -> float:
    """Smoothing constant from ``grid`` minimising the in-sample one-step-ahead loss.

    Calls ``forecaster(demand, **{parameter: value})`` for each grid value and scores
    the periods where every candidate has a fitted value (the same periods for all
    candidates). Ties go to the earliest grid value. Returns ``fallback`` when no
    period can be scored (e.g. fewer than two demands). E.g. TSB's probability
    constant: ``select_alpha(y, tsb, parameter="alpha_probability")``. Grid default
    (0.05, 0.1, 0.15, 0.2, 0.3). In-sample MSE is a
    weak criterion for intermittent series; prefer a holdout when history allows.
    """
    y = validate_demand(demand)
    if len(grid) == 0:
        raise ValueError("grid is empty")
    if loss not in ("mse", "mae"):
        raise ValueError(f"loss must be 'mse' or 'mae', got {loss!r}")
    fits = [forecaster(y, **{parameter: value}).fitted for value in grid]
    scored = np.all([np.isfinite(fit) for fit in fits], axis=0)
    if not scored.any():
        return float(fallback)
    errors = [fit[scored] - y[scored] for fit in fits]
    scores = [np.mean(e**2) if loss == "mse" else np.mean(np.abs(e)) for e in errors]
    return float(grid[int(np.argmin(scores))])


def _croston_recursion(y: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """Croston's demand rate after the last period and the one-step fitted values."""
    fitted = np.full(y.size, np.nan)
    demand_periods = np.flatnonzero(y > 0)
    if demand_periods.size == 0:
        return 0.0, fitted
    first = int(demand_periods[0])
    size, interval, last = y[first], float(first + 1), first
    for t in range(first + 1, y.size):
        fitted[t] = size / interval
        if y[t] > 0:
            size += alpha * (y[t] - size)
            interval += alpha * ((t - last) - interval)
            last = t
    return size / interval, fitted


def _default_bucket_size(y: np.ndarray) -> int:
    adi, _ = adi_cv2(y)
    if np.isnan(adi):  # no demand: any bucket gives a zero forecast
        return 1
    return max(1, int(np.floor(adi + 0.5)))


def _result(rate: float, fitted: np.ndarray, h: int, method: str, params: dict[str, float]) -> IntermittentForecast:
    return IntermittentForecast(point=np.full(h, float(rate)), fitted=fitted, method=method, params=params)


def _check_horizon(h: int) -> None:
    if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
        raise ValueError(f"horizon h must be a positive integer, got {h!r}")


def _check_alpha(value: float, name: str) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
