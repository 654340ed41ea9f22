"""Forecast accuracy and bias metrics that are defined on zero demand: the one
definition of each, used by model selection (:mod:`.selection`) and the accuracy
review (:mod:`.accuracy_review`).

Sign convention everywhere: **error = forecast − actual**, so a positive error,
bias or tracking signal means over-forecasting (too much stock), negative means
under-forecasting. MAPE is deliberately absent: it is undefined on zero actuals.

Inputs are 1-D arrays (lists, numpy arrays, pandas Series) of equal length with
finite values; NaN raises ``ValueError`` — drop or mask the unscored periods first
(e.g. the NaN warm-up of ``IntermittentForecast.fitted``). A metric whose
denominator is zero returns NaN rather than raising, so one silent series does not
stop an accuracy table.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def wape(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Weighted absolute percentage error ``Σ|y − ŷ| / Σ|y|`` (a fraction, not %).

    Equivalent to MAE ÷ mean actual, so it is scale-free and defined on zero
    periods as long as the total is not zero. NaN when ``Σ|y| = 0`` (nothing was
    demanded in the window: every forecast is "infinitely" wrong or exactly right,
    and neither is a useful number — report the absolute error instead).
    """
    y, y_hat = _paired(actual, forecast)
    return _ratio(np.abs(y_hat - y).sum(), np.abs(y).sum())


def mase(actual: ArrayLike, forecast: ArrayLike, insample: ArrayLike, season: int = 1) -> float:
    """Mean absolute scaled error (Hyndman & Koehler 2006).

    ``MASE = mean|y_t − ŷ_t| / Q`` where ``Q = 1/(n−m) Σ_{t=m+1..n} |x_t − x_{t−m}|``
    is the in-sample MAE of the (seasonal, period ``m = season``) naive forecast on
    the **training** series ``insample = x_1..x_n``. The scale comes from the
    training data only; scaling by differences of the out-of-sample actuals is a
    known bug. Below 1 = better than the in-sample naive forecast. NaN when
    ``Q = 0`` (a constant training series).
    """
    y, y_hat = _paired(actual, forecast)
    scale = _naive_in_sample(insample, season, "insample")
    return _ratio(np.abs(y_hat - y).mean(), np.abs(scale).mean())


def rmsse(actual: ArrayLike, forecast: ArrayLike, insample: ArrayLike, season: int = 1) -> float:
    """Root mean squared scaled error, as in the M5 competition (Makridakis et al. 2022).

    ``RMSSE = sqrt( mean (y_t − ŷ_t)² / Q )`` with ``Q`` the mean squared
    (seasonal) naive in-sample error ``(x_t − x_{t−m})²``, computed only over the
    training periods **from the first non-zero demand on** (M5: leading zeros are
    before the item was on sale). NaN when the training series has no non-zero
    value, too few periods after it (≤ ``season``), or ``Q = 0``.
    """
    y, y_hat = _paired(actual, forecast)
    history = _finite_1d(insample, "insample")
    _check_season(season)
    nonzero = np.flatnonzero(history != 0)
    if nonzero.size == 0 or history.size - nonzero[0] <= season:
        return float("nan")
    active = history[nonzero[0] :]
    scale = np.mean((active[season:] - active[:-season]) ** 2)
    return float(np.sqrt(_ratio(np.mean((y_hat - y) ** 2), scale)))


def relative_bias(actual: ArrayLike, forecast: ArrayLike) -> float:
    """Scale-free bias ``Σ(ŷ − y) / Σ|y|``; positive = over-forecast.

    The signed counterpart of :func:`wape` (same denominator; for non-negative
    demand ``Σ|y| = Σy``), so ``|relative_bias| ≤ wape``: 0.1 means 10 % more was
    forecast than ordered over the window. NaN when ``Σ|y| = 0``.
    """
    y, y_hat = _paired(actual, forecast)
    return _ratio((y_hat - y).sum(), np.abs(y).sum())


def tracking_signal(errors: ArrayLike) -> float:
    """Cumulative error ÷ mean absolute deviation: ``Σe_t / (mean|e_t|)``.

    The classic bias alarm for a running forecast (R. G. Brown's MAD-based control;
    Trigg 1964 smooths it instead). ``errors`` are ``forecast − actual``, so a
    positive signal means persistent over-forecasting.
    Here MAD is the mean absolute error (around zero, not around the mean error).
    All errors zero → 0.0 (no bias). Note ``|TS| ≤ len(errors)``: the ±4 limit can
    only fire after more than 4 periods.
    """
    e = _finite_1d(errors, "errors")
    mad = np.abs(e).mean()
    if mad == 0:
        return 0.0
    return float(e.sum() / mad)


def wape_from_sums(abs_error_sum: ArrayLike, abs_actual_sum: ArrayLike) -> np.ndarray:
    """:func:`wape` of many groups at once from its two sums, ``Σ|ŷ − y|`` and ``Σ|y|``
    per group (e.g. a groupby's): the same ratio, NaN where ``Σ|y| = 0``."""
    return _ratios(abs_error_sum, abs_actual_sum)


def relative_bias_from_sums(error_sum: ArrayLike, abs_actual_sum: ArrayLike) -> np.ndarray:
    """:func:`relative_bias` of many groups from ``Σ(ŷ − y)`` and ``Σ|y|`` per group;
    NaN where ``Σ|y| = 0``."""
    return _ratios(error_sum, abs_actual_sum)


def tracking_signal_from_sums(error_sum: ArrayLike, abs_error_sum: ArrayLike, n_periods: ArrayLike) -> np.ndarray:
    """:func:`tracking_signal` of many groups from ``Σe_t``, ``Σ|e_t|`` and the number
    of periods per group: ``Σe_t / (Σ|e_t| / n)``; 0.0 where every error is 0 (no
    bias). Refuses a group with no period or NaN sums."""
    e = np.asarray(error_sum, dtype=float)
    abs_e = np.asarray(abs_error_sum, dtype=float)
    n = np.asarray(n_periods, dtype=float)
    if not (e.shape == abs_e.shape == n.shape):
        raise ValueError(f"sums of different shapes: {e.shape}, {abs_e.shape}, {n.shape}")
    if not (np.isfinite(e).all() and np.isfinite(abs_e).all()) or (n < 1).any():
        raise ValueError("tracking_signal_from_sums needs finite sums and at least 1 period per group")
    mad = abs_e / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mad == 0, 0.0, e / np.where(mad == 0, 1.0, mad))


def interval_coverage(actual: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> float:
    """Share of periods with ``lower ≤ actual ≤ upper`` (bounds included): the
    empirical coverage of a forecast interval (0.8 expected of an 80 % interval).
    Raises on lengths that differ; ``lower > upper`` counts as not covered."""
    y = _finite_1d(actual, "actual")
    low = _finite_1d(lower, "lower")
    high = _finite_1d(upper, "upper")
    if not (y.shape == low.shape == high.shape):
        raise ValueError(f"actual, lower and upper lengths differ: {y.size}, {low.size}, {high.size}")
    return float(((low <= y) & (y <= high)).mean())


def is_out_of_control(signal: float | ArrayLike, limit: float) -> bool | np.ndarray:
    """True where ``|tracking signal| > limit`` (strictly; NaN is never flagged).

    Works on one signal or an array of them; ``limit`` is restock.yaml's
    ``accuracy.tracking_signal_limit`` (4 MADs, the usual bias alarm).
    """
    if not limit > 0:
        raise ValueError(f"limit must be positive, got {limit!r}")
    flags = np.abs(np.asarray(signal, dtype=float)) > limit
    return bool(flags) if flags.ndim == 0 else flags


def _paired(actual: ArrayLike, forecast: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y = _finite_1d(actual, "actual")
    y_hat = _finite_1d(forecast, "forecast")
    if y.shape != y_hat.shape:
        raise ValueError(f"actual and forecast lengths differ: {y.size} vs {y_hat.size}")
    return y, y_hat


def _finite_1d(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values; drop unscored periods first")
    return array


def _naive_in_sample(insample: ArrayLike, season: int, name: str) -> np.ndarray:
    """In-sample errors of the seasonal naive forecast ``x_t − x_{t−m}``."""
    history = _finite_1d(insample, name)
    _check_season(season)
    if history.size <= season:
        raise ValueError(f"{name} needs more than season={season} periods, got {history.size}")
    return history[season:] - history[:-season]


def _check_season(season: int) -> None:
    if isinstance(season, bool) or not isinstance(season, (int, np.integer)) or season < 1:
        raise ValueError(f"season must be a positive integer, got {season!r}")


def _ratio(numerator: float, denominator: float) -> float:
    return float(numerator / denominator) if denominator != 0 else float("nan")


def _ratios(numerator: ArrayLike, denominator: ArrayLike) -> np.ndarray:
    top = np.asarray(numerator, dtype=float)
    bottom = np.asarray(denominator, dtype=float)
    if top.shape != bottom.shape:
        raise ValueError(f"sums of different shapes: {top.shape} vs {bottom.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(bottom != 0, top / np.where(bottom != 0, bottom, 1.0), np.nan)
