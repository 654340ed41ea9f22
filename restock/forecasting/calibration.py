"""Interval calibration: the segment × SKU intervals are widened or narrowed per
horizon so that, over the recent past, they would have covered their nominal level.

Why. The models' intervals come from in-sample one-step residuals (the same width at
every step of the horizon, :func:`restock.forecasting.models.residual_interval`) or
from SARIMAX's Gaussian errors. In-sample errors understate out-of-sample ones (the
model was fitted to them) and the far end of the horizon is harder than the next
week, so the 80 % intervals covered 70-72 % of segment × SKU demand on a Spring
Festival window and on irregular buyers, and 80 % on the demo's quiet weeks
(benchmarks/RESULTS.md, "Forecast accuracy per level").

How (split-conformal scaling, pooled over series; cf. Angelopoulos & Bates 2021,
"A gentle introduction to conformal prediction", §2): at origin ``O``, for every
forecast stored by an earlier origin for a week complete on ``O`` within the last
``window_weeks`` weeks, at horizon ``h``:

- ``e`` = actual − forecast (actual: demand of the series' population on the
  forecast's origin, as the accuracy review counts it);
- ``u`` = ``|e|`` ÷ the half-width on the error's side of the model's own interval
  (``model_upper_qty − forecast`` for ``e ≥ 0``, ``forecast − model_lower_qty``
  otherwise: the interval before any scale, so the rule does not feed on itself and
  a lower bound clipped at 0 after scaling loses nothing); a zero half-width counts
  as covered when ``e = 0`` and as never covered otherwise. Rows stored before the
  calibration existed have no model bounds: their stored bounds are the model's.

The scale of horizon ``h`` is the ``level`` quantile of its ``u`` (a scale ``k``
makes the interval ``forecast ± k × half-width`` cover exactly ``level`` of these
errors), clipped to [:data:`MIN_SCALE`, :data:`MAX_SCALE`]; with fewer than
:data:`MIN_POINTS` errors at a horizon it is 1 (the model's interval as it is).
Pooled over series: one series has at most ``window_weeks`` errors per horizon,
too few for a 10 % tail. Point in time: only tables, forecasts of earlier origins,
weeks complete on ``O`` (a backfill split into runs gives the same scales).

The point forecast never changes; bounds stay ≥ 0 and around the point.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
from duckdb import DuckDBPyConnection

from restock.calendar import last_complete_week_start
from restock.forecasting.reselection import population_demand

MIN_POINTS = 100  # errors at a horizon before its scale is estimated (≥ 10 in the 10 % tail)
MIN_SCALE, MAX_SCALE = 0.5, 4.0  # a scale outside these says the data changed, not the noise


def normalised_errors(
    con: DuckDBPyConnection,
    origin: date,
    window_weeks: int,
    quantity: str = "requested_qty",
    actual_table: str | None = None,
) -> pd.DataFrame:
    """horizon, u (module docstring) of every segment × SKU forecast made before
    ``origin`` for the ``window_weeks`` weeks complete on it, in a stable order."""
    if window_weeks < 1:
        raise ValueError(f"window_weeks must be >= 1, got {window_weeks}")
    last = last_complete_week_start(origin)
    first = last - timedelta(weeks=window_weeks - 1)
    points = con.execute(
        f"""
        with fc as (
            select forecast_origin, segment_id, sku, period_start, horizon, forecast_qty,
                   forecast_qty - coalesce(model_lower_qty, lower_qty) as below,
                   coalesce(model_upper_qty, upper_qty) - forecast_qty as above
            from analytics.segment_forecasts
            where period_start between $first and $last and forecast_origin < $origin
        ),
        {population_demand("select distinct forecast_origin from fc", quantity, actual_table)}
        select fc.horizon, coalesce(a.qty, 0) - fc.forecast_qty as error, fc.below, fc.above
        from fc left join actual a
          on a.forecast_origin = fc.forecast_origin and a.segment_id = fc.segment_id
         and a.sku = fc.sku and a.week_start = fc.period_start
        order by fc.horizon, fc.segment_id, fc.sku, fc.period_start
        """,
        {"first": first, "last": last, "origin": origin},
    ).df()
    return pd.DataFrame({"horizon": points["horizon"].to_numpy(), "u": _u(points)})


def _u(points: pd.DataFrame) -> np.ndarray:
    error = points["error"].to_numpy(dtype=float)
    half = np.where(error >= 0, points["above"].to_numpy(dtype=float), points["below"].to_numpy(dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.abs(error) / half
    u[(half <= 0) & (error == 0)] = 0.0
    u[(half <= 0) & (error != 0)] = np.inf
    return u


def horizon_scales(errors: pd.DataFrame, level: float, min_points: int = MIN_POINTS) -> dict[int, float]:
    """Scale per horizon: the ``level`` quantile of ``u``, clipped; horizons with fewer
    than ``min_points`` errors are left out (scale 1)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    scales: dict[int, float] = {}
    for horizon, group in errors.groupby("horizon", sort=True):
        u = group["u"].to_numpy(dtype=float)
        if u.size < min_points:
            continue
        # the smallest k with at least `level` of the u at or below it (inverted CDF)
        k = float(np.quantile(u, level, method="inverted_cdf"))
        scales[int(horizon)] = float(np.clip(k, MIN_SCALE, MAX_SCALE))
    return scales


def apply_scales(rows: pd.DataFrame, scales: dict[int, float]) -> pd.DataFrame:
    """``rows`` (horizon, forecast_qty, lower_qty, upper_qty) with each horizon's
    interval scaled around the forecast; the bounds that came in are kept as
    ``model_lower_qty`` / ``model_upper_qty`` and the scale as ``interval_scale``
    (1 where none)."""
    out = rows.copy()
    out["model_lower_qty"] = out["lower_qty"].astype(float)
    out["model_upper_qty"] = out["upper_qty"].astype(float)
    k = out["horizon"].map(scales).fillna(1.0).to_numpy(dtype=float)
    point = out["forecast_qty"].to_numpy(dtype=float)
    out["lower_qty"] = np.clip(point - k * (point - out["lower_qty"].to_numpy(dtype=float)), 0.0, None)
    out["upper_qty"] = point + k * (out["upper_qty"].to_numpy(dtype=float) - point)
    out["interval_scale"] = k
    return out


def calibrate(
    con: DuckDBPyConnection,
    origin: date,
    rows: pd.DataFrame,
    window_weeks: int,
    level: float,
    quantity: str = "requested_qty",
    actual_table: str | None = None,
) -> tuple[pd.DataFrame, dict[int, float]]:
    """The origin's segment × SKU rows with calibrated intervals, and the scales used."""
    scales = horizon_scales(normalised_errors(con, origin, window_weeks, quantity, actual_table), level)
    return apply_scales(rows, scales), scales


__all__ = ["MAX_SCALE", "MIN_POINTS", "MIN_SCALE", "apply_scales", "calibrate", "horizon_scales", "normalised_errors"]
