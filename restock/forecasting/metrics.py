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
