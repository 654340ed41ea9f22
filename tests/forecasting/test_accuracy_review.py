"""The accuracy review at every level (total, warehouse, segment, SKU, series,
customer) with interval coverage, on real DuckDB files: hand-checked numbers, the
vectorised sums against a plain per-group loop, and the migration of older tables."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from restock import table_registry
from restock.config import load_config
from restock.forecasting import accuracy_review, metrics, tables
from restock.settings import PROJECT_ROOT

# The forecast columns the review reads (and those the table requires).
FORECAST = [
    "forecast_origin", "segment_id", "sku", "period_start", "horizon", "forecast_qty", "lower_qty", "upper_qty",
    "model", "method", "fallback_reason", "naive_mae",
]  # fmt: skip
REVIEW = date(2025, 1, 19)  # a Sunday: weeks 2025-01-06 and 2025-01-13 complete (window 2)
O1, O2 = date(2025, 1, 5), date(2025, 1, 12)
W1, W2 = date(2025, 1, 6), date(2025, 1, 13)


def _tiny(path: Path, ratios: bool = True) -> duckdb.DuckDBPyConnection:
    """Segment S (a, b, c: c churned, no share) and T (d); one SKU K; origins O1 (h1 for
    week W1, h2 for W2) and O2 (h1 for W2). a and d served by warehouse W1, b by W2, c by
    none (its region has no warehouse). Customer bounds: a × [0.5, 2], b null (segment
    bound × share), d × [0, 1]."""
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("""create table marts.customer_sku_weekly_demand as select * from (values
        ('a', 'K', date '2025-01-06', 12.0, 12.0), ('b', 'K', date '2025-01-06', 6.0, 6.0),
        ('c', 'K', date '2025-01-06', 4.0, 4.0), ('d', 'K', date '2025-01-06', 5.0, 5.0),
        ('a', 'K', date '2025-01-13', 8.0, 8.0), ('b', 'K', date '2025-01-13', 10.0, 10.0),
        ('d', 'K', date '2025-01-13', 9.0, 9.0), ('a', 'K', date '2024-12-30', 99.0, 99.0))
        t(customer_id, sku, week_start, ordered_qty, requested_qty)""")
    tables.ensure_tables(con)
    if not ratios:  # a shares table of an older warehouse: no ratio columns
        con.execute("alter table analytics.customer_forecast_shares drop column lower_ratio")
        con.execute("alter table analytics.customer_forecast_shares drop column upper_ratio")
    for origin in (O1, O2):
        for customer, segment, warehouse in (("a", "S", "W1"), ("b", "S", "W2"), ("c", "S", None), ("d", "T", "W1")):
            con.execute(
                "insert into analytics.forecast_members values (?, ?, ?, ?)", [origin, customer, segment, warehouse]
            )
        for customer, segment, share, low, high in (
            ("a", "S", 0.5, 0.5, 2.0),
            ("b", "S", 0.5, None, None),
            ("d", "T", 1.0, 0.0, 1.0),
        ):
            values = [origin, segment, "K", customer, share, "own_history"] + ([low, high] if ratios else [])
            con.execute(
                f"insert into analytics.customer_forecast_shares values ({', '.join('?' * len(values))})", values
            )
    rows = [
        (O1, "S", W1, 1, 20.0, 10.0, 30.0, 4.0),
        (O1, "S", W2, 2, 20.0, 12.0, 28.0, 4.0),
        (O2, "S", W2, 1, 16.0, 8.0, 24.0, 4.0),
        (O1, "T", W1, 1, 5.0, 2.0, 8.0, 2.0),
        (O1, "T", W2, 2, 5.0, 2.0, 8.0, 2.0),
        (O2, "T", W2, 1, 6.0, 3.0, 9.0, 2.0),
    ]
    # The total's own interval for week W1 (level_forecasts): [28, 30] excludes its 27.
    con.execute(
        """insert into analytics.level_forecasts (forecast_origin, level, key, period_start, horizon, forecast_qty,
           lower_qty, upper_qty, base_qty, model, method) values (?, 'total', 'all', ?, 1, 25, 28, 30, 25, 'm', 'refit')""",
        [O1, W1],
    )
    for origin, segment, week, h, f, low, high, scale in rows:
        con.execute(
            f"insert into analytics.segment_forecasts ({', '.join(FORECAST)}) "
            "values (?, ?, 'K', ?, ?, ?, ?, ?, 'combination', 'refit', null, ?)",
            [origin, segment, week, h, f, low, high, scale],
        )
    return con


def _review(con, **kwargs) -> pd.DataFrame:
    review = accuracy_review.accuracy_review(con, REVIEW, window_weeks=2, limit=1.5, **kwargs)
    assert not review.duplicated(["level", "key", "horizon"]).any()
    return review.set_index(["level", "key", "horizon"])


def _check(row: pd.Series, **expected: float) -> None:
    for column, value in expected.items():
        if value is None:
            assert pd.isna(row[column]), (column, row[column])
        else:
            assert row[column] == pytest.approx(value, rel=1e-12, abs=1e-12), (column, row[column], value)


def test_every_level_by_hand(tmp_path, caplog):
    con = _tiny(tmp_path / "acc.duckdb")
    with caplog.at_level(logging.INFO, logger="restock.forecasting.accuracy_review"):
        review = _review(con)
    assert "1 customers (1 customer × SKU × week points) have no warehouse" in caplog.text  # c
    assert set(review.index.get_level_values("level")) == {"total", "warehouse", "segment", "sku", "series", "customer"}

    # Segment x SKU x week points (forecast, actual = the segment's members, bounds):
    #   S h1 W1: 20 vs a+b+c = 22 [10, 30]; S h1 W2: 16 vs 18 [8, 24]; S h2 W2: 20 vs 18 [12, 28]
    #   T h1 W1: 5 vs 5 [2, 8];             T h1 W2: 6 vs 9 [3, 9];   T h2 W2: 5 vs 9 [2, 8]
    # total h1: errors -2, -2, 0, -3; weekly errors -2 (W1), -5 (W2): TS -7 / 3.5
    _check(
        review.loc[("total", "all", 1)],
        n_periods=2, actual_qty=54, forecast_qty=47, wape=7 / 54, bias=-7 / 54,
        mase=(2 / 4 + 2 / 4 + 0 / 2 + 3 / 2) / 4, tracking_signal=-2.0, interval_coverage=0.5,
    )  # fmt: skip
    # coverage: W1's 27 outside the total's own [28, 30]; W2 (no total forecast of its
    # own) 27 in the summed segment bounds [11, 33]. h2: W2 27 in [14, 36].
    # WAPE on the total series: h2's S +2 and T -4 make a total error of -2 in W2
    # (the segment x SKU points' |e| would be 6).
    _check(
        review.loc[("total", "all", 2)],
        n_periods=1, actual_qty=27, forecast_qty=25, wape=2 / 27, bias=-2 / 27, tracking_signal=-1.0,
        interval_coverage=1.0,
    )  # fmt: skip
    _check(review.loc[("sku", "K", 2)], wape=2 / 27, bias=-2 / 27)
    _check(review.loc[("segment", "S", 2)], wape=2 / 18)
    _check(review.loc[("segment", "T", 2)], wape=4 / 9, bias=-4 / 9, interval_coverage=0.0)  # 9 above [2, 8]
    _check(review.loc[("segment", "T", 1)], wape=3 / 14, interval_coverage=1.0)  # 9 on the upper bound 9
    _check(review.loc[("sku", "K", 1)], wape=7 / 54, tracking_signal=-2.0, interval_coverage=1.0)  # [12, 38], [11, 33]
    _check(review.loc[("series", "S|K", 1)], wape=4 / 40, bias=-4 / 40, tracking_signal=-2.0, interval_coverage=1.0)

    # Customer points (segment forecast x share, own demand; own bounds, b: segment bound x share):
    #   h1 W1: a 10 vs 12 [5, 20]; b 10 vs 6 [5, 15]; c 0 vs 4 [0, 0] (no share); d 5 vs 5 [0, 5]
    #   h1 W2: a 8 vs 8 [4, 16];   b 8 vs 10 [4, 12]; d 6 vs 9 [0, 6]
    #   h2 W2: a 10 vs 8 [5, 20];  b 10 vs 10 [6, 14]; d 5 vs 9 [0, 5]
    # customer h1: errors -2, 4, -4, 0, 0, -2, -3; weekly -2, -5; c's 4 and d's 9 outside
    _check(
        review.loc[("customer", "all", 1)],
        n_periods=2, actual_qty=54, forecast_qty=47, wape=15 / 54, bias=-7 / 54, mase=None,
        tracking_signal=-2.0, interval_coverage=5 / 7,
    )  # fmt: skip
    _check(
        review.loc[("customer", "all", 2)],
        n_periods=1, actual_qty=27, forecast_qty=25, wape=6 / 27, bias=-2 / 27, tracking_signal=-1.0,
        interval_coverage=2 / 3,
    )  # fmt: skip
    _check(
        review.loc[("customer", "a", 1)],
        actual_qty=20,
        wape=2 / 20,
        bias=-2 / 20,
        tracking_signal=-2.0,
        interval_coverage=1.0,
    )
    _check(review.loc[("customer", "b", 1)], wape=6 / 16, bias=2 / 16, tracking_signal=2 / 3, interval_coverage=1.0)
    _check(
        review.loc[("customer", "c", 1)],
        n_periods=1,
        forecast_qty=0,
        wape=1.0,
        bias=-1.0,
        tracking_signal=-1.0,
        interval_coverage=0.0,
    )
    _check(review.loc[("customer", "d", 1)], wape=3 / 14, bias=-3 / 14, tracking_signal=-2.0, interval_coverage=0.5)
    assert not any(key != "all" and h != 1 for level, key, h in review.index if level == "customer")

    # Warehouse x SKU x week points (a + d in W1, b in W2; c in no warehouse), coverage on
    # the segment bounds x share: W1 h1: 15 vs 17 [7, 23], 14 vs 17 [7, 21]
    _check(
        review.loc[("warehouse", "W1", 1)],
        n_periods=2, actual_qty=34, forecast_qty=29, wape=5 / 34, bias=-5 / 34, mase=None, tracking_signal=-2.0,
        interval_coverage=1.0,
    )  # fmt: skip
    _check(review.loc[("warehouse", "W1", 2)], wape=2 / 17, bias=-2 / 17, tracking_signal=-1.0, interval_coverage=1.0)
    _check(review.loc[("warehouse", "W2", 1)], wape=6 / 16, bias=2 / 16, tracking_signal=2 / 3, interval_coverage=1.0)
    _check(review.loc[("warehouse", "W2", 2)], wape=0.0, bias=0.0, tracking_signal=0.0, interval_coverage=1.0)
    assert not review.loc["warehouse"].index.get_level_values("key").isin(["R9", "None"]).any()
    assert not review["out_of_control"].loc[("customer", "c", 1)], "|TS| 1 <= 1.5"
    assert review["out_of_control"].loc[("customer", "all", 1)], "|TS| 2 > 1.5"

    # c served by W9 (e.g. a default_warehouse on that origin): a row of its own
    con.execute("update analytics.forecast_members set warehouse_id = 'W9' where customer_id = 'c'")
    again = _review(con)
    _check(again.loc[("warehouse", "W9", 1)], n_periods=1, actual_qty=4, forecast_qty=0, wape=1.0)
    # nobody served: no warehouse level, every other row the same
    con.execute("update analytics.forecast_members set warehouse_id = null")
    bare = _review(con)
    assert "warehouse" not in set(bare.index.get_level_values("level"))
    pd.testing.assert_frame_equal(bare, review.drop(index="warehouse", level="level"), check_exact=True)


def test_customer_coverage_falls_back_to_the_segment_bound_times_share_without_ratio_columns(tmp_path):
    con = _tiny(tmp_path / "old.duckdb", ratios=False)
    review = _review(con)
    # h1 with segment bounds x share: a 12 in [5, 15], b 6 in [5, 15], c 4 not in [0, 0],
    # d 5 in [2, 8], a 8 in [4, 12], b 10 in [4, 12], d 9 in [3, 9] -> 6 of 7
    _check(review.loc[("customer", "all", 1)], wape=15 / 54, interval_coverage=6 / 7)
    _check(review.loc[("customer", "d", 1)], interval_coverage=1.0)


def test_older_tables_gain_the_new_columns_and_the_review_is_stored(tmp_path):
    """A warehouse created before interval_coverage, the ratio columns and the members'
    warehouse: ensure_tables adds them (null in the rows already there) and run_accuracy
    writes the new rows (without a warehouse level: no member has a warehouse)."""
    con = _tiny(tmp_path / "acc.duckdb", ratios=False)
    con.execute("alter table analytics.forecast_members drop column warehouse_id")
    old = table_registry.create_table_sql("accuracy_reviews").replace(',\n    "interval_coverage" DOUBLE', "")
    assert "interval_coverage" not in old
    con.execute("drop table analytics.accuracy_reviews")
    con.execute(old)
    con.execute(
        "insert into analytics.accuracy_reviews values (date '2025-01-12', 'total', 'all', 1, 2, 1, 1, 1, 0, 0, 0, 0, false)"
    )
    tables.ensure_tables(con)
    for name in ("accuracy_reviews", "customer_forecast_shares", "forecast_members"):
        described = [r[0] for r in con.execute(f"describe analytics.{name}").fetchall()]
        assert described == table_registry.columns(name)
    assert con.execute(
        "select count(*) from analytics.customer_forecast_shares where lower_ratio is null"
    ).fetchone() == (6,)
    config = load_config(PROJECT_ROOT / "restock.yaml").override({"accuracy.window_weeks": 2})
    assert accuracy_review.run_accuracy(con, [REVIEW], config)
    stored = con.execute(
        "select level, count(*), count(interval_coverage) from analytics.accuracy_reviews group by 1 order by 1"
    ).fetchall()
    assert dict((level, (n, c)) for level, n, c in stored) == {
        "customer": (6, 6),  # all h1, all h2, a, b, c, d
        "segment": (4, 4),
        "series": (2, 2),
        "sku": (2, 2),
        "total": (3, 2),  # the older review's row keeps a null coverage
    }


# --------------------------------------------------------------------------- against a plain loop


def _reference(points: pd.DataFrame, key_column: str, own_series: bool = False) -> pd.DataFrame:
    """The review of one level as a per-group loop over the metrics module (the
    computation before it was vectorised); ``own_series``: WAPE of the key's weekly sums."""
    rows = []
    for (key, horizon), group in points.groupby([key_column, "horizon"], sort=True):
        group = group.sort_values("period_start", kind="stable")
        weekly = group.groupby("period_start", sort=True)[["error", "actual_qty", "lower_qty", "upper_qty"]].sum()
        rows.append(
            {
                "key": key,
                "horizon": horizon,
                "n_periods": group["period_start"].nunique(),
                "actual_qty": group["actual_qty"].sum(),
                "forecast_qty": group["forecast_qty"].sum(),
                "wape": (
                    metrics.wape(weekly["actual_qty"], weekly["actual_qty"] + weekly["error"])
                    if own_series
                    else metrics.wape(group["actual_qty"], group["forecast_qty"])
                ),
                "mase": group["scaled"].mean(),
                "bias": metrics.relative_bias(group["actual_qty"], group["forecast_qty"]),
                "tracking_signal": metrics.tracking_signal(weekly["error"]),
                "interval_coverage": metrics.interval_coverage(
                    weekly["actual_qty"], weekly["lower_qty"], weekly["upper_qty"]
                ),
            }
        )
    return pd.DataFrame(rows)


def _random_points(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(4):
        for k in range(6):
            scale = float(rng.gamma(2.0, 2.0)) if (s, k) != (3, 5) else np.nan  # one series without a scale
            for h in range(1, 5):
                for w in range(13):
                    silent = (s, k) == (0, 0)  # nothing forecast, nothing ordered
                    actual = 0.0 if silent else float(rng.poisson(3.0) * (rng.random() < 0.7))
                    forecast = 0.0 if silent else float(rng.gamma(2.0, 1.5))
                    spread = float(rng.gamma(2.0, 1.0))
                    rows.append(
                        (f"S{s}", f"K{k}", h, date(2025, 1, 6) + timedelta(weeks=w), forecast, scale, actual,
                         max(forecast - spread, 0.0), forecast + spread)
                    )  # fmt: skip
    points = pd.DataFrame(
        rows,
        columns=[
            "segment_id",
            "sku",
            "horizon",
            "period_start",
            "forecast_qty",
            "naive_mae",
            "actual_qty",
            "lower_qty",
            "upper_qty",
        ],
    )
    points["error"] = points["forecast_qty"] - points["actual_qty"]
    with np.errstate(divide="ignore", invalid="ignore"):
        points["scaled"] = np.where(points["naive_mae"] > 0, points["error"].abs() / points["naive_mae"], np.nan)
    points["total"] = "all"
    points["series"] = points["segment_id"] + "|" + points["sku"]
    return points


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_vectorised_review_is_the_per_group_loop_to_1e_12(seed):
    points = _random_points(seed)
    # weeks without a forecast, and a segment with no horizon-2 forecast at all
    points = points[np.random.default_rng(seed).random(len(points)) > 0.1]
    points = points[~((points["segment_id"] == "S1") & (points["horizon"] == 2))].reset_index(drop=True)
    for level, key_column in (("total", "total"), ("segment", "segment_id"), ("sku", "sku"), ("series", "series")):
        subset = points if level != "series" else points[points["horizon"] == 1]
        own = level in accuracy_review.OWN_SERIES
        got = accuracy_review._summarise(subset, key_column, level, limit=4.0, own_series=own)
        want = _reference(subset, key_column, own_series=own)
        assert list(got["key"]) == list(want["key"]) and list(got["horizon"]) == list(want["horizon"])
        assert (got["level"] == level).all()
        for column in (
            "n_periods",
            "actual_qty",
            "forecast_qty",
            "wape",
            "mase",
            "bias",
            "tracking_signal",
            "interval_coverage",
        ):
            np.testing.assert_allclose(
                got[column].to_numpy(float),
                want[column].to_numpy(float),
                rtol=1e-12,
                atol=0,
                err_msg=f"{level}.{column}",
            )
        np.testing.assert_array_equal(got["out_of_control"], np.abs(want["tracking_signal"]) > 4.0)
    silent = accuracy_review._summarise(points, "series", "series", 4.0).set_index(["key", "horizon"]).loc[("S0|K0", 1)]
    assert np.isnan(silent["wape"]) and silent["tracking_signal"] == 0.0 and silent["interval_coverage"] == 1.0


def test_warehouse_and_customer_levels_are_the_plain_loop_on_a_random_warehouse_and_reproduce_every_digit(tmp_path):
    """DuckDB sums the customer points as decimals: the same numbers as a Python loop
    over every customer × SKU × week (to 1e-10: each point is rounded to 1e-12), and
    the same digits after the tables' rows are shuffled."""
    rng = np.random.default_rng(9)
    con = duckdb.connect(str(tmp_path / "random.duckdb"))
    con.execute("create schema marts")
    tables.ensure_tables(con)
    customers = [f"c{i:02d}" for i in range(30)]
    segment = {c: f"S{i % 3}" for i, c in enumerate(customers)}
    region = {c: ["R1", "R2", "R3"][i % 3 if i % 5 else 2] for i, c in enumerate(customers)}
    origins = [date(2025, 1, 5) + timedelta(weeks=i) for i in range(4)]
    skus = ["K1", "K2", "K3"]
    demand = [
        (c, k, date(2025, 1, 6) + timedelta(weeks=w), float(q), float(q))
        for c in customers for k in skus for w in range(6)
        if (q := rng.poisson(2.0) * (rng.random() < 0.6))
    ]  # fmt: skip
    con.register(
        "_d", pd.DataFrame(demand, columns=["customer_id", "sku", "week_start", "ordered_qty", "requested_qty"])
    )
    con.execute("create table marts.customer_sku_weekly_demand as select * from _d")
    shares, forecasts, share_rows, member_rows = {}, [], [], []
    for origin in origins:
        member_rows += [(origin, c, segment[c], region[c]) for c in customers]
        for s in ("S0", "S1", "S2"):
            for k in skus:
                eligible = [c for c in customers if segment[c] == s and rng.random() < 0.8]
                weights = rng.gamma(1.0, 1.0, len(eligible))
                for c, w in zip(eligible, weights / weights.sum(), strict=True):
                    ratios = (
                        (None, None) if rng.random() < 0.2 else (float(rng.uniform(0, 1)), float(rng.uniform(1, 3)))
                    )
                    shares[(origin, s, k, c)] = (float(w), *ratios)
                    share_rows.append((origin, s, k, c, float(w), "own_history", *ratios))
                for h in (1, 2, 3):
                    f = float(rng.gamma(3.0, 3.0))
                    forecasts.append((origin, s, k, origin + timedelta(days=1 + 7 * (h - 1)), h, f, 0.6 * f, 1.5 * f))
    warehouse_of = {"R1": "W1", "R2": "W2"}  # R3: no warehouse
    _insert(con, "analytics.forecast_members", [(*r[:3], warehouse_of.get(r[3])) for r in member_rows])
    _insert(con, "analytics.customer_forecast_shares", share_rows)
    _insert(con, "analytics.segment_forecasts", [(*r, "m", "refit", None, 1.0) for r in forecasts], FORECAST)
    review_date = date(2025, 2, 9)
    window = 3  # weeks 2025-01-20 .. 2025-02-03

    def review() -> pd.DataFrame:
        frame = accuracy_review.accuracy_review(con, review_date, window, 4.0)
        return frame.sort_values(["level", "key", "horizon"], ignore_index=True)

    got = review().set_index(["level", "key", "horizon"])
    # The loop: every customer x SKU x week point of the window.
    first, last = date(2025, 1, 20), date(2025, 2, 3)
    qty = {(c, k, w): q for c, k, w, q, _ in demand}
    points = []
    for origin, s, k, week, h, f, low, high in forecasts:
        if not first <= week <= last or origin > review_date:
            continue
        for c in customers:
            if segment[c] != s:
                continue
            share, lr, ur = shares.get((origin, s, k, c), (0.0, None, None))
            actual = qty.get((c, k, week), 0.0)
            if (origin, s, k, c) not in shares and actual == 0:
                continue
            point = f * share
            lower = point * lr if lr is not None else low * share
            upper = point * ur if ur is not None else high * share
            points.append(
                (
                    c,
                    {"R1": "W1", "R2": "W2"}.get(region[c]),
                    k,
                    h,
                    week,
                    point,
                    actual,
                    lower,
                    upper,
                    low * share,
                    high * share,
                )
            )
    frame = pd.DataFrame(
        points,
        columns=[
            "customer_id",
            "warehouse_id",
            "sku",
            "horizon",
            "period_start",
            "forecast_qty",
            "actual_qty",
            "lower_qty",
            "upper_qty",
            "seg_lower",
            "seg_upper",
        ],
    )
    frame["error"] = frame["forecast_qty"] - frame["actual_qty"]
    frame["scaled"] = np.nan
    frame["all"] = "all"
    compared = 0
    for level, key_column, subset in (
        ("customer", "all", frame),
        ("customer", "customer_id", frame[frame["horizon"] == 1]),
    ):
        for row in _reference(subset, key_column).itertuples():
            inside = subset[(subset[key_column] == row.key) & (subset["horizon"] == row.horizon)]
            row_coverage = metrics.interval_coverage(inside["actual_qty"], inside["lower_qty"], inside["upper_qty"])
            _compare(got.loc[(level, row.key, row.horizon)], row._asdict() | {"interval_coverage": row_coverage})
            compared += 1
    mapped = frame[frame["warehouse_id"].notna()]
    by_sku = mapped.groupby(["warehouse_id", "sku", "horizon", "period_start"], as_index=False)[
        ["forecast_qty", "actual_qty", "seg_lower", "seg_upper"]
    ].sum()
    by_sku = by_sku.rename(columns={"seg_lower": "lower_qty", "seg_upper": "upper_qty"})
    by_sku["error"] = by_sku["forecast_qty"] - by_sku["actual_qty"]
    by_sku["scaled"] = np.nan
    for row in _reference(by_sku, "warehouse_id").itertuples():
        _compare(got.loc[("warehouse", row.key, row.horizon)], row._asdict())
        compared += 1
    assert compared == len(got.loc[["customer", "warehouse"]]) > 30
    assert set(got.loc["warehouse"].index.get_level_values("key")) == {"W1", "W2"}  # R3 has no warehouse

    before = review()
    con.execute("select setseed(0.7)")
    for relation in (
        "analytics.segment_forecasts",
        "analytics.customer_forecast_shares",
        "analytics.forecast_members",
        "marts.customer_sku_weekly_demand",
    ):
        con.execute(f"create temp table _shuffled as select * from {relation} order by random()")
        con.execute(f"delete from {relation}")
        con.execute(f"insert into {relation} select * from _shuffled")
        con.execute("drop table _shuffled")
        pd.testing.assert_frame_equal(review(), before, check_exact=True, obj=f"after shuffling {relation}")


def _insert(con, relation: str, rows: list[tuple], columns: list[str] | None = None) -> None:
    columns = columns or [r[0] for r in con.execute(f"describe {relation}").fetchall()]
    con.register("_rows", pd.DataFrame(rows, columns=columns).astype(object))
    con.execute(f"insert into {relation} ({', '.join(columns)}) select * from _rows")
    con.unregister("_rows")


def _compare(got: pd.Series, want: dict) -> None:
    for column in ("n_periods", "actual_qty", "forecast_qty", "wape", "bias", "tracking_signal", "interval_coverage"):
        np.testing.assert_allclose(float(got[column]), float(want[column]), rtol=1e-10, atol=1e-10, err_msg=column)
    assert pd.isna(got["mase"])


def test_reviews_in_a_batch_are_the_reviews_alone_to_the_last_bit(tmp_path):
    """run_accuracy builds the inputs of consecutive reviews once (review_batch) and
    each review selects its weeks from them: the same frame as a review on its own;
    a review the batch does not cover builds its own."""
    con = _tiny(tmp_path / "acc.duckdb")
    reviews = [REVIEW - timedelta(weeks=1), REVIEW]
    alone = [accuracy_review.accuracy_review(con, r, window_weeks=2, limit=1.5) for r in reviews]
    assert all(len(frame) for frame in alone)
    with accuracy_review.review_batch(con, reviews, 2):
        assert accuracy_review._batch_covering(con, W1, W2, REVIEW) is not None
        together = [accuracy_review.accuracy_review(con, r, window_weeks=2, limit=1.5) for r in reviews]
        later = REVIEW + timedelta(weeks=1)
        assert accuracy_review._batch_covering(con, W2, W2 + timedelta(weeks=1), later) is None
        outside = accuracy_review.accuracy_review(con, later, window_weeks=2, limit=1.5)
    for a, b in zip(alone, together, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    pd.testing.assert_frame_equal(outside, accuracy_review.accuracy_review(con, later, window_weeks=2, limit=1.5))
    # nothing of the batch is left behind
    assert not con.execute("select count(*) from duckdb_tables() where temporary").fetchone()[0]
    assert not con.execute("select count(*) from duckdb_views() where temporary and not internal").fetchone()[0]


def test_reviews_in_worker_processes_are_the_reviews_of_one_process(tmp_path):
    """run_accuracy_in_workers with two workers and blocks of one origin (a round of two
    blocks): the rows and the result of run_accuracy; a run too short for the workers
    is run_accuracy on one connection."""
    import functools
    import shutil

    from tests.warehouse_writer import counting_writer

    _tiny(tmp_path / "one.duckdb").close()
    shutil.copy(tmp_path / "one.duckdb", tmp_path / "two.duckdb")
    days = [REVIEW - timedelta(weeks=1), REVIEW]
    config = load_config(PROJECT_ROOT / "restock.yaml").override(
        {"accuracy.window_weeks": 2, "backfill.workers": 2, "backfill.block_days": 1}
    )
    opened: list = []
    writer = functools.partial(counting_writer, opened=opened)
    con = duckdb.connect(str(tmp_path / "one.duckdb"))
    alone = accuracy_review.run_accuracy(con, days, config)
    expected = con.execute("select * from analytics.accuracy_reviews order by all").df()
    con.close()
    seen: list = []
    got = accuracy_review.run_accuracy_in_workers(
        writer(tmp_path / "two.duckdb"), tmp_path / "two.duckdb", days, config, lambda *a: seen.append(a)
    )
    assert got == alone and len(alone) == 2 and all(rows for _, rows in alone)
    assert seen == alone
    assert len(opened) == 2, "one connection to choose the reviews, one to write the round"
    con = duckdb.connect(str(tmp_path / "two.duckdb"))
    pd.testing.assert_frame_equal(
        con.execute("select * from analytics.accuracy_reviews order by all").df(), expected, check_exact=True
    )
    con.close()
    opened.clear()
    short = config.override({"backfill.block_days": 2})
    assert (
        accuracy_review.run_accuracy_in_workers(writer(tmp_path / "two.duckdb"), tmp_path / "two.duckdb", days, short)
        == alone
    )
    assert len(opened) == 1


@pytest.mark.parametrize("seed", range(4))
def test_dense_unique_and_joined_keys_are_numpy_unique_and_string_concatenation(seed):
    """The review's group codes (_dense_unique) and series keys (_joined) are built
    without sorting or joining every point: the same as np.unique and "+"."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 50, size=500) * 3  # gaps: not every code is present
    got, got_inverse = accuracy_review._dense_unique(codes, 150)
    want, want_inverse = np.unique(codes, return_inverse=True)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(got_inverse, want_inverse)
    missing = np.append(codes, -1)  # pd.factorize's code of a missing value
    for got_part, want_part in zip(
        accuracy_review._dense_unique(missing, 150), np.unique(missing, return_inverse=True), strict=True
    ):
        np.testing.assert_array_equal(got_part, want_part)
    left = pd.Series(rng.choice(["S1", "S1x", "S10", "a b"], size=300))
    right = pd.Series(rng.choice(["K1", "K|2", "K10"], size=300))
    assert list(accuracy_review._joined(left, right, "|")) == list(left + "|" + right)
    left[3] = None  # a missing value: NaN, as "+" gives
    assert pd.isna(accuracy_review._joined(left, right, "|")[3])
