"""Does the forecast cover all the demand that arrives? (issue 11, "no demand lost")

    .venv/bin/python benchmarks/bench_lifecycle_demand.py                       # every data set
    .venv/bin/python benchmarks/bench_lifecycle_demand.py --data tiny rhythms
    .venv/bin/python benchmarks/bench_lifecycle_demand.py --code /tmp/head --label before
    .venv/bin/python benchmarks/bench_lifecycle_demand.py --compare before.json after.json

For each data set the script builds the marts the forecast reads (``marts.order_lines``,
``marts.customer_sku_weekly_demand``, ``marts.customers`` on the days it needs) in a
DuckDB file of its own, then on every as-of origin runs the real code: the customer
segments of the origin (:func:`restock.segmentation.tables.customer_segments_for_day`)
and the forecasts (:func:`restock.forecasting.origins.run_forecasts`, one selection
origin plus weekly refits, ``forecasting.workers`` processes). It prints, over the
origins and horizons 1..8:

- ``sum fc / arrived``: Σ segment forecasts ÷ Σ demand (``requested_qty``) of *every*
  customer in the same weeks, and the same for the customer forecasts (Σ segment
  forecast × share: what the replenishment plan sizes stock on);
- ``WAPE`` / ``bias`` of the total per origin × horizon (total forecast vs total demand);
- the lifecycle on the last origin (share of the customers with an order that are
  churned) and, over the origins, the share of the customers churned on an origin
  that ordered again within 8 weeks, and the share of the next 8 weeks' demand that
  came from customers without a customer share (churned / closed / unknown);
- customer × SKU WAPE at horizon 1 (every customer's demand counted).

Data sets: ``tiny`` and ``demo`` (``restock-demo-data`` presets as they are),
``rhythms`` (the demo generator's opt-in options: customers ordering every 1, 2, 4 or
8 weeks, shops lapsing 6-30 weeks and coming back, more new shops, a market trend),
``growth`` (weekly buyers only, fewer shops, demand growing ~12 % a year),
and ``cdnow`` — the real CDNOW purchase history (23,570 customers, one product
line, 1997-01 .. 1998-06, shipped as ``lifetimes/datasets/CDNOW_master.txt`` by the
MIT-licensed ``lifetimes`` package; pass ``--cdnow PATH`` or have the package
installed). Its dates are moved 28 years later (same weekdays) because the calendar
regressors know holidays from 2015 on only; every customer is one product ``CD``,
channel and region unknown, tier derived from volume as the marts do.

Simplifications against the real pipeline (same for every variant, so before/after
compare): the marts are built here, not by dbt (same columns and rules: snapshot in
force, derived tier from the trailing ``tiers.window_weeks`` weeks with the new-shop
cap), weekly demand holds only weeks with orders (the series fill zeros anyway).

``--code DIR`` imports ``restock`` from DIR (e.g. ``git archive HEAD | tar -x -C DIR``)
with DIR's restock.yaml, to measure the code before a change; the data sets are
always generated with this tree's generator. Results go to ``--out`` as JSON too;
``--compare`` prints several result files side by side.
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

# name -> restock-demo-data arguments, first origin (a selection origin), last origin
DEMO_SETS: dict[str, tuple[list[str], date, date]] = {
    "tiny": (["--scale", "tiny"], date(2024, 3, 24), date(2024, 3, 24)),
    "demo": (["--scale", "demo"], date(2025, 6, 8), date(2025, 11, 2)),
    "rhythms": (
        [
            "--scale",
            "demo",
            "--customers",
            "1500",
            "--skus",
            "80",
            "--rhythms",
            "1,2,4,8",
            "--lapse-rate",
            "0.25",
            "--open-rate",
            "0.15",
            "--trend",
            "0.10",
        ],
        date(2025, 6, 8),
        date(2025, 11, 2),
    ),
    # weekly buyers only (the demo preset before it got irregular buyers), in a market
    # that grows (--trend 0.15 on every SKU against the shops closing: demand +12 % year
    # on year): do the forecasts follow a trend up?
    "growth": (
        [
            "--scale",
            "demo",
            "--customers",
            "1500",
            "--skus",
            "80",
            "--rhythms",
            "1",
            "--lapse-rate",
            "0",
            "--trend",
            "0.15",
        ],
        date(2025, 6, 8),
        date(2025, 11, 2),
    ),
}
CDNOW_ORIGINS = (date(2025, 12, 7), date(2026, 5, 3))  # 1997-12-07 .. 1998-05-03 moved 28 years
CDNOW_SHIFT_YEARS = 28  # 28 years later every date falls on the same weekday
HORIZON = 8


# --------------------------------------------------------------------------- data


def generate_demo(name: str, work: Path) -> Path:
    args, _, _ = DEMO_SETS[name]
    out = work / f"landing_{name}"
    cmd = [sys.executable, "-m", "restock.demo", *args, "--out", str(out), "--quiet", "--if-missing"]
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    return out


def demo_frames(landing: Path, days: list[date]):
    """(order lines, customer snapshots on ``days``) of a generated landing folder."""
    import duckdb
    import pandas as pd

    con = duckdb.connect()
    lines = con.execute(
        f"""select customer_id::varchar as customer_id, sku, order_date::date as order_date,
                   quantity::double as ordered_qty, requested_quantity::double as requested_qty,
                   amount::double as line_amount
            from read_csv('{landing}/orders/*.csv', union_by_name = true,
                          types = {{'customer_id': 'VARCHAR', 'sku': 'VARCHAR', 'status': 'VARCHAR'}})
            where status = 'confirmed'"""
    ).df()
    con.close()
    files = sorted((landing / "customers").glob("*.csv"))
    file_days = [date.fromisoformat(f.name[:10]) for f in files]
    snapshots = []
    for day in days:
        in_force = max(i for i, d in enumerate(file_days) if d <= day)
        snap = pd.read_csv(files[in_force], encoding="gbk", dtype={"customer_id": str})
        snapshots.append(
            pd.DataFrame(
                {
                    "as_of_date": day,
                    "customer_id": snap["customer_id"],
                    "crm_tier": pd.to_numeric(snap["tier"]).astype("Int64"),
                    "channel": snap["channel"],
                    "region": snap["region"],
                    "customer_status": snap["status"],
                    "opened_on": pd.to_datetime(snap["opened_on"]).dt.date,
                    "closed_on": pd.to_datetime(snap["closed_on"]).dt.date,
                }
            )
        )
    return lines, pd.concat(snapshots, ignore_index=True)


def find_cdnow(path: Path | None) -> Path:
    if path is not None:
        return path
    import importlib.util

    spec = importlib.util.find_spec("lifetimes")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("cdnow: pass --cdnow PATH to CDNOW_master.txt (from the lifetimes package)")
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "CDNOW_master.txt"


def cdnow_frames(path: Path, days: list[date]):
    import pandas as pd

    raw = pd.read_csv(path, sep=r"\s+", header=0, names=["c", "d", "q", "v"], dtype={"c": str, "d": str})
    when = pd.to_datetime(raw["d"], format="%Y%m%d") + pd.DateOffset(years=CDNOW_SHIFT_YEARS)
    lines = pd.DataFrame(
        {
            "customer_id": "C" + raw["c"],
            "sku": "CD",
            "order_date": when.dt.date,
            "ordered_qty": raw["q"].astype(float),
            "requested_qty": raw["q"].astype(float),
            "line_amount": raw["v"].astype(float),
        }
    )
    first = lines.groupby("customer_id")["order_date"].min()
    snapshots = []
    for day in days:
        known = first[first <= day]
        snapshots.append(
            pd.DataFrame(
                {
                    "as_of_date": day,
                    "customer_id": known.index,
                    "crm_tier": pd.array([None] * len(known), dtype="Int64"),
                    "channel": None,
                    "region": None,
                    "customer_status": "active",
                    "opened_on": None,
                    "closed_on": None,
                }
            )
        )
    return lines, pd.concat(snapshots, ignore_index=True)


def build_marts(path: Path, lines, snapshots, tiers: dict) -> None:
    """The marts the segments and forecasts read, for the snapshot days only."""
    import duckdb

    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.register("_lines", lines)
    con.execute(
        """create table marts.order_lines as
           select customer_id, sku, order_date, date_trunc('week', order_date)::date as week_start,
                  ordered_qty, requested_qty, line_amount from _lines order by order_date, customer_id, sku"""
    )
    con.execute(
        """create table marts.customer_sku_weekly_demand as
           select customer_id, sku, week_start, sum(ordered_qty) as ordered_qty, sum(requested_qty) as requested_qty
           from marts.order_lines group by all order by all"""
    )
    weeks = int(tiers["window_weeks"])
    volume = " + ".join(f"(avg_weekly >= {e})::int" for e in tiers["volume_band_edges"])
    price = " + ".join(f"coalesce(avg_price >= {e}, false)::int" for e in tiers["price_band_edges"])
    n_price = len(tiers["price_band_edges"]) + 1
    con.register("_snapshot_frame", snapshots)
    con.execute(
        """create temp table _snapshots as
           select as_of_date::date as as_of_date, customer_id::varchar as customer_id, crm_tier::int as crm_tier,
                  channel::varchar as channel, region::varchar as region, customer_status::varchar as customer_status,
                  opened_on::date as opened_on, closed_on::date as closed_on
           from _snapshot_frame"""
    )
    con.execute(
        f"""create table marts.customers as
            with firsts as (select customer_id, min(order_date) as first_order from marts.order_lines group by all),
            trail as (
                select s.as_of_date, s.customer_id, sum(l.ordered_qty) / {weeks} as avg_weekly,
                       sum(l.line_amount) / nullif(sum(l.ordered_qty), 0) as avg_price
                from _snapshots s join marts.order_lines l
                  on l.customer_id = s.customer_id
                 and l.order_date between s.as_of_date - {weeks * 7 - 1} and s.as_of_date
                group by all),
            banded as (
                select s.*, coalesce(t.avg_weekly, 0) as avg_weekly, t.avg_price,
                       coalesce(s.opened_on, f.first_order) as started
                from _snapshots s left join trail t using (as_of_date, customer_id)
                left join firsts f using (customer_id))
            select as_of_date, customer_id, channel, region, customer_status, opened_on, closed_on,
                   coalesce(crm_tier, case when started is null or date_diff('day', started, as_of_date) < {weeks * 7}
                                           then least(({volume}) * {n_price} + ({price}) + 1,
                                                      {int(tiers["new_customer_max_tier"])})
                                           else ({volume}) * {n_price} + ({price}) + 1 end)::int as tier,
                   case when crm_tier is not null then 'crm' else 'derived' end as tier_source
            from banded order by as_of_date, customer_id"""
    )
    con.close()


# --------------------------------------------------------------------------- run


def sundays(first: date, last: date, every: int) -> list[date]:
    out, day = [], first
    while day <= last:
        out.append(day)
        day += timedelta(weeks=every)
    return out


def run_set(name: str, args, work: Path) -> dict:
    import duckdb
    import yaml

    from restock.config import load_config
    from restock.forecasting import origins, tables
    from restock.forecasting.panel import make_pool
    from restock.segmentation import tables as segments
    from restock.warehouse import replace_day

    code = Path(args.code) if args.code else ROOT
    config = load_config(code / "restock.yaml")
    if args.series_states:  # compare populations (restock.forecasting.origins.SERIES_STATES)
        origins.SERIES_STATES = tuple(args.series_states.split(","))
    if args.set:  # e.g. segmentation.lifecycle.rhythm=fixed_cycle
        config = config.override({k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)})
    if name == "cdnow":
        first, last = CDNOW_ORIGINS
    else:
        _, first, last = DEMO_SETS[name]
    as_of = sundays(first, last, args.every)
    started = time.perf_counter()
    if name == "cdnow":
        lines, snaps = cdnow_frames(find_cdnow(args.cdnow), as_of)
    else:
        lines, snaps = demo_frames(generate_demo(name, work), as_of)
    tiers = yaml.safe_load((code / "restock.yaml").read_text(encoding="utf-8"))["tiers"]
    db = work / f"{name}_{args.label}.duckdb"
    build_marts(db, lines, snaps, tiers)
    prep = time.perf_counter() - started

    con = duckdb.connect(str(db))
    segments.ensure_tables(con)
    tables.ensure_tables(con)
    pool = make_pool(config.forecasting.workers)
    started = time.perf_counter()
    try:
        for day in as_of:
            rows = segments.customer_segments_for_day(con, day, config.segmentation)
            replace_day(con, "analytics.customer_segments", "as_of_date", day, rows, segments.SEGMENT_COLUMNS)
            origins.run_forecasts(con, [day], config, pool)
    finally:
        if pool is not None:
            pool.shutdown()
    seconds = time.perf_counter() - started
    result = {"data": name, "label": args.label, "origins": len(as_of), "seconds": round(seconds, 1)}
    result |= measure(con, as_of)
    result["prep_seconds"] = round(prep, 1)
    con.close()
    return result


def measure(con, as_of: list[date]) -> dict:
    import numpy as np

    con.execute("create or replace temp table _origins as select unnest(?::date[]) as forecast_origin", [as_of])
    # total per origin x horizon: segment forecasts, customer forecasts, demand of everybody
    totals = con.execute(
        f"""with seg as (
                select forecast_origin, horizon, period_start, sum(forecast_qty) as fc
                from analytics.segment_forecasts join _origins using (forecast_origin) group by all),
            cust as (
                select f.forecast_origin, f.horizon, sum(f.forecast_qty * s.share) as fc_customers
                from analytics.segment_forecasts f join _origins using (forecast_origin)
                join analytics.customer_forecast_shares s using (forecast_origin, segment_id, sku) group by all),
            arrived as (select week_start, sum(requested_qty) as actual from marts.order_lines group by all)
            select seg.forecast_origin, seg.horizon, seg.fc, coalesce(cust.fc_customers, 0) as fc_customers,
                   coalesce(arrived.actual, 0) as actual
            from seg left join cust using (forecast_origin, horizon)
            left join arrived on arrived.week_start = seg.period_start
            where seg.horizon <= {HORIZON} order by 1, 2"""
    ).df()
    fc, fcc, act = (totals[c].to_numpy(dtype=float) for c in ("fc", "fc_customers", "actual"))
    per_h = totals.groupby("horizon")[["fc", "actual"]].sum()
    # lifecycle: last origin, churned that came back, demand from customers without a share
    last = as_of[-1]
    states = dict(
        con.execute(
            """select lifecycle_state, count(*) from analytics.customer_segments s
               where as_of_date = ? and recency_days is not null group by 1""",
            [last],
        ).fetchall()
    )
    ordering = sum(states.values())
    back = con.execute(
        f"""select count(*) filter (where returned), count(*) from (
                select s.customer_id, exists (select 1 from marts.order_lines l where l.customer_id = s.customer_id
                    and l.order_date > s.as_of_date and l.order_date <= s.as_of_date + {7 * HORIZON}) as returned
                from analytics.customer_segments s join _origins o on o.forecast_origin = s.as_of_date
                where s.lifecycle_state = 'churned')"""
    ).fetchone()
    unshared = con.execute(
        f"""with shared as (select distinct forecast_origin, customer_id from analytics.customer_forecast_shares
                            join _origins using (forecast_origin)),
            demand as (select o.forecast_origin, l.customer_id, sum(l.requested_qty) as qty
                       from _origins o join marts.order_lines l
                         on l.order_date > o.forecast_origin and l.order_date <= o.forecast_origin + {7 * HORIZON}
                       group by all)
            select sum(qty) filter (where s.customer_id is null) / sum(qty)
            from demand d left join shared s using (forecast_origin, customer_id)"""
    ).fetchone()[0]
    customer_h1 = con.execute(
        """with fc as (
                select f.forecast_origin, s.customer_id, f.sku, f.period_start, f.forecast_qty * s.share as fc
                from analytics.segment_forecasts f join _origins using (forecast_origin)
                join analytics.customer_forecast_shares s using (forecast_origin, segment_id, sku)
                where f.horizon = 1),
            act as (
                select o.forecast_origin, w.customer_id, w.sku, w.requested_qty as actual
                from _origins o join marts.customer_sku_weekly_demand w
                  on w.week_start = o.forecast_origin + 1 where w.requested_qty > 0)
            select sum(abs(coalesce(fc.fc, 0) - coalesce(act.actual, 0))) / sum(coalesce(act.actual, 0))
            from fc full join act using (forecast_origin, customer_id, sku)"""
    ).fetchone()[0]
    series = con.execute(
        "select count(*) from analytics.segment_forecasts join _origins using (forecast_origin) where horizon = 1"
    ).fetchone()[0]
    return {
        "series_per_origin": round(series / len(as_of), 1),
        "sum_fc_over_arrived": round(float(fc.sum() / act.sum()), 4),
        "sum_customer_fc_over_arrived": round(float(fcc.sum() / act.sum()), 4),
        "fc_over_arrived_by_horizon": {int(h): round(float(r.fc / r.actual), 4) for h, r in per_h.iterrows()},
        "weekly_arrived_mean": round(float(act.mean()), 1),
        "weekly_fc_mean": round(float(fc.mean()), 1),
        "total_wape": round(float(np.abs(fc - act).sum() / act.sum()), 4),
        "total_bias": round(float((fc - act).sum() / act.sum()), 4),
        "last_origin": last.isoformat(),
        "lifecycle_last_origin": {k: int(v) for k, v in sorted(states.items())},
        "churned_share_last_origin": round(states.get("churned", 0) / max(ordering, 1), 4),
        "churned_that_ordered_within_8_weeks": round(back[0] / back[1], 4) if back[1] else None,
        "next_8_weeks_demand_without_share": round(float(unshared or 0.0), 4),
        "customer_sku_wape_h1": round(float(customer_h1), 4) if customer_h1 is not None else None,
    }


# --------------------------------------------------------------------------- report

ROWS = [
    ("series_per_origin", "segment × SKU series per origin"),
    ("weekly_arrived_mean", "demand arrived, mean per week"),
    ("weekly_fc_mean", "segment forecasts, mean per week"),
    ("sum_fc_over_arrived", "Σ segment fc / Σ arrived (h1-8)"),
    ("sum_customer_fc_over_arrived", "Σ customer fc / Σ arrived (h1-8)"),
    ("total_wape", "total WAPE (origin × h)"),
    ("total_bias", "total bias"),
    ("churned_share_last_origin", "churned share, last origin"),
    ("churned_that_ordered_within_8_weeks", "churned that ordered within 8 w"),
    ("next_8_weeks_demand_without_share", "next 8 w demand from no-share customers"),
    ("customer_sku_wape_h1", "customer × SKU WAPE h1"),
    ("seconds", "seconds (segments + forecasts)"),
]


def report(results: list[dict]) -> str:
    out = []
    for name in dict.fromkeys(r["data"] for r in results):
        group = [r for r in results if r["data"] == name]
        head = f"{name} ({group[0]['origins']} origins to {group[0]['last_origin']}, horizons 1-{HORIZON})"
        labels = [r["label"] for r in group]
        out.append(f"\n{head}\n| metric | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels))
        for key, text in ROWS:
            out.append(f"| {text} | " + " | ".join(str(r.get(key)) for r in group) + " |")
        out.append("| fc / arrived by horizon | " + " | ".join(_by_h(r) for r in group) + " |")
        out.append("| lifecycle, last origin | " + " | ".join(str(r["lifecycle_last_origin"]) for r in group) + " |")
    return "\n".join(out)


def _by_h(result: dict) -> str:
    return " ".join(f"{v:.2f}" for v in result["fc_over_arrived_by_horizon"].values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", default=["tiny", "demo", "rhythms", "growth", "cdnow"])
    parser.add_argument("--work", type=Path, default=Path("/tmp/restock_bench_lifecycle"))
    parser.add_argument("--code", default=None, help="import restock from this folder (default: this tree)")
    parser.add_argument("--label", default="after")
    parser.add_argument("--every", type=int, default=2, help="every n-th Sunday is an as-of origin")
    parser.add_argument("--cdnow", type=Path, default=None, help="CDNOW_master.txt")
    parser.add_argument(
        "--series-states", help="lifecycle states whose demand makes the series, e.g. new,active,at_risk,churned"
    )
    parser.add_argument(
        "--set",
        nargs="+",
        metavar="KEY=VALUE",
        help="restock.yaml overrides, e.g. segmentation.lifecycle.rhythm=fixed_cycle",
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON results (default WORK/LABEL.json)")
    parser.add_argument("--compare", nargs="+", type=Path, help="print these result files side by side")
    args = parser.parse_args()
    if args.compare:
        print(report([r for path in args.compare for r in json.loads(path.read_text())]))
        return
    sys.path.insert(0, str(Path(args.code).resolve() if args.code else ROOT))
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    for name in args.data:
        result = run_set(name, args, args.work)
        print(json.dumps(result), flush=True)
        results.append(result)
    out = args.out or args.work / f"{args.label}.json"
    out.write_text(json.dumps(results, indent=1))
    print(report(results))


if __name__ == "__main__":
    main()
