"""Promotions as a regressor: forecast accuracy with and without it on the demo (issue 11, item 5).

    .venv/bin/python benchmarks/bench_promotions.py                     # SKU and segment × SKU, seeds 42 7 11
    .venv/bin/python benchmarks/bench_promotions.py --levels sku --seeds 42
    .venv/bin/python benchmarks/bench_promotions.py --compare /tmp/restock_bench_promotions/*.json

Cost (one process, 2 shared cores): SKU level ~1.5 min per seed and variant with the
default models, ~4 min with SARIMAX forced; segment × SKU ~3 min to build the marts
and ~8-10 min per variant (850 series × 55 origins).

For each demo set (``restock-demo-data --scale demo --seed S``: 2,000 customers,
150 SKUs, 2024-2025; its promotions lift a SKU's daily demand by ×(1 + 0.06 ×
discount_pct) and are announced 14 days ahead) the script reads the order lines and
the promotion files (each file a snapshot, dated by its name) and forecasts, at every
Sunday origin from ``--first`` to ``--last``, horizons 1..8, the series of the SKUs
that have a promotion in the set (the other series are untouched by the regressor:
byte-identical forecasts, tests/forecasting/test_promotions.py). It runs the real
code: :func:`restock.forecasting.panel.build_series` and
:func:`~restock.forecasting.panel.forecast_panel` with restock.yaml's forecasting
settings, the selection origin on the 26-week grid then weekly refits, as the
pipeline does; with promotions the series go through
:func:`restock.forecasting.promotions.attach_promotions` first (point in time at the
origin), as the pipeline's ``origins`` module does (after the SKU series are added).

Levels: ``sku`` (all customers' demand of a SKU) and ``segment_sku`` (the pipeline's
series: customer segments of each origin from marts built as
benchmarks/bench_lifecycle_demand.py builds them, then ``origins._series``).

Variants: ``none`` (today), ``discount`` and ``days`` (the two weekly regressors of
:mod:`restock.forecasting.promotions`; ``*_uniform``: each day 1/7 of the week and
public holidays counted, instead of the weekday profile of demand with holidays at
0), each with the pipeline's default models
(``default``: the combination for smooth series, selection otherwise) and with
``sarimax_calendar`` forced on every series (the regressor's own effect, undiluted by
the combination's two other components, which do not see it). ``--adjusted`` adds,
for the default models, an estimate of the combination with the promotion effect in
all three components (+ 2/3 of the SARIMAX component's promotion effect).

Printed per level and variant, over (origin, horizon, series) with the week's actual
demand (``requested_qty``): WAPE and relative bias (Σ(f − a) / Σa) of

- ``promo known``: weeks under promotion whose promotion was announced on or before
  the origin, on series that had the regressor (≥ ``min_promo_weeks`` promotion weeks
  in their history) — where the regressor can act;
- ``promo first``: promotion weeks known at the origin on series without enough
  promotion history (no regressor: the rule leaves them alone);
- ``promo unknown``: promotion weeks announced after the origin (nothing can know);
- ``no promo``: the other weeks of the same series (the regressor must not hurt);
- ``all``: every week of these series.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

HORIZON = 8


def generate(seed: int, work: Path) -> Path:
    out = work / f"landing_demo_seed{seed}"
    cmd = [sys.executable, "-m", "restock.demo", "--scale", "demo", "--seed", str(seed), "--out", str(out)]
    subprocess.run([*cmd, "--quiet", "--if-missing"], check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return out


def read_promotions(landing: Path):
    """(rows with snapshot_date, snapshot dates) of the promotion files, as staging has them."""
    import pandas as pd

    frames, dates = [], []
    for path in sorted((landing / "promotions").glob("*.parquet")):
        day = date.fromisoformat(path.name[:10])
        frame = pd.read_parquet(path)
        frames.append(frame.assign(snapshot_date=day))
        dates.append(day)
    rows = pd.concat(frames, ignore_index=True)
    rows["discount_pct"] = rows["discount_pct"].astype(float)
    return rows[["sku", "start_date", "end_date", "discount_pct", "snapshot_date"]], dates


def sundays(first: date, last: date) -> list[date]:
    return [first + timedelta(weeks=k) for k in range((last - first).days // 7 + 1)]


def daily_demand(landing: Path):
    import duckdb
    import pandas as pd

    frame = (
        duckdb.connect()
        .execute(
            f"""select order_date::date as order_date, sum(requested_quantity::double) as qty
            from read_csv('{landing}/orders/*.csv', union_by_name = true,
                          types = {{'customer_id': 'VARCHAR', 'sku': 'VARCHAR', 'status': 'VARCHAR'}})
            where status = 'confirmed' group by all order by all"""
        )
        .df()
    )
    frame["order_date"] = pd.to_datetime(frame["order_date"]).dt.date
    return frame


class SkuSeries:
    """All customers' weekly demand of each SKU."""

    def __init__(self, landing: Path):
        import duckdb
        import pandas as pd

        self.history = (
            duckdb.connect()
            .execute(
                f"""select sku, date_trunc('week', order_date::date)::date as week_start,
                       sum(requested_quantity::double) as qty
                from read_csv('{landing}/orders/*.csv', union_by_name = true,
                              types = {{'customer_id': 'VARCHAR', 'sku': 'VARCHAR', 'status': 'VARCHAR'}})
                where status = 'confirmed' group by all order by all"""
            )
            .df()
        )
        weeks = pd.to_datetime(self.history["week_start"]).dt.date
        self.actual = {((k,), w): q for k, w, q in zip(self.history["sku"], weeks, self.history["qty"], strict=True)}

    def at(self, origin: date) -> tuple[list[dict], dict]:
        from restock.forecasting.panel import build_series

        return build_series(self.history, origin, ("sku",)), self.actual


class SegmentSeries:
    """The pipeline's segment × SKU series of an origin (``origins._series``), from
    marts built as bench_lifecycle_demand.py builds them; the actual demand of a
    series in the weeks after the origin is that of the origin's population."""

    def __init__(self, landing: Path, days: list[date], config, work: Path, seed: int):
        import duckdb
        import yaml
        from bench_lifecycle_demand import build_marts, demo_frames

        from restock.segmentation import tables as segments

        lines, snaps = demo_frames(landing, days)
        tiers = yaml.safe_load((ROOT / "restock.yaml").read_text(encoding="utf-8"))["tiers"]
        db = work / f"promo_seed{seed}.duckdb"
        build_marts(db, lines, snaps, tiers)
        self.con = duckdb.connect(str(db))
        segments.ensure_tables(self.con)  # empty: each origin's segments are computed from the marts
        self.config = config

    def at(self, origin: date) -> tuple[list[dict], dict]:
        import pandas as pd

        from restock.forecasting import origins

        population = origins._series_members(origins._members(self.con, origin, self.config))
        tasks = origins._series(self.con, origin, population, self.config)
        self.con.register("_population", population)
        after = self.con.execute(
            """select p.segment_id, w.sku, w.week_start, sum(w.requested_qty)::double as qty
               from marts.customer_sku_weekly_demand w join _population p using (customer_id)
               where w.week_start > ? and w.week_start <= ? group by all""",
            [origin, origin + timedelta(weeks=HORIZON)],
        ).df()
        self.con.unregister("_population")
        weeks = pd.to_datetime(after["week_start"]).dt.date
        actual = {
            ((g, k), w): q for g, k, w, q in zip(after["segment_id"], after["sku"], weeks, after["qty"], strict=True)
        }
        return tasks, actual


def promo_effect(task: dict, settings):
    """The SARIMAX-with-calendar forecast with the task's promotions minus the same
    with no promotion ahead: the promotion effect the model estimates, per horizon."""
    import numpy as np

    from restock.forecasting.models import ModelFitError, fit_forecast
    from restock.forecasting.panel import _calendar
    from restock.forecasting.promotions import with_promo

    y, h = task["y"], settings.horizon_weeks
    x = with_promo(_calendar(task["first_week"], y.size + h), task["promo"])
    off = x.copy()
    off[y.size :, -1] = 0.0
    try:
        on_fc = fit_forecast("sarimax_calendar", y, h, exog_history=x[: y.size], exog_future=x[y.size :])
        off_fc = fit_forecast("sarimax_calendar", y, h, exog_history=off[: y.size], exog_future=off[y.size :])
    except ModelFitError:
        return np.zeros(h)
    return on_fc.point - off_fc.point


def run(level: str, seed: int, args, config) -> list[dict]:
    import numpy as np
    import pandas as pd

    from restock.forecasting.panel import forecast_panel, selection_origin_for
    from restock.forecasting.promotions import attach_promotions, weekday_share_of, weekly_promotions

    settings = config.forecasting
    landing = generate(seed, args.work)
    promos, snapshot_dates = read_promotions(landing)
    promoted = set(promos["sku"])
    origins = sundays(args.first, args.last)
    selection_origins = sorted({selection_origin_for(o, settings) for o in origins})
    needed = sorted(set(origins) | set(selection_origins))

    daily = daily_demand(landing)

    def weekday_share_at(origin: date):
        # the weekday profile of the demand of the last 52 weeks up to the origin
        part = daily[(daily["order_date"] <= origin) & (daily["order_date"] > origin - timedelta(weeks=52))]
        return weekday_share_of([d.isoweekday() for d in part["order_date"]], part["qty"].tolist())

    started = time.perf_counter()
    source = SkuSeries(landing) if level == "sku" else SegmentSeries(landing, needed, config, args.work, seed)
    # Ground truth: the promotion weeks of the whole set (the last snapshot knows them all).
    end = args.last + timedelta(weeks=HORIZON + 1)
    first_monday = date(2024, 1, 1)
    n_weeks = (end - first_monday).days // 7
    truth = weekly_promotions(promos, end, first_monday, n_weeks, "days", snapshot_dates)
    series_at, known_at, eligible_at = {}, {}, {}
    for origin in needed:
        tasks, actual = source.at(origin)
        tasks = [t for t in tasks if t["key"][-1] in promoted]
        series_at[origin] = (tasks, actual)
        # what is known on the origin, and the series the rule gives the regressor
        known_at[origin] = weekly_promotions(promos, origin, first_monday, n_weeks, "days", snapshot_dates)
        eligible_at[origin] = {
            t["key"]
            for t in attach_promotions(tasks, promos, origin, HORIZON, args.min_promo_weeks, "days", snapshot_dates)
            if "promo" in t
        }
    prep = time.perf_counter() - started

    results = []
    variants = [(promo, model) for model in args.models for promo in args.variants]
    for promo, model in variants:
        started = time.perf_counter()
        rows = []
        choices_at: dict[date, dict] = {}
        attached_series = 0
        for origin in needed:
            tasks, actual = series_at[origin]
            if promo != "none":
                weight, _, uniform = promo.partition("_")
                tasks = attach_promotions(
                    tasks,
                    promos,
                    origin,
                    settings.horizon_weeks,
                    args.min_promo_weeks,
                    weight,  # type: ignore[arg-type]
                    snapshot_dates,
                    weekday_share=None if uniform else weekday_share_at(origin),
                    skip_holidays=not uniform,
                )
            known, eligible = known_at[origin], eligible_at[origin]
            if model == "sarimax_calendar":
                choices = {t["key"]: {"model": "sarimax_calendar", "params": {}} for t in tasks}
            else:
                sel = selection_origin_for(origin, settings)
                choices = None if origin == sel else choices_at.get(sel, {})
            forecasts, selected = forecast_panel(tasks, origin, settings, choices, None)
            if choices is None:
                choices_at[origin] = {
                    key: {"model": m, "params": json.loads(p or "{}"), "fallback": bool(f)}
                    for key, m, p, f in selected[["key", "model", "params_json", "fallback_reason"]].itertuples(
                        index=False
                    )
                }
            if origin not in origins:
                continue
            with_promo = {t["key"] for t in tasks if "promo" in t}
            attached_series += len(with_promo)
            # What the combination would forecast if all three components saw the
            # promotion: + 2/3 of the SARIMAX component's promotion effect (its forecast
            # with the known promotions minus with none ahead). An estimate, for the
            # report; the combination itself is models.py's.
            adjust = {}
            if args.adjusted and model == "default" and promo != "none":
                chosen = dict(zip(forecasts["key"], forecasts["model"], strict=False))
                for t in tasks:
                    if "promo" in t and chosen.get(t["key"]) == "combination" and t["promo"][len(t["y"]) :].any():
                        adjust[t["key"]] = 2.0 / 3.0 * promo_effect(t, settings)
            columns = ["key", "horizon", "period_start", "forecast_qty", "model"]
            for key, h, week, fc, fitted in forecasts[columns].itertuples(index=False):
                i = (week - first_monday).days // 7
                sku = key[-1]
                ran = sku in truth and truth[sku][i] > 0
                was_known = sku in known and known[sku][i] > 0
                a = actual.get((key, week), 0.0)
                fc_adj = fc + adjust[key][h - 1] if key in adjust else fc
                rows.append((origin, key, h, week, fc, fc_adj, a, ran, was_known, key in eligible, fitted))
        frame = pd.DataFrame(
            rows,
            columns=["origin", "key", "h", "week", "fc", "fc_adj", "actual", "ran", "known", "attached", "fitted"],
        )
        # only weeks inside the data (the demo's last complete week)
        frame = frame[frame["week"] <= args.data_end]
        if args.dump:
            dump = frame.assign(key=frame["key"].astype(str))
            dump.to_parquet(args.work / f"rows_{level}_{seed}_{promo}_{model}.parquet", index=False)
        groups = {
            "promo known": frame["ran"] & frame["known"] & frame["attached"],
            "promo first": frame["ran"] & frame["known"] & ~frame["attached"],
            "promo unknown": frame["ran"] & ~frame["known"],
            "no promo": ~frame["ran"],
            "all": np.ones(len(frame), dtype=bool),
        }
        result = {
            "level": level,
            "seed": seed,
            "variant": promo,
            "model": model,
            "seconds": round(time.perf_counter() - started, 1),
            "prep_seconds": round(prep, 1),
            "series": int(frame["key"].nunique()),
            "series_x_origins_with_regressor": attached_series,
        }
        for name, mask in groups.items():
            part = frame[mask]
            a, f = part["actual"].to_numpy(float), part["fc"].to_numpy(float)
            result[name] = {
                "n": len(part),
                "actual": round(float(a.sum()), 1),
                "abs_err": round(float(np.abs(f - a).sum()), 1),
                "err": round(float((f - a).sum()), 1),
            }
        results.append(result)
        print(json.dumps(result), flush=True)
        if args.adjusted and model == "default" and promo != "none":
            adjusted = {**result, "model": "default, promo in all components (estimate)"}
            for name, mask in groups.items():
                part = frame[mask]
                a, f = part["actual"].to_numpy(float), part["fc_adj"].to_numpy(float)
                adjusted[name] = {
                    "n": len(part),
                    "actual": round(float(a.sum()), 1),
                    "abs_err": round(float(np.abs(f - a).sum()), 1),
                    "err": round(float((f - a).sum()), 1),
                }
            results.append(adjusted)
            print(json.dumps(adjusted), flush=True)
    return results


def report(results: list[dict]) -> str:
    """Pooled over seeds: WAPE / bias per level × model × variant and week group."""
    names = ["promo known", "promo first", "promo unknown", "no promo", "all"]
    out = []
    for level in dict.fromkeys(r["level"] for r in results):
        seeds = sorted({r["seed"] for r in results if r["level"] == level})
        out.append(f"\n{level} (seeds {', '.join(map(str, seeds))}; horizons 1-{HORIZON}; WAPE / bias)")
        out.append("| model | regressor | " + " | ".join(f"{n} (n)" for n in names) + " | s |")
        out.append("|---|---|" + "---|" * (len(names) + 1))
        for model in dict.fromkeys(r["model"] for r in results):
            for variant in dict.fromkeys(r["variant"] for r in results):
                group = [r for r in results if r["level"] == level and r["model"] == model and r["variant"] == variant]
                if not group:
                    continue
                cells = []
                for name in names:
                    a = sum(r[name]["actual"] for r in group)
                    if a <= 0:
                        cells.append("–")
                        continue
                    wape = sum(r[name]["abs_err"] for r in group) / a
                    bias = sum(r[name]["err"] for r in group) / a
                    cells.append(f"{wape:.3f} / {bias:+.3f} ({sum(r[name]['n'] for r in group)})")
                seconds = sum(r["seconds"] for r in group)
                out.append(f"| {model} | {variant} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", nargs="+", default=["sku", "segment_sku"], choices=["sku", "segment_sku"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[42, 7, 11])
    parser.add_argument(
        "--variants",
        nargs="+",
        default=["none", "discount", "days"],
        choices=["none", "discount", "days", "discount_uniform", "days_uniform"],
    )
    parser.add_argument(
        "--models", nargs="+", default=["default", "sarimax_calendar"], choices=["default", "sarimax_calendar"]
    )
    parser.add_argument("--min-promo-weeks", type=int, default=2)
    parser.add_argument("--first", type=date.fromisoformat, default=date(2024, 12, 8), help="first origin (a Sunday)")
    parser.add_argument("--last", type=date.fromisoformat, default=date(2025, 12, 21), help="last origin")
    parser.add_argument("--data-end", type=date.fromisoformat, default=date(2025, 12, 22), help="last week scored")
    parser.add_argument("--work", type=Path, default=Path("/tmp/restock_bench_promotions"))
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default WORK/results.json)")
    parser.add_argument(
        "--adjusted",
        action="store_true",
        help="also estimate the combination with the promotion effect in all three components (2 fits per series)",
    )
    parser.add_argument("--dump", action="store_true", help="write the scored rows to WORK/rows_*.parquet")
    parser.add_argument("--compare", nargs="+", type=Path, help="print these result files")
    args = parser.parse_args()
    if args.compare:
        print(report([r for path in args.compare for r in json.loads(path.read_text())]))
        return
    from restock.config import load_config

    config = load_config(ROOT / "restock.yaml")
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for level in args.levels:
        for seed in args.seeds:
            results.extend(run(level, seed, args, config))
    (args.out or args.work / "results.json").write_text(json.dumps(results, indent=1))
    print(report(results))


if __name__ == "__main__":
    main()
