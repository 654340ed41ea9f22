"""Forecast accuracy per level (issue 11, "Targets"): Restock's published forecasts
against baselines fitted directly to each level's series, same rolling origins.

    .venv-bench/bin/python benchmarks/bench_levels.py            # full run, appends to RESULTS.md
    .venv-bench/bin/python benchmarks/bench_levels.py --quick    # smoke run (tiny data, 2 origins)
    .venv-bench/bin/python benchmarks/bench_levels.py --data walmart pbs --no-write

(``make bench-levels``; ``make bench-forecast`` runs it after bench_forecasting.py.)

**Restock** is the real pipeline, reconciled, as published: for every data set with
weekly demand the script builds the marts in a DuckDB file of its own with the
builders of ``bench_lifecycle_demand.py`` (no dbt), then on every origin runs the
customer segments (:func:`restock.segmentation.tables.customer_segments_for_day`)
and :func:`restock.forecasting.origins.run_forecasts` with this tree's restock.yaml
(``forecasting.workers`` = ``--workers``). Origins run: the ``WARMUP`` (13) weekly
origins before the evaluated ones — the reconciliation backtest (``auto``) and the
out-of-control reselection read the forecasts of the previous 13 weeks — then the
``K`` (8) evaluated weekly origins; the selection origin of the grid that the first
one refits from is selected from its own data (``origins._select_at``). Levels read
back: ``total`` and ``sku`` = ``analytics.level_forecasts``, ``segment × sku`` =
``analytics.segment_forecasts`` (``forecast_qty``, reconciled), ``customer × sku`` =
segment forecast × ``customer_forecast_shares.share`` (bounds: forecast × share ×
``lower_ratio``/``upper_ratio`` where stored, else segment bound × share, as the
accuracy review does). ``restock_base`` is the forecast before reconciliation
(``base_qty``; no interval stored). PBS (monthly) cannot run through the weekly
pipeline (weeks, cut-off weekday, 52-week season, weekly calendar): there Restock is
its model selection (:func:`restock.forecasting.selection.select_and_forecast`,
season 12, the weekly ``sarimax_calendar`` candidate removed) at the total level.

**Baselines**, fitted at every origin to the series of the level itself (history from
its first week with demand to the last complete week on the origin): seasonal naive
(52 weeks / 12 months when the history holds a full season, else naive; interval
from its in-sample residuals, ± z σ √(⌊(h−1)/m⌋+1), FPP3), ``mean_8w`` (mean of the
last 8 periods; interval ± z s √(1+1/n)), statsforecast ``AutoETS`` and ``AutoTheta``
(season 52/12, their 80 % intervals) and ``CrostonSBA`` (no interval). A statsforecast
fit that fails (too short a series) falls back to ``mean_8w`` and is counted. All
forecasts and bounds are clipped at 0; a series without history gets 0.

**Series and actuals** per level on origin O (weeks Monday–Sunday, horizon h = the
h-th week after the last complete week on O):

- ``total`` / ``sku``: all demand (``requested_qty``) of every customer — what arrives,
  new shops included;
- ``segment × sku``: the demand of the customers that were the segment's members on O
  (``analytics.forecast_members``: every customer that has not closed), history and
  test weeks alike — the population the pipeline forecasts and its review scores;
- ``customer × sku``: the customer's own demand; every pair with demand up to the
  last test week (a closed shop's pair included: Restock gives it 0).

Statsforecast costs 0.1-0.3 s per seasonal series fit, so at the two bottom levels
every method is scored on a **sample** of series (``segment × sku``: the ``--top``
150 largest by member demand in the 26 weeks before the first evaluated origin plus
``--random`` 50 others with demand then, seed 0; ``customer × sku``: 50 largest + 150
random pairs), and Restock and the cheap baselines also on **all** series (rows
"…, all series").

**Metrics** over every (series, origin, horizon) point of a level: WAPE = Σ|e| / Σy;
relative bias = Σe / Σy (e = forecast − actual; positive = over-forecast); 80 %
coverage = share of points with lower ≤ y ≤ upper; MASE / RMSSE per series-origin
(mean over its horizons of |e| / Q, √(mean e² / Q₂), Q and Q₂ the in-sample MAE / MSE of
the seasonal naive, m = 52 (12) when the history is longer than a season, else 1;
series-origins with Q = 0 skipped), then the mean over series-origins;
``MASE int.`` the same over the series-origins whose history is intermittent or
lumpy (:func:`restock.segmentation.product_classes.classify_demand`).
Ratios: WAPE / AutoETS WAPE and WAPE / seasonal-naive WAPE.
``|TS| ≤ 4`` = the share of segment × SKU series with |tracking signal| ≤
``accuracy.tracking_signal_limit`` in the pipeline's own accuracy review
(:func:`restock.forecasting.accuracy_review.accuracy_review`, level ``series``:
horizon-1 forecasts of the 13 weeks complete one week after the last evaluated
origin).

Data sets (every generated set is made at the start of the run, so one generator
version serves the whole run; its parameters are printed with each table):
``demo`` (``restock-demo-data --scale demo`` as the preset is: 2,000 customers × 150
SKUs, 2024-01-01 .. 2025-12-31; since a312b91 with irregular buyers and lapsing shops) in two windows — ``standard`` (the last 8 origins whose
8 test weeks are complete) and ``sf`` (origins 2024-12-08 .. 2025-01-26: Spring
Festival 2025-01-29 is in the test weeks of every origin; only 49-56 weeks of history
there, so the seasonal naive is a plain naive at the first origins); ``rhythms``
(bench_lifecycle_demand's set: 1,500 customers × 80 SKUs ordering every 1, 2, 4 or
8 weeks, 25 % lapsing 6-30 weeks a year, 15 % new shops a year, market +10 % a
year); ``growth`` (optional: weekly buyers, market +15 % a year); ``walmart``
(store 1's 7 departments, weekly: fed to the real pipeline as one pseudo-customer and
one SKU per department, all in one segment (CRM tier 30, channel "store"), so the
levels are total and department (= segment × sku); no customer level);
``pbs`` (monthly, one series, total only; cut at its last month with demand,
2005-04, because the 12 months after it are all zero).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import multiprocessing as mp  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Iterable, Iterator  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from statistics import NormalDist  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_lifecycle_demand as lifecycle  # noqa: E402

REAL = Path("/work/shared/data/real")
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
H = 8  # horizons 1..H
K = 8  # evaluated origins (weekly; monthly for PBS)
WARMUP = 13  # weekly origins run before the evaluated ones
LEVEL_Z = NormalDist().inv_cdf(0.9)  # 80 % interval
METHODS = ("restock", "restock_base", "seasonal_naive", "mean_8w", "AutoETS", "AutoTheta", "CrostonSBA")
CHEAP = ("restock", "restock_base", "seasonal_naive", "mean_8w", "CrostonSBA")
STATSFORECAST = ("AutoETS", "AutoTheta", "CrostonSBA")
LEVELS = ("total", "sku", "segment × sku", "customer × sku")
# stats per record and method: Σ|e|, Σy, Σe, points inside, points with an interval, MASE, RMSSE, failed fit
N_STATS = 8


# --------------------------------------------------------------------------- methods


def seasonal_naive(y: np.ndarray, h: int, season: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Point and 80 % bounds: the same period one season back when the history holds a
    full season, else the last value; σ from the in-sample residuals of that rule."""
    m = season if y.size >= season else 1
    point = np.array([y[-m:][k % m] for k in range(h)], dtype=float)
    resid = y[m:] - y[:-m]
    sigma = float(np.sqrt(np.mean(resid**2))) if resid.size else 0.0
    steps = np.floor(np.arange(h) / m) + 1 if m > 1 else np.arange(1, h + 1)
    half = LEVEL_Z * sigma * np.sqrt(steps)
    return point, point - half, point + half


def window_mean(y: np.ndarray, h: int, window: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    last = y[-min(window, y.size) :]
    sd = float(last.std(ddof=1)) if last.size > 1 else 0.0
    half = LEVEL_Z * sd * math.sqrt(1 + 1 / last.size)
    point = np.full(h, last.mean())
    return point, point - half, point + half


def sf_forecast(name: str, y: np.ndarray, h: int, season: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from statsforecast.models import AutoETS, AutoTheta, CrostonSBA

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if name == "CrostonSBA":
            point = np.asarray(CrostonSBA().forecast(y=y.astype(float), h=h)["mean"], dtype=float)
            return point, np.full(h, np.nan), np.full(h, np.nan)
        model = AutoETS(season_length=season) if name == "AutoETS" else AutoTheta(season_length=season)
        out = model.forecast(y=y.astype(float), h=h, level=[80])
    return (np.asarray(out[k], dtype=float) for k in ("mean", "lo-80", "hi-80"))  # type: ignore[return-value]


def insample_scales(train: np.ndarray, season: int) -> tuple[float, float]:
    """(MAE, MSE) of the in-sample seasonal naive (m = season when the history is
    longer than a season, else 1): the MASE and RMSSE scales; NaN when undefined."""
    m = season if train.size > season else 1
    if train.size <= m:
        return float("nan"), float("nan")
    diff = train[m:] - train[:-m]
    return float(np.mean(np.abs(diff))), float(np.mean(diff**2))


def point_stats(
    actual: np.ndarray, point: np.ndarray, lower: np.ndarray, upper: np.ndarray, scale: tuple[float, float]
) -> np.ndarray:
    """The per-record sums and scaled errors (see N_STATS) of one method's forecast."""
    err = point - actual
    has_interval = bool(np.isfinite(lower).all() and np.isfinite(upper).all())
    inside = float(((lower <= actual) & (actual <= upper)).sum()) if has_interval else 0.0
    mae, mse = scale
    mase = float(np.mean(np.abs(err)) / mae) if mae > 0 else float("nan")
    rmsse = float(math.sqrt(np.mean(err**2) / mse)) if mse > 0 else float("nan")
    return np.array(
        [np.abs(err).sum(), actual.sum(), err.sum(), inside, actual.size if has_interval else 0, mase, rmsse, 0.0]
    )


def evaluate_record(record: dict, methods: tuple[str, ...], season: int) -> tuple[bool, np.ndarray]:
    """(intermittent?, stats per method) of one series at one origin."""
    from restock.segmentation.product_classes import classify_demand

    y, actual, h = record["y"], record["actual"], record["actual"].size
    intermittent = bool(y.size and y.any() and classify_demand(y) in ("intermittent", "lumpy"))
    scale = insample_scales(y, season)
    out = np.zeros((len(methods), N_STATS))
    none = np.full(h, np.nan)
    for i, method in enumerate(methods):
        failed = 0.0
        # No forecast (no published row; no history to fit): 0, and no interval (such
        # points count in WAPE and bias, not in the coverage).
        if method in ("restock", "restock_base"):
            if record.get(method) is None:
                point, lower, upper = np.zeros(h), none, none
            else:
                point, lower, upper = record[method]
        elif y.size == 0 or not y.any():
            point, lower, upper = np.zeros(h), none, none
        elif method == "seasonal_naive":
            point, lower, upper = seasonal_naive(y, h, season)
        elif method == "mean_8w":
            point, lower, upper = window_mean(y, h)
        else:
            try:
                point, lower, upper = sf_forecast(method, y, h, season)
                if point.shape != (h,) or not np.isfinite(point).all():
                    raise ValueError("non-finite forecast")
            except Exception:  # noqa: BLE001 - a failed baseline falls back, counted
                point, lower, upper = window_mean(y, h)
                failed = 1.0
        if method in ("restock_base", "CrostonSBA"):
            lower = upper = none  # no interval (a fallback's is not the method's)
        point, lower, upper = (np.clip(np.asarray(v, dtype=float), 0, None) for v in (point, lower, upper))
        out[i] = point_stats(actual, point, lower, upper, scale)
        out[i, 7] = failed
    return intermittent, out


def _evaluate_chunk(records: list[dict], methods: tuple[str, ...], season: int) -> list[tuple[bool, np.ndarray]]:
    return [evaluate_record(r, methods, season) for r in records]


class Scores:
    """Accumulated stats of one level × method set."""

    def __init__(self, methods: tuple[str, ...]) -> None:
        self.methods = methods
        self.sums = np.zeros((len(methods), 6))  # Σ|e|, Σy, Σe, points inside, points with interval, failed
        self.mase: list[list[float]] = [[] for _ in methods]
        self.rmsse: list[list[float]] = [[] for _ in methods]
        self.mase_int: list[list[float]] = [[] for _ in methods]
        self.records = 0
        self.intermittent = 0
        self.keys: set = set()

    def add(self, intermittent: bool, stats: np.ndarray) -> None:
        self.records += 1
        self.intermittent += intermittent
        self.sums[:, :5] += stats[:, :5]
        self.sums[:, 5] += stats[:, 7]
        for i in range(len(self.methods)):
            if math.isfinite(stats[i, 5]):
                self.mase[i].append(stats[i, 5])
                if intermittent:
                    self.mase_int[i].append(stats[i, 5])
            if math.isfinite(stats[i, 6]):
                self.rmsse[i].append(stats[i, 6])

    def row(self, method: str) -> dict:
        i = self.methods.index(method)
        abs_err, actual, err, inside, n_int, failed = self.sums[i]

        def ratio(a: float, b: float) -> float:
            return a / b if b > 0 else float("nan")

        def mean(values: list[float]) -> float:
            return float(np.mean(values)) if values else float("nan")

        return {
            "wape": ratio(abs_err, actual),
            "bias": ratio(err, actual),
            "coverage": ratio(inside, n_int),
            "mase": mean(self.mase[i]),
            "rmsse": mean(self.rmsse[i]),
            "mase_int": mean(self.mase_int[i]),
            "failed": int(failed),
        }


def evaluate(
    records: Iterable[dict], methods: tuple[str, ...], season: int, workers: int, label: str, chunk: int = 200
) -> Scores:
    """Score every record with every method (a fork pool of ``workers`` processes;
    at most a few batches in flight, so the all-pairs levels stream)."""
    scores = Scores(methods)
    started = time.perf_counter()

    def batches() -> Iterator[list[dict]]:
        for batch in _batched(records, chunk):
            scores.keys.update(r["key"] for r in batch)
            yield batch

    def consume(result: list[tuple[bool, np.ndarray]]) -> None:
        for intermittent, stats in result:
            scores.add(intermittent, stats)

    if workers <= 1:
        for batch in batches():
            consume(_evaluate_chunk(batch, methods, season))
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
            pending: list = []
            for batch in batches():
                pending.append(pool.submit(_evaluate_chunk, batch, methods, season))
                if len(pending) >= 4 * workers:
                    consume(pending.pop(0).result())
            for future in pending:
                consume(future.result())
    print(
        f"    {label}: {scores.records} series-origins, {len(methods)} methods, {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    return scores


def _batched(records: Iterable[dict], size: int) -> Iterator[list[dict]]:
    batch: list[dict] = []
    for record in records:
        batch.append(record)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def warm_up() -> None:
    """Compile statsforecast's numba code before forking (not part of any timing)."""
    y = np.abs(np.sin(np.arange(120))) * 10 + 1
    for season in (52, 12):
        for name in STATSFORECAST:
            sf_forecast(name, y, 4, season)


# --------------------------------------------------------------------------- data sets


@dataclass(frozen=True)
class Window:
    """One pipeline data set × window: the origins evaluated and how to get the data."""

    name: str
    data: str  # demo / rhythms / growth / walmart
    generator_args: tuple[str, ...] = ()
    evals: tuple[date, ...] | None = None  # None: the last K origins with H complete test weeks
    customers: bool = True
    sku_is_bottom: bool = False  # one segment: segment × sku = sku (scored once, as "sku")
    note: str = ""


def windows(quick: bool, k: int) -> dict[str, Window]:
    demo_args = ("--scale", "tiny") if quick else ("--scale", "demo")
    rhythms = tuple(lifecycle.DEMO_SETS["rhythms"][0])
    growth_default = (["--scale", "demo", "--customers", "1500", "--skus", "80", "--trend", "0.15"], None, None)
    growth = tuple(lifecycle.DEMO_SETS.get("growth", growth_default)[0])
    if quick:  # tiny variants (60 customers × 15 SKUs, 300 days)
        rhythms = ("--scale", "tiny", "--days", "300", *rhythms[6:])
        growth = ("--scale", "tiny", "--days", "300", *growth[6:])
    sf_last = date(2024, 2, 4) if quick else date(2025, 1, 26)
    sf = tuple(sf_last - timedelta(weeks=k - 1 - i) for i in range(k))
    return {
        "demo": Window("demo, standard window", "demo", demo_args),
        "demo_sf": Window(
            "demo, Spring Festival window", "demo", demo_args, evals=sf, note="Spring Festival in every test window"
        ),
        "rhythms": Window("rhythms (irregular buyers, lapses, market +10 %/year)", "rhythms", rhythms),
        "growth": Window("growth (weekly buyers, market +15 %/year)", "growth", growth),
        "walmart": Window(
            "Walmart store 1 (weekly, departments)",
            "walmart",
            customers=False,
            sku_is_bottom=True,
            note="One segment: the sku level is the department = segment × sku level (scored once)",
        ),
    }


def generate(name: str, args: tuple[str, ...], work: Path) -> Path:
    """A generated landing folder (restock-demo-data; kept when the same parameters
    were generated before)."""
    out = work / ("landing_" + name + "_" + "_".join(a.strip("-").replace(",", "-") for a in args))
    cmd = [sys.executable, "-m", "restock.demo", *args, "--out", str(out), "--quiet", "--if-missing"]
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return out


def walmart_lines() -> pd.DataFrame:
    """Walmart store 1 as order lines: one pseudo-customer and one SKU per department
    (``D<dept>``), its week's sales as one order line dated on the file's Friday
    (week_start = that week's Monday); sales < 0 clipped to 0 (the line dropped)."""
    frame = pd.read_csv(REAL / "walmart_sales_weekly.csv", parse_dates=["Date"])
    qty = frame["Weekly_Sales"].clip(lower=0).astype(float)
    lines = pd.DataFrame(
        {
            "customer_id": "D" + frame["Dept"].astype(str),
            "sku": "D" + frame["Dept"].astype(str),
            "order_date": frame["Date"].dt.date,
            "ordered_qty": qty,
            "requested_qty": qty,
            "line_amount": qty,
        }
    )
    return lines[lines["ordered_qty"] > 0].reset_index(drop=True)


def walmart_snapshots(lines: pd.DataFrame, days: list[date]) -> pd.DataFrame:
    """Every department's pseudo-customer on every day, all in one segment (CRM tier
    30, channel "store"), active, region 城东区 (→ warehouse WH01)."""
    ids = sorted(lines["customer_id"].unique())
    return pd.DataFrame(
        {
            "as_of_date": [day for day in days for _ in ids],
            "customer_id": ids * len(days),
            "crm_tier": pd.array([30] * (len(ids) * len(days)), dtype="Int64"),
            "channel": "store",
            "region": "城东区",
            "customer_status": "active",
            "opened_on": None,
            "closed_on": None,
        }
    )


def landing_frames(landing: Path, days: list[date]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Order lines and the customer snapshots in force on ``days`` (those on or after
    the first snapshot) of a generated landing folder (bench_lifecycle_demand.demo_frames)."""
    first = min(date.fromisoformat(f.name[:10]) for f in (landing / "customers").glob("*.csv"))
    return lifecycle.demo_frames(landing, [d for d in days if d >= first] or [first])


def last_data_week(window: Window, lines: pd.DataFrame) -> date:
    """Monday of the last week with complete data (Walmart: its last dated week)."""
    from restock.calendar import last_complete_week_start

    last_day = pd.Timestamp(max(lines["order_date"])).date()
    if window.data == "walmart":
        return last_day - timedelta(days=last_day.weekday())
    return last_complete_week_start(last_day)


def eval_origins(window: Window, last_week: date, k: int) -> list[date]:
    if window.evals is not None:
        return list(window.evals)
    last_origin = last_week - timedelta(weeks=H - 1) - timedelta(days=1)  # its h = H week is the last week
    return [last_origin - timedelta(weeks=k - 1 - i) for i in range(k)]


# --------------------------------------------------------------------------- the pipeline


def import_restock() -> None:
    """Import every restock module the run uses, at its start (main process and the
    pipeline's workers): the tree may be edited while a run takes an hour, and one run
    should use one version of the code."""
    import restock.config
    import restock.forecasting.accuracy_review
    import restock.forecasting.origins
    import restock.forecasting.panel
    import restock.forecasting.selection
    import restock.forecasting.tables
    import restock.segmentation.product_classes
    import restock.segmentation.tables
    import restock.warehouse  # noqa: F401


def run_pipeline(window: Window, args, work: Path, config, pool, landing: Path | None) -> dict:
    """Build the marts, run segments + forecasts on every origin, collect the records
    of every level. Returns the data set's result dict (scores filled in later)."""
    import duckdb

    from restock.forecasting import origins, tables
    from restock.forecasting.accuracy_review import accuracy_review
    from restock.forecasting.panel import selection_origin_for
    from restock.segmentation import tables as segments
    from restock.warehouse import replace_day

    settings = config.forecasting
    started = time.perf_counter()
    if window.data == "walmart" or landing is None:
        lines = walmart_lines()
    else:
        lines, _ = landing_frames(landing, [])
    first_day = pd.Timestamp(min(lines["order_date"])).date()
    last_week = last_data_week(window, lines)
    evals = eval_origins(window, last_week, args.origins)
    warm = [evals[0] - timedelta(weeks=args.warmup - i) for i in range(args.warmup)]
    run_days = warm + evals
    selection_days = {selection_origin_for(d, settings) for d in run_days}
    snapshot_days = sorted({d for d in set(run_days) | selection_days if d >= first_day})
    if window.data == "walmart" or landing is None:
        snaps = walmart_snapshots(lines, snapshot_days)
    else:
        lines, snaps = landing_frames(landing, snapshot_days)
    tiers = {
        "window_weeks": config.tiers.window_weeks,
        "volume_band_edges": list(config.tiers.volume_band_edges),
        "price_band_edges": list(config.tiers.price_band_edges),
        "new_customer_max_tier": config.tiers.new_customer_max_tier,
    }
    db = work / f"{window.data}_{evals[0]}.duckdb"
    lifecycle.build_marts(db, lines, snaps, tiers)
    prep = time.perf_counter() - started
    print(
        f"  marts built in {prep:.0f} s: {len(lines):,} order lines, {lines['customer_id'].nunique():,} customers, "
        f"{lines['sku'].nunique()} SKUs; origins run {run_days[0]} .. {run_days[-1]} ({len(run_days)}), "
        f"evaluated {evals[0]} .. {evals[-1]}",
        flush=True,
    )

    con = duckdb.connect(str(db))
    segments.ensure_tables(con)
    tables.ensure_tables(con)
    per_origin = []
    started = time.perf_counter()
    for day in run_days:
        t0 = time.perf_counter()
        rows = segments.customer_segments_for_day(con, day, config.segmentation)
        replace_day(con, "analytics.customer_segments", "as_of_date", day, rows, segments.SEGMENT_COLUMNS)
        result = origins.run_forecasts(con, [day], config, pool)[0]
        per_origin.append((day, time.perf_counter() - t0, result))
        print(
            f"    origin {day}: {result.status}, {result.series} series, {result.selected} selected, "
            f"{result.reselected} reselected, reconciliation {result.reconciliation}, "
            f"{time.perf_counter() - t0:.1f} s",
            flush=True,
        )
    pipeline_seconds = time.perf_counter() - started

    review_day = evals[-1] + timedelta(weeks=1)
    options: dict[str, Any] = {
        "quantity": settings.quantity,
        "region_warehouse": config.replenishment.region_warehouse,
        "default_warehouse": config.replenishment.default_warehouse,
    }
    accepted = inspect.signature(accuracy_review).parameters  # the review's options vary between versions
    review = accuracy_review(
        con,
        review_day,
        config.accuracy.window_weeks,
        config.accuracy.tracking_signal_limit,
        **{k: v for k, v in options.items() if k in accepted},
    )
    series = review[(review["level"] == "series") & (review["horizon"] == 1)]
    ts = series["tracking_signal"].astype(float).abs()
    limit = config.accuracy.tracking_signal_limit
    methods_used = Counter(
        row[0]
        for row in con.execute(
            "select method from analytics.reconciliations where forecast_origin between ? and ?", [evals[0], evals[-1]]
        ).fetchall()
    )
    info = {
        "title": window.name,
        "note": window.note,
        "season": 52,
        "evals": evals,
        "run_days": run_days,
        "prep_seconds": prep,
        "pipeline_seconds": pipeline_seconds,
        "eval_origin_seconds": [round(s, 1) for d, s, _ in per_origin if d in set(evals)],
        "series_per_origin": float(np.mean([r.series for d, _, r in per_origin if d in set(evals)])),
        "ts_share": float((ts <= limit).mean()) if len(ts) else float("nan"),
        "ts_series": int(len(ts)),
        "ts_limit": limit,
        "review_day": review_day,
        "review_bias_h1": _review_value(review, "total", 1, "bias"),
        "review_coverage_series": float(series["interval_coverage"].astype(float).mean()) if len(series) else None,
        "reconciliation": dict(methods_used),
        "customers": window.customers,
        "sku_is_bottom": window.sku_is_bottom,
        "generator": _generator(landing),
        "lines": len(lines),
        "n_customers": int(lines["customer_id"].nunique()),
        "n_skus": int(lines["sku"].nunique()),
    }
    levels = collect_levels(con, evals, settings.quantity, window.customers, args)
    if window.sku_is_bottom:
        levels.pop("segment × sku")
    con.close()
    return info | {"levels": levels}


def _generator(landing: Path | None) -> str:
    """The generated set's parameters (its manifest), for the report."""
    if landing is None:
        return ""
    manifest = json.loads((landing / "_demo_manifest.json").read_text(encoding="utf-8"))
    config = {k: v for k, v in manifest.get("config", {}).items() if v not in (None, [], {})}
    return f"restock-demo-data v{manifest.get('version')}: " + ", ".join(f"{k} {v}" for k, v in config.items())


def _review_value(review: pd.DataFrame, level: str, horizon: int, column: str) -> float | None:
    rows = review[(review["level"] == level) & (review["horizon"] == horizon)]
    return float(rows[column].iloc[0]) if len(rows) else None


# --------------------------------------------------------------------------- records


def collect_levels(con, evals: list[date], quantity: str, customers: bool, args) -> dict:
    """Every level's records (one per series × evaluated origin): history, actual of
    the H test weeks and Restock's published (and base) forecast.

    Returns {level: {"sample": [records], "all": iterable factory or None}}."""
    from restock.calendar import last_complete_week_start

    last_test = last_complete_week_start(evals[-1]) + timedelta(weeks=H)
    for table in ("segment_forecasts", "level_forecasts"):  # horizon h = the h-th week after the origin's last
        misaligned = con.execute(
            f"""select count(*) from analytics.{table} where forecast_origin in (select unnest(?::date[]))
                and period_start != forecast_origin + 1 + 7 * (horizon - 1)""",
            [evals],
        ).fetchone()[0]
        if misaligned:
            raise ValueError(f"{table}: {misaligned} rows whose period_start is not origin + 1 day + (h-1) weeks")
    weekly = con.execute(
        f"""select customer_id, sku, week_start, sum({quantity})::double as qty
            from marts.customer_sku_weekly_demand where week_start <= ? group by all""",
        [last_test],
    ).df()
    weekly["week_start"] = pd.to_datetime(weekly["week_start"])
    weeks = pd.date_range(weekly["week_start"].min(), pd.Timestamp(last_test), freq="7D")
    col = {w: i for i, w in enumerate(weeks)}
    weekly["col"] = weekly["week_start"].map(col)
    t_of = {o: col[pd.Timestamp(last_complete_week_start(o))] for o in evals}

    level_rows = con.execute(
        """select forecast_origin, level, key, horizon, forecast_qty, lower_qty, upper_qty, base_qty
           from analytics.level_forecasts where forecast_origin in (select unnest(?::date[]))
           order by forecast_origin, level, key, horizon""",
        [evals],
    ).df()
    restock_levels = _forecast_map(level_rows, ["forecast_origin", "level", "key"])

    out: dict[str, dict] = {}
    # total and sku: all demand of every customer
    total = np.bincount(weekly["col"], weights=weekly["qty"], minlength=len(weeks))
    out["total"] = {
        "sample": [
            _record("all", total, t_of[o], restock_levels.get((o, "total", "all"), (None, None))) for o in evals
        ],
        "all": None,
    }
    skus, sku_codes = np.unique(weekly["sku"], return_inverse=True)
    sku_matrix = np.zeros((len(skus), len(weeks)))
    np.add.at(sku_matrix, (sku_codes, weekly["col"].to_numpy()), weekly["qty"].to_numpy())
    out["sku"] = {
        "sample": [
            _record(sku, sku_matrix[i], t_of[o], restock_levels.get((o, "sku", sku), (None, None)))
            for o in evals
            for i, sku in enumerate(skus)
            if sku_matrix[i, : t_of[o] + H + 1].any()
        ],
        "all": None,
    }

    # segment × sku: the demand of the segment's members on each origin
    seg_rows = con.execute(
        """select forecast_origin, segment_id, sku, horizon, forecast_qty, lower_qty, upper_qty, base_qty
           from analytics.segment_forecasts where forecast_origin in (select unnest(?::date[]))
           order by forecast_origin, segment_id, sku, horizon""",
        [evals],
    ).df()
    seg_fc = _forecast_map(seg_rows, ["forecast_origin", "segment_id", "sku"])
    members = con.execute(
        f"""select m.forecast_origin, m.segment_id, w.sku, w.week_start, sum(w.{quantity})::double as qty
           from marts.customer_sku_weekly_demand w join analytics.forecast_members m using (customer_id)
           where m.forecast_origin in (select unnest(?::date[])) and w.week_start <= ?
           group by all""",
        [evals, last_test],
    ).df()
    members["col"] = pd.to_datetime(members["week_start"]).map(col)
    members["forecast_origin"] = pd.to_datetime(members["forecast_origin"]).dt.date
    seg_by_origin = {}
    for origin, group in members.groupby("forecast_origin"):
        keys = list(zip(group["segment_id"], group["sku"], strict=True))
        uniq, codes = np.unique(np.array([f"{a}\x1f{b}" for a, b in keys]), return_inverse=True)
        matrix = np.zeros((len(uniq), len(weeks)))
        np.add.at(matrix, (codes, group["col"].to_numpy()), group["qty"].to_numpy())
        seg_by_origin[origin] = ([tuple(u.split("\x1f")) for u in uniq], matrix)
    first = evals[0]
    keys0, matrix0 = seg_by_origin.get(first, ([], np.zeros((0, len(weeks)))))
    t0 = t_of[first]
    seg_sample = pick_sample(
        keys0, matrix0[:, max(0, t0 - 25) : t0 + 1].sum(axis=1) if len(keys0) else np.zeros(0), args.top, args.random
    )

    def seg_records(only: set | None) -> Iterator[dict]:
        for o in evals:
            keys, matrix = seg_by_origin.get(o, ([], np.zeros((0, len(weeks)))))
            index = {k: i for i, k in enumerate(keys)}
            forecast_keys = {(s, k) for (oo, s, k) in seg_fc if oo == o}
            for key in sorted(set(index) | forecast_keys):
                if only is not None and key not in only:
                    continue
                row = matrix[index[key]] if key in index else np.zeros(len(weeks))
                yield _record(key, row, t_of[o], seg_fc.get((o, *key), (None, None)))

    out["segment × sku"] = {
        "sample": list(seg_records(seg_sample)),
        "all": lambda: seg_records(None),
        "n_sample": len(seg_sample),
    }

    if customers:
        out["customer × sku"] = customer_records(con, weekly, weeks, evals, t_of, args)
    return out


def customer_records(con, weekly: pd.DataFrame, weeks, evals: list[date], t_of: dict, args) -> dict:
    """customer × SKU: the customer's demand; Restock = segment forecast × share."""
    columns = {r[0] for r in con.execute("describe analytics.customer_forecast_shares").fetchall()}
    if {"lower_ratio", "upper_ratio"} <= columns:
        lower = "coalesce(f.forecast_qty * s.share * s.lower_ratio, f.lower_qty * s.share)"
        upper = "coalesce(f.forecast_qty * s.share * s.upper_ratio, f.upper_qty * s.share)"
    else:
        lower, upper = "f.lower_qty * s.share", "f.upper_qty * s.share"
    fc = con.execute(
        f"""select f.forecast_origin, s.customer_id, f.sku, f.horizon, sum(f.forecast_qty * s.share) as forecast_qty,
                   sum({lower}) as lower_qty, sum({upper}) as upper_qty, sum(f.base_qty * s.share) as base_qty
            from analytics.segment_forecasts f
            join analytics.customer_forecast_shares s using (forecast_origin, segment_id, sku)
            where f.forecast_origin in (select unnest(?::date[]))
            group by all order by all""",
        [evals],
    ).df()
    cust_fc = _forecast_map(fc, ["forecast_origin", "customer_id", "sku"])
    pair_ids = weekly["customer_id"] + "\x1f" + weekly["sku"]
    uniq, codes = np.unique(pair_ids.to_numpy(dtype=str), return_inverse=True)
    matrix = np.zeros((len(uniq), len(weeks)), dtype=np.float32)
    np.add.at(matrix, (codes, weekly["col"].to_numpy()), weekly["qty"].to_numpy())
    pairs = [tuple(u.split("\x1f")) for u in uniq]
    t0 = t_of[evals[0]]
    sample = pick_sample(
        pairs, matrix[:, max(0, t0 - 25) : t0 + 1].sum(axis=1), args.customer_top, args.customer_random
    )
    index = {p: i for i, p in enumerate(pairs)}

    def records(only: set | None) -> Iterator[dict]:
        for o in evals:
            t = t_of[o]
            active = np.flatnonzero(matrix[:, : t + H + 1].any(axis=1))
            keys = {pairs[i] for i in active} | {(c, s) for (oo, c, s) in cust_fc if oo == o}
            for key in sorted(keys):
                if only is not None and key not in only:
                    continue
                row = matrix[index[key]].astype(float) if key in index else np.zeros(len(weeks))
                yield _record(key, row, t, cust_fc.get((o, *key), (None, None)))

    return {"sample": list(records(sample)), "all": lambda: records(None), "n_sample": len(sample)}


def pick_sample(keys: list, volume: np.ndarray, top: int, n_random: int) -> set:
    """The ``top`` keys by volume plus ``n_random`` others with volume > 0 (seed 0)."""
    order = np.argsort(-volume, kind="stable")
    chosen = [keys[i] for i in order[:top] if volume[i] > 0]
    rest = [keys[i] for i in order[top:] if volume[i] > 0]
    if rest and n_random:
        rng = np.random.default_rng(0)
        chosen += [rest[i] for i in sorted(rng.choice(len(rest), size=min(n_random, len(rest)), replace=False))]
    return set(chosen)


def _forecast_map(frame: pd.DataFrame, keys: list[str]) -> dict:
    """{(origin, *key): ((point, lower, upper), base triple or None)} over horizons
    1..H (``keys`` starts with forecast_origin; every key has each horizon once)."""
    frame = frame[frame["horizon"] <= H].sort_values([*keys, "horizon"], kind="mergesort")
    n = len(frame) // H
    if len(frame) % H or not (frame["horizon"].to_numpy().reshape(n, H) == np.arange(1, H + 1)).all():
        raise ValueError(f"forecast rows of {keys} do not hold horizons 1..{H} once per key")
    origins = pd.to_datetime(frame["forecast_origin"]).dt.date.to_numpy()[::H]
    key_values = [frame[k].to_numpy()[::H] for k in keys[1:]]
    point, lower, upper, base = (
        frame[c].to_numpy(dtype=float).reshape(n, H) for c in ("forecast_qty", "lower_qty", "upper_qty", "base_qty")
    )
    nan = np.full(H, np.nan)
    out = {}
    for i in range(n):
        base_triple = None if np.isnan(base[i]).any() else (base[i], nan, nan)
        out[(origins[i], *(v[i] for v in key_values))] = ((point[i], lower[i], upper[i]), base_triple)
    return out


def _record(key, row: np.ndarray, t: int, forecasts: tuple) -> dict:
    """History from the first week with demand to column ``t`` and the next H weeks."""
    nonzero = np.flatnonzero(row[: t + 1] > 0)
    y = row[nonzero[0] : t + 1].astype(float) if nonzero.size else np.zeros(0)
    published, base = forecasts
    return {
        "key": key,
        "y": y,
        "actual": row[t + 1 : t + 1 + H].astype(float),
        "restock": published,
        "restock_base": base,
    }


# --------------------------------------------------------------------------- PBS


def run_pbs(args) -> dict:
    """PBS immune sera (monthly): Restock's model selection and the baselines on the total."""
    from restock.forecasting.models import SARIMAX_CALENDAR
    from restock.forecasting.selection import candidates_for, select_and_forecast
    from restock.segmentation.product_classes import classify_demand

    frame = pd.read_csv(REAL / "pbs_immune_sera_monthly.csv")
    frame["month"] = pd.to_datetime(frame["Month"], format="%Y %b")
    y_all = frame["Scripts"].to_numpy(dtype=float)
    months = [d.date() for d in frame["month"]]
    last = int(np.flatnonzero(y_all > 0)[-1]) + 1  # cut at the last month with demand
    y_all, months = y_all[:last], months[:last]
    k, h = args.origins, H
    records = []
    started = time.perf_counter()
    for i in range(k):
        end = last - h - (k - 1 - i)  # training = months [0, end); test = the next h months
        train = y_all[:end]
        klass = classify_demand(train)
        names = [n for n in candidates_for(klass, train.size) if n != SARIMAX_CALENDAR]
        result = select_and_forecast(train, months[:end], h, demand_class=klass, season=12, candidates=names, level=0.8)
        fc = result.forecast
        published = tuple(np.asarray(v, dtype=float) for v in (fc.point, fc.lower, fc.upper))
        records.append(
            {
                "key": "pbs",
                "y": train,
                "actual": y_all[end : end + h],
                "restock": published,
                "restock_base": None,
                "origin": months[end - 1],
                "model": result.model,
            }
        )
    seconds = time.perf_counter() - started
    return {
        "title": "PBS immune sera (monthly, total only)",
        "note": (
            f"{last} months {months[0]:%Y-%m} .. {months[-1]:%Y-%m} (cut at the last month with demand); "
            f"{k} monthly origins {records[0]['origin']:%Y-%m} .. {records[-1]['origin']:%Y-%m}, horizons 1-{h} "
            f"months, season 12; Restock = select_and_forecast (chose "
            + ", ".join(f"{m} {c}" for m, c in Counter(r["model"] for r in records).most_common())
            + f"; {seconds:.1f} s), not the weekly pipeline"
        ),
        "season": 12,
        "customers": False,
        "methods": tuple(m for m in METHODS if m != "restock_base"),  # no reconciliation: no base forecast
        "levels": {"total": {"sample": records, "all": None}},
    }


# --------------------------------------------------------------------------- report


def score_levels(result: dict, workers: int) -> None:
    season = result["season"]
    result["scores"] = {}
    for level, parts in result["levels"].items():
        methods = result.get("methods", METHODS)
        entry = {"sample": evaluate(parts["sample"], methods, season, workers, f"{level}, all methods")}
        if parts.get("all") is not None:
            entry["all"] = evaluate(parts["all"](), CHEAP, season, workers, f"{level}, all series, cheap methods")
            entry["n_sample"] = parts["n_sample"]
        result["scores"][level] = entry
    result.pop("levels")


def fmt(x: float | None, pct: bool = False, signed: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    if pct:
        return f"{100 * x:+.1f}%" if signed else f"{100 * x:.1f}%"
    return f"{x:.3f}"


def table(result: dict) -> list[str]:
    lines = [
        "| level | series (× origins) | method | WAPE | MASE | RMSSE | MASE int. | bias | cov 80 % "
        "| WAPE / AutoETS | WAPE / s-naive | failed fits |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in LEVELS:
        if level not in result["scores"]:
            continue
        entry = result["scores"][level]
        parts = [("sample", entry["sample"])]
        if "all" in entry:
            parts.append(("all", entry["all"]))
        for part, scores in parts:
            label = level if part == "sample" else f"{level}, all series"
            if level == "sku" and result.get("sku_is_bottom"):
                label = "sku = segment × sku"
            if part == "sample" and "all" in entry:
                label = f"{level}, sample"
            n = f"{len(scores.keys)} ({scores.records}; int. {scores.intermittent})"
            ets = scores.row("AutoETS")["wape"] if "AutoETS" in scores.methods else float("nan")
            snaive = scores.row("seasonal_naive")["wape"]
            for method in scores.methods:
                r = scores.row(method)
                lines.append(
                    f"| {label} | {n} | {method} | {fmt(r['wape'])} | {fmt(r['mase'])} | {fmt(r['rmsse'])} "
                    f"| {fmt(r['mase_int'])} | {fmt(r['bias'], True, True)} | {fmt(r['coverage'], True)} "
                    f"| {fmt(r['wape'] / ets if ets > 0 else float('nan'))} "
                    f"| {fmt(r['wape'] / snaive if snaive > 0 else float('nan'))} | {r['failed'] or ''} |"
                )
                label, n = "", ""
    return lines


def target_checks(result: dict) -> list[str]:
    """The issue's targets for Restock on this data set, level by level."""
    out = []
    for level in LEVELS:
        if level not in result["scores"]:
            continue
        s = result["scores"][level]["sample"]
        r, ets, sn, sba = (s.row(m) for m in ("restock", "AutoETS", "seasonal_naive", "CrostonSBA"))
        checks = []
        ratio_ets = r["wape"] / ets["wape"] if ets["wape"] > 0 else float("nan")
        ratio_sn = r["wape"] / sn["wape"] if sn["wape"] > 0 else float("nan")
        checks.append(f"WAPE/AutoETS {fmt(ratio_ets)} ≤ 0.9 {_ok(ratio_ets <= 0.9)}")
        checks.append(f"WAPE/s-naive {fmt(ratio_sn)} ≤ 0.85 {_ok(ratio_sn <= 0.85)}")
        if s.intermittent:
            checks.append(
                f"MASE int. {fmt(r['mase_int'])} vs CrostonSBA {fmt(sba['mase_int'])} "
                f"{_ok(r['mase_int'] <= sba['mase_int'])}"
            )
        if level in ("total", "sku"):
            checks.append(f"|bias| {fmt(abs(r['bias']), True)} ≤ 3 % {_ok(abs(r['bias']) <= 0.03)}")
        if level in ("segment × sku", "customer × sku") or (level == "sku" and result.get("sku_is_bottom")):
            cov = result["scores"][level].get("all", s).row("restock")["coverage"]
            checks.append(f"coverage (all series) {fmt(cov, True)} in 75-85 % {_ok(0.75 <= cov <= 0.85)}")
        out.append(f"- {level}: " + "; ".join(checks))
    if "ts_share" in result:
        ok = result["ts_share"] >= 0.9
        out.append(
            f"- review on {result['review_day']}: {fmt(result['ts_share'], True)} of {result['ts_series']} segment × SKU "
            f"series with |TS| ≤ {result['ts_limit']:g} over the last 13 weeks (target ≥ 90 %) {_ok(ok)}"
        )
    return out


def _ok(flag: bool) -> str:
    return "**met**" if flag else "**missed**"


def describe(result: dict) -> str:
    if "evals" not in result:
        return result["note"]
    evals = result["evals"]
    recon = ", ".join(f"{m} {c}" for m, c in sorted(result["reconciliation"].items()))
    return (
        (f"Data: {result['generator']}. " if result.get("generator") else "")
        + f"{result['lines']:,} order lines, {result['n_customers']:,} customers, {result['n_skus']} SKUs. "
        f"Origins run {result['run_days'][0]} .. {result['run_days'][-1]} ({len(result['run_days'])} weekly, plus "
        f"the grid selection origin they refit from); evaluated {evals[0]} .. {evals[-1]} ({len(evals)} weekly, "
        f"horizons 1-{H}, test weeks {evals[0] + timedelta(days=1)} .. {evals[-1] + timedelta(days=1, weeks=H - 1)} "
        f"(weeks starting)). {result['series_per_origin']:.0f} segment × SKU series per origin; pipeline "
        f"{result['pipeline_seconds']:.0f} s for all origins (evaluated origins "
        f"{min(result['eval_origin_seconds'])}-{max(result['eval_origin_seconds'])} s each), marts "
        f"{result['prep_seconds']:.0f} s, scoring every method {result.get('scoring_seconds', 0):.0f} s. "
        f"Reconciliation chosen on the evaluated origins: {recon}. "
        f"Review on {result['review_day']}: total bias h1 {fmt(result['review_bias_h1'], True, True)}, mean "
        f"interval coverage of the series (h1) {fmt(result['review_coverage_series'], True)}."
        + (f" {result['note']}." if result["note"] else "")
    )


def report(results: dict[str, dict], header: list[str]) -> str:
    out = list(header)
    for result in results.values():
        out.append(f"\n### {result['title']}\n")
        out.append(describe(result) + "\n")
        out.extend(table(result))
        out.append("\nTargets (Restock, sample rows; coverage on all series):")
        out.extend(target_checks(result))
    return "\n".join(out)


def commit_label() -> str:
    def git(*cmd: str) -> str:
        return subprocess.run(["git", *cmd], cwd=ROOT, capture_output=True, text=True, check=False).stdout

    head = git("rev-parse", "--short", "HEAD").strip()
    dirty = [line[3:] for line in git("status", "--porcelain", "--", "restock", "restock.yaml").splitlines()]
    if dirty:
        return f"{head} + uncommitted changes to {', '.join(dirty)}"
    return head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: tiny data, 2 origins, small samples")
    parser.add_argument(
        "--data",
        nargs="+",
        default=None,
        choices=["demo", "demo_sf", "rhythms", "growth", "walmart", "pbs"],
        help="data sets (default: demo demo_sf rhythms walmart pbs)",
    )
    parser.add_argument("--workers", type=int, default=2, help="processes: pipeline pool and baseline fits")
    parser.add_argument("--origins", type=int, default=None, help=f"evaluated origins (default {K}; quick 2)")
    parser.add_argument("--warmup", type=int, default=None, help=f"origins run before them (default {WARMUP})")
    parser.add_argument("--top", type=int, default=None, help="segment × SKU sample: largest series (150)")
    parser.add_argument("--random", type=int, default=None, help="segment × SKU sample: random others (50)")
    parser.add_argument("--customer-top", type=int, default=None, help="customer × SKU sample: largest pairs (50)")
    parser.add_argument("--customer-random", type=int, default=None, help="customer × SKU sample: random (150)")
    parser.add_argument("--work", type=Path, default=Path("/tmp/restock_bench_levels"))
    parser.add_argument("--results", type=Path, default=RESULTS, help="markdown file the section is appended to")
    parser.add_argument("--no-write", action="store_true", help="print only (default for --quick)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args()
    small = args.quick
    args.origins = args.origins or (2 if small else K)
    args.warmup = args.warmup if args.warmup is not None else (2 if small else WARMUP)
    args.top = args.top if args.top is not None else (10 if small else 150)
    args.random = args.random if args.random is not None else (5 if small else 50)
    args.customer_top = args.customer_top if args.customer_top is not None else (5 if small else 50)
    args.customer_random = args.customer_random if args.customer_random is not None else (10 if small else 150)
    data = args.data or ["demo", "demo_sf", "rhythms", "walmart", "pbs"]
    args.work.mkdir(parents=True, exist_ok=True)

    import statsforecast

    t_start = time.perf_counter()
    stamp = datetime.now(UTC)
    header = [
        f"# Forecast accuracy per level (issue 11 targets; measured {stamp:%Y-%m-%d %H:%M} UTC, commit {commit_label()})",
        "",
        f"Command: `{' '.join(['.venv-bench/bin/python', 'benchmarks/bench_levels.py', *sys.argv[1:]])}` "
        f"({platform.node()}, {os.cpu_count()} cores shared with other jobs, python {platform.python_version()}, "
        f"statsforecast {statsforecast.__version__}). Same rolling origins for every method: the last "
        f"{args.origins} weekly origins whose {H} test weeks are complete (monthly for PBS), horizons 1-{H}; "
        f"{args.warmup} weekly origins run before them. Definitions: the docstring of benchmarks/bench_levels.py. "
        f"Bottom-level samples: segment × SKU top {args.top} + {args.random} random, customer × SKU top "
        f"{args.customer_top} + {args.customer_random} random (seed 0); 'all series' rows: Restock and the cheap "
        "baselines on every series. MASE int. = MASE over intermittent/lumpy series-origins; 'series (× origins)' "
        "= distinct series (series-origins scored; int. = of which intermittent/lumpy).",
    ]
    print("\n".join(header), flush=True)
    import_restock()
    from restock.config import load_config
    from restock.forecasting.panel import make_pool

    config = load_config(ROOT / "restock.yaml").override({"forecasting.workers": args.workers})
    if config.forecasting.horizon_weeks < H:
        raise SystemExit(f"forecasting.horizon_weeks {config.forecasting.horizon_weeks} < {H}")
    pool = make_pool(config.forecasting.workers) if any(d != "pbs" for d in data) else None
    if pool is not None:
        for future in [pool.submit(import_restock) for _ in range(args.workers)]:
            future.result()
    warm_up()
    results: dict[str, dict] = {}
    all_windows = windows(small, args.origins)
    # Every generated set first: one generator version for the whole run.
    landings = {}
    for name in data:
        window = all_windows.get(name)
        if window is not None and window.data != "walmart":
            landings[name] = generate(window.data, window.generator_args, args.work)
    for name, landing in landings.items():
        manifest = json.loads((landing / "_demo_manifest.json").read_text(encoding="utf-8"))
        print(f"  {name}: generator version {manifest.get('version')}, {json.dumps(manifest.get('config'))}")
    try:
        for name in data:
            t0 = time.perf_counter()
            print(f"\n## {name}", flush=True)
            if name == "pbs":
                result = run_pbs(args)
            else:
                result = run_pipeline(all_windows[name], args, args.work, config, pool, landings.get(name))
            t1 = time.perf_counter()
            score_levels(result, args.workers)
            result["scoring_seconds"] = time.perf_counter() - t1
            result["seconds"] = time.perf_counter() - t0
            results[name] = result
            print(report({name: result}, []), flush=True)
            print(f"  ({name}: {result['seconds']:.0f} s)", flush=True)
    finally:
        if pool is not None:
            pool.shutdown()
    total = time.perf_counter() - t_start
    text = report(results, header) + f"\n\nWhole run: {total / 60:.1f} min wall.\n"
    print("\n" + text)
    if args.json:
        args.json.write_text(json.dumps(_jsonable(results), indent=1, default=str))
    if not (args.no_write or small):
        with args.results.open("a", encoding="utf-8") as handle:
            handle.write("\n" + text)
        print(f"appended to {args.results}")


def _jsonable(results: dict) -> dict:
    out = {}
    for name, result in results.items():
        entry = {k: v for k, v in result.items() if k != "scores"}
        entry["scores"] = {
            level: {part: {m: s.row(m) for m in s.methods} for part, s in parts.items() if isinstance(s, Scores)}
            for level, parts in result["scores"].items()
        }
        out[name] = entry
    return out


if __name__ == "__main__":
    main()
