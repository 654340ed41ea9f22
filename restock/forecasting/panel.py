"""Forecast every segment × SKU series for one forecast origin, in parallel.

The unit of work of the ``demand_forecasts`` asset. Pure Python: a long frame of
weekly history in, forecast rows and model choices out; the caller owns storage.

Cadence (the rule the asset follows; :class:`restock.config.ForecastingConfig` holds the parameters):

- **Forecast origin** of a day D = the last cut-off weekday on or before D
  (:func:`forecast_origin`). Weeks are Monday–Sunday (the marts' ``week_start``); the
  models see the weeks that are complete on the origin, and horizon 1 is the first
  week that is not. With the default cut-off Sunday, the origin is the end of a week
  and horizon 1 the week starting the next day.
- **Selection** (the rolling-origin backtest of :mod:`restock.forecasting.selection`)
  runs at *selection origins* only: origins whose week number since 2000-01-03 is a
  multiple of ``selection_every_weeks`` (default 26, half a year). A fixed calendar grid
  makes the rule independent of where a run or backfill starts.
- **Refit** at the other origins: the model chosen at the latest selection origin is
  fitted again on the longer history; for SARIMAX (alone or in the combination) the
  AR coefficient stored at selection is held and the constant and calendar effects
  are re-estimated — in closed form, the same numbers as statsmodels' Kalman filter
  to its rounding (``models.ar1_state_regression_forecast``, ~0.4 ms instead of ~6 ms
  per fit, ~10 ms for a full fit); a seasonal
  naive keeps the season it was backtested with (1, the plain naive, when the
  history was shorter than a season). Why: a full backtest costs ~75 ms per smooth
  series, a refit ~1-3 ms.
- **No usable choice** at a refit origin (a series new since the selection origin,
  one that was on the new-SKU rule there, or a selection origin before the first
  data): the class default (:data:`CLASS_DEFAULTS`: the combination for
  smooth/erratic, SBA for intermittent/lumpy, zero for no demand), fitted without a
  backtest (``method = "class_default"``) and stored as the series' choice at that
  origin, so the origins after it refit it like a selection until the next selection
  origin. Why stored: fitted cold at every origin, the combination's SARIMAX part
  cost a full fit per series each week — the demo's weeks between enough history
  and the first grid origin with data took 23–37 s an origin instead of 3–5 s.
- **Promotions**: a job may carry ``"promo"`` (history weeks then ``horizon`` future
  weeks, :func:`restock.forecasting.promotions.attach_promotions`); it is appended to
  the calendar regressors of ``sarimax_calendar`` and the combination, at selection
  and refit origins alike. A job without it is forecast exactly as before.
- A fit that fails falls back (:func:`restock.forecasting.selection.select_and_forecast`
  rules; a failing refit → a selection at this origin) and the row's
  ``fallback_reason`` says so; one series never fails the run.

Parallelism: series are cut into chunks and fitted by a process pool
(``concurrent.futures``) the caller creates once per run (:func:`make_pool`), so
both cores of a small server work and worker start-up is paid once.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable
from concurrent.futures import Executor
from datetime import date, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from restock.calendar import last_complete_week_start
from restock.config import ForecastingConfig
from restock.worker_pool import make_pool  # noqa: F401 - the pool of forecast_panel, imported from here by callers

if TYPE_CHECKING:
    from restock.forecasting.selection import SelectionResult

# Model of a series without a stored choice at a refit origin, by demand class
# (smooth/erratic: ForecastingConfig.default_model).
CLASS_DEFAULTS = {"intermittent": "sba", "lumpy": "sba", "no_demand": "zero"}
# Grid anchor of the selection origins: a Monday, so week numbers are whole weeks.
SELECTION_GRID_ANCHOR = date(2000, 1, 3)


def forecast_origin(day: date, cutoff_weekday: int) -> date:
    """The last ``cutoff_weekday`` (ISO, 1..7) on or before ``day``."""
    if not 1 <= cutoff_weekday <= 7:
        raise ValueError(f"cutoff_weekday must be 1..7 (ISO, 1 = Monday), got {cutoff_weekday}")
    return day - timedelta(days=(day.isoweekday() - cutoff_weekday) % 7)


def is_selection_origin(origin: date, every_weeks: int) -> bool:
    """True when ``origin`` is on the selection grid (see the module docstring)."""
    if every_weeks < 1:
        raise ValueError(f"selection_every_weeks must be >= 1, got {every_weeks}")
    return ((origin - SELECTION_GRID_ANCHOR).days // 7) % every_weeks == 0


def selection_origin_for(origin: date, settings: ForecastingConfig) -> date:
    """The latest selection origin on or before ``origin`` (same cut-off weekday)."""
    current = origin
    while not is_selection_origin(current, settings.selection_every_weeks):
        current -= timedelta(weeks=1)
    return current


def build_series(history: pd.DataFrame, origin: date, keys: tuple[str, ...] = ("segment_id", "sku")) -> list[dict]:
    """One task per series: weekly values from the series' first non-zero week to the
    last complete week on ``origin``, missing weeks filled with 0.

    ``history`` columns: the ``keys``, ``week_start`` (Monday dates) and ``qty``.
    Weeks after the last complete week are ignored (point in time). Series without any
    demand are dropped.
    """
    last_week = pd.Timestamp(last_complete_week_start(origin))
    frame = history.loc[pd.to_datetime(history["week_start"]) <= last_week, [*keys, "week_start", "qty"]].copy()
    frame["week_start"] = pd.to_datetime(frame["week_start"])
    frame["qty"] = frame["qty"].astype(float)
    frame = frame[frame["qty"] > 0].groupby([*keys, "week_start"], sort=True, as_index=False)["qty"].sum()
    if frame.empty:
        return []
    # Sorted by key then week: each series is one contiguous slice. Plain numpy per
    # slice (a pandas groupby loop cost ~1 ms a series: 3.3 s an origin on the demo).
    week = ((frame["week_start"] - last_week).dt.days // 7).to_numpy()  # ≤ 0, 0 = last week
    qty = frame["qty"].to_numpy()
    columns = [frame[k].to_numpy() for k in keys]
    starts = np.zeros(len(frame), dtype=bool)
    starts[0] = True
    for column in columns:
        starts[1:] |= column[1:] != column[:-1]
    bounds = np.append(np.flatnonzero(starts), len(frame))
    tasks = []
    for begin, end in zip(bounds[:-1], bounds[1:], strict=True):
        first = int(week[begin])
        values = np.zeros(1 - first)
        values[week[begin:end] - first] = qty[begin:end]
        key = tuple(column[begin] for column in columns)
        tasks.append({"key": key, "first_week": (last_week + pd.Timedelta(weeks=first)).date(), "y": values})
    return tasks


def forecast_panel(
    tasks: list[dict],
    origin: date,
    settings: ForecastingConfig,
    choices: dict[tuple, dict] | None,
    pool: Executor | None = None,
    chunks_per_worker: int = 4,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Forecast every task (from :func:`build_series`) at ``origin``.

    ``choices`` maps a series key to ``{"model": ..., "params": {...}}`` from the
    selection origin; None means this origin *is* a selection origin (every series is
    selected). Returns ``(forecasts, selected)``: forecasts one row per series and
    horizon (``key`` tuple, horizon, period_start, forecast_qty, lower_qty, upper_qty,
    model, method, fallback_reason) and the choices made at this origin (key,
    model, params_json, scores_json, demand_class, fallback_reason) to store: every
    series' selection at a selection origin; at a refit origin the class-default fits
    and the selections that replaced a failed refit.
    """
    jobs = [
        {**task, "choice": None if choices is None else choices.get(task["key"]), "refit_origin": choices is not None}
        for task in tasks
    ]
    workers = max(1, settings.workers)
    size = max(1, math.ceil(len(jobs) / (workers * chunks_per_worker)))
    chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
    if pool is None or len(chunks) <= 1:
        results = [_forecast_chunk(chunk, origin, settings) for chunk in chunks]
    else:
        results = list(pool.map(_forecast_chunk, chunks, [origin] * len(chunks), [settings] * len(chunks)))
    rows = [row for forecast_rows, _ in results for row in forecast_rows]
    picks = [row for _, selected in results for row in selected]
    forecasts = pd.DataFrame(
        rows,
        columns=[
            "key",
            "horizon",
            "period_start",
            "forecast_qty",
            "lower_qty",
            "upper_qty",
            "model",
            "method",
            "fallback_reason",
        ],
    )
    selected = pd.DataFrame(
        picks, columns=["key", "model", "params_json", "scores_json", "demand_class", "fallback_reason"]
    )
    return forecasts, selected


def _forecast_chunk(jobs: list[dict], origin: date, settings: ForecastingConfig) -> tuple[list[tuple], list[tuple]]:
    rows: list[tuple] = []
    selected: list[tuple] = []
    for job in jobs:
        forecast_rows, pick = _forecast_one(job, origin, settings)
        rows.extend(forecast_rows)
        if pick is not None:
            selected.append(pick)
    return rows, selected


def _forecast_one(job: dict, origin: date, settings: ForecastingConfig) -> tuple[list[tuple], tuple | None]:
    from restock.forecasting.calendar_regressors import future_week_starts
    from restock.forecasting.models import ModelFitError, fit_forecast
    from restock.forecasting.promotions import with_promo
    from restock.forecasting.selection import select_and_forecast
    from restock.segmentation.product_classes import classify_demand

    y = job["y"]
    h = settings.horizon_weeks
    future = future_week_starts(job["first_week"] + timedelta(weeks=y.size - 1), h)
    choice = job["choice"]
    if choice is not None and choice.get("fallback"):
        choice = None  # a rule (e.g. new SKU) stood in for a selection: select now
    pick = None
    method, fallback = "refit", None
    forecast = None
    if choice is not None:
        try:
            exog = {}
            if choice["model"] in ("sarimax_calendar", "combination"):
                # Promotions (restock.forecasting.promotions): a column after the
                # calendar ones when the job carries them, else exactly the calendar.
                x = with_promo(_calendar(job["first_week"], y.size + h), job.get("promo"))
                exog = {"exog_history": x[: y.size], "exog_future": x[y.size :]}
            params = {k: v for k, v in choice.get("params", {}).items() if k in ("alpha", "window")}
            if "start_params" in choice.get("params", {}):
                params["fixed_params"] = choice["params"]["start_params"]
            season = settings.season_weeks
            if choice["model"] == "seasonal_naive" and choice.get("params", {}).get("season"):
                # refit the model as it was backtested: a seasonal naive chosen on less
                # than a season of history was the plain naive (season 1) and stays so
                # until the next selection, rather than turning into an untested
                # last-year copy once the history reaches a season (on CDNOW's single
                # cohort it copied the acquisition peak: forecasts 2.7 x the demand).
                season = int(choice["params"]["season"])
            forecast = fit_forecast(
                choice["model"], y, h, season=season, level=settings.interval_level, **exog, **params
            )
        except (ModelFitError, ValueError) as exc:
            fallback = f"refit of {choice['model']} failed ({exc}); selected again"
    if forecast is None and job["refit_origin"] and choice is None:
        # No usable choice from the selection origin (a series new since then, or one
        # that was on the new-SKU rule): the class default, fitted without a backtest
        # (the same whichever run computes it) and returned as a choice to store, so
        # the next origins refit it until the next selection (module docstring).
        klass = classify_demand(y)
        default = CLASS_DEFAULTS.get(klass) or settings.default_model or "combination"
        result = select_and_forecast(
            y,
            _weeks(job["first_week"], y.size),
            h,
            demand_class=klass,
            min_history_weeks=settings.min_history_weeks,
            season=settings.season_weeks,
            level=settings.interval_level,
            candidates=[default],
            ses_alpha=settings.ses_alpha,
            extra_exog=job.get("promo"),
        )
        forecast, method = result.forecast, "class_default"
        fallback = "; ".join(reason for reason in (fallback, result.fallback_reason) if reason) or None
        # Stored as the series' choice when a refit can reuse it: not a rule (short
        # history, failed fit), and a combination with its SARIMAX part (on a history
        # too short for it, the part would be fitted cold at every later origin).
        held = result.model not in ("combination", "sarimax_calendar") or "start_params" in forecast.params
        if result.fallback_reason is None and held:
            pick = _pick(job["key"], result, klass)
    if forecast is None:
        klass = classify_demand(y)
        result = select_and_forecast(
            y,
            _weeks(job["first_week"], y.size),
            h,
            demand_class=klass,
            min_history_weeks=settings.min_history_weeks,
            origins=settings.backtest_origins.as_dict().get(klass),
            metric=settings.backtest_metric.as_dict().get(klass),
            season=settings.season_weeks,
            level=settings.interval_level,
            default_model=(settings.default_model or "") if klass in ("smooth", "erratic") else "",
            switch_margin=settings.switch_margin,
            ses_alpha=settings.ses_alpha,
            extra_exog=job.get("promo"),
        )
        forecast = result.forecast
        method = "selection"
        fallback = "; ".join(reason for reason in (fallback, result.fallback_reason) if reason) or None
        pick = _pick(job["key"], result, klass)
    rows = [
        (
            job["key"],
            k + 1,
            future[k],
            float(forecast.point[k]),
            float(forecast.lower[k]),
            float(forecast.upper[k]),
            forecast.model,
            method,
            fallback,
        )
        for k in range(h)
    ]
    return rows, pick


def _pick(key: tuple, result: SelectionResult, klass: str) -> tuple:
    """A model choice to store (key, model, params_json, scores_json, demand_class,
    fallback_reason): what a later refit origin needs to fit the same model again."""
    forecast = result.forecast
    params = {k: _plain(v) for k, v in forecast.params.items() if k in ("start_params", "alpha", "window")}
    if result.model == "seasonal_naive" and "season" in forecast.params:
        params["season"] = _plain(forecast.params["season"])
    scores = {k: (None if not math.isfinite(v) else round(v, 6)) for k, v in result.scores.items()}
    return (
        key,
        result.model,
        json.dumps(params, sort_keys=True),
        json.dumps(scores, sort_keys=True),
        klass,
        result.fallback_reason,
    )


def _weeks(first_week: date, n_weeks: int) -> list[date]:
    # Only the selection paths need the list (~0.1 ms a series): not built for a refit.
    return [first_week + timedelta(weeks=k) for k in range(n_weeks)]


@functools.lru_cache(maxsize=512)
def _calendar(first_week: date, n_weeks: int) -> np.ndarray:
    # Series of one origin share few start weeks: compute each calendar once (~2 ms).
    from restock.forecasting.calendar_regressors import calendar_regressors

    x = calendar_regressors([first_week + timedelta(weeks=k) for k in range(n_weeks)])
    x.setflags(write=False)
    return x


def _plain(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    return value


def choices_from_frame(frame: pd.DataFrame, keys: Iterable[str] = ("segment_id", "sku")) -> dict[tuple, dict]:
    """Stored choices (columns: the keys, model, params_json, fallback_reason) → the
    ``choices`` mapping."""
    keys = list(keys)
    out = {}
    for row in frame.itertuples(index=False):
        record = row._asdict()
        out[tuple(record[k] for k in keys)] = {
            "model": record["model"],
            "params": json.loads(record["params_json"] or "{}"),
            "fallback": bool(record.get("fallback_reason")),
        }
    return out
