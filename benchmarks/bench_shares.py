"""Time of the customer × SKU shares of a forecast origin (issue 13): ``origins._shares_at``
and its parts, on an existing warehouse, read-only.

    cp data/warehouse.duckdb /tmp/shw.duckdb        # never time on the live file
    .venv/bin/python benchmarks/bench_shares.py --warehouse /tmp/shw.duckdb \
        --origin 2025-06-15 2025-11-23 2025-12-28 [--repeat 5] [--dump DIR] [--profile]

For each origin the script reads what ``origins._compute`` hands to ``_shares_at``:
the stored ``analytics.segment_forecasts`` rows of the origin and its customers
(``origins._members``: the stored ``customer_segments`` of the day), then calls
``_shares_at`` ``--repeat`` times and prints the fastest and median wall, split
into the time in DuckDB queries (``execute`` up to the end of ``.df()`` /
``fetch*``: query and transfer to pandas) and the rest (pandas / numpy in
``disaggregation.py``). ``--dump DIR`` writes each origin's shares frame to
``DIR/shares_<origin>.parquet`` (to compare two versions of the code: run once with
``PYTHONPATH`` pointing at the other checkout; the script imports ``restock`` from
wherever Python finds it first). ``--profile`` prints the cProfile top 25 of one
call per origin.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# appended, not prepended: PYTHONPATH=<other checkout> wins (before/after comparisons)
sys.path.append(str(ROOT))


class _Timed:
    """A DuckDB connection that adds the wall of every execute() and df()/fetch*() to
    ``seconds`` (the queries and the transfer of their results)."""

    def __init__(self, con) -> None:
        self._con = con
        self.seconds = 0.0
        self.queries = 0

    def _timed(self, call, *args, **kwargs):
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started

    def execute(self, *args, **kwargs):
        self._timed(self._con.execute, *args, **kwargs)
        self.queries += 1
        return self

    def df(self):
        return self._timed(self._con.df)

    def fetchdf(self):
        return self._timed(self._con.fetchdf)

    def fetchnumpy(self):
        return self._timed(self._con.fetchnumpy)

    def fetchall(self):
        return self._timed(self._con.fetchall)

    def fetchone(self):
        return self._timed(self._con.fetchone)

    def __getattr__(self, name):
        return getattr(self._con, name)


def main() -> None:
    import duckdb

    import restock
    from restock.config import load_config
    from restock.forecasting import origins

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--warehouse", type=Path, default=Path("/tmp/shw.duckdb"))
    parser.add_argument("--config", type=Path, default=ROOT / "restock.yaml")
    parser.add_argument(
        "--origin",
        type=date.fromisoformat,
        nargs="+",
        default=[date(2025, 6, 15), date(2025, 11, 23), date(2025, 12, 28)],
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dump", type=Path, help="write each origin's shares to DIR/shares_<origin>.parquet")
    parser.add_argument("--profile", action="store_true", help="cProfile top 25 of one call per origin")
    args = parser.parse_args()

    print(f"restock from {Path(restock.__file__).parent}")
    config = load_config(args.config)
    con = duckdb.connect(str(args.warehouse), read_only=True)
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
    totals = []
    for origin in args.origin:
        rows = con.execute(
            "select segment_id, sku, horizon from analytics.segment_forecasts where forecast_origin = ?", [origin]
        ).df()
        members = origins._members(con, origin, config)
        if members is None or rows.empty:
            print(f"{origin}: no stored forecasts / customers, skipped")
            continue
        walls, queries = [], []
        shares = None
        for _ in range(args.repeat):
            timed = _Timed(con)
            started = time.perf_counter()
            shares, unallocated = origins._shares_at(timed, origin, rows, members, config)
            walls.append(time.perf_counter() - started)
            queries.append(timed.seconds)
        assert shares is not None
        best = min(range(len(walls)), key=walls.__getitem__)
        totals.append(walls[best])
        print(
            f"{origin}: {len(shares)} share rows, {unallocated} unallocated series; "
            f"_shares_at best {walls[best]:.3f} s (queries {queries[best]:.3f} s, rest {walls[best] - queries[best]:.3f} s), "
            f"median {statistics.median(walls):.3f} s (queries {statistics.median(queries):.3f} s) over {args.repeat}"
        )
        if args.dump:
            shares.to_parquet(args.dump / f"shares_{origin}.parquet", index=False)
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            origins._shares_at(con, origin, rows, members, config)
            profile.disable()
            pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
    if totals:
        print(f"mean best per origin: {statistics.mean(totals):.3f} s")


if __name__ == "__main__":
    main()
