"""The shares of a forecast origin as ``origins._shares_at`` computes them from the
warehouse (the interval ratios from :class:`WeeklyCells` read in SQL, issue 13) are
the same to the last digit as the straightforward way: every customer × SKU × week of
the ratio window as a frame, decoded by :func:`interval_ratios` — on a real DuckDB
file with randomized demand and the awkward rows (weeks of demand 0 before a
customer's first order, customer × SKUs with only weeks of 0, several rows of one
week whose decimal sum is not their double sum, customers and SKUs nobody forecasts,
rows outside the window)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd
import pytest

from restock.calendar import last_complete_week_start
from restock.config import load_config
from restock.forecasting import origins
from restock.forecasting.disaggregation import (
    RATIO_WINDOW_WEEKS,
    WeeklyCells,
    customer_shares,
    interval_ratios,
)
from restock.settings import PROJECT_ROOT

ORIGIN = date(2025, 6, 15)  # a Sunday: last complete week starts 2025-06-09
STATES = ("new", "active", "active", "active", "at_risk", "churned", "closed")


def _warehouse(path, seed: int) -> tuple[duckdb.DuckDBPyConnection, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    last = last_complete_week_start(ORIGIN)
    customers = [f"c{i:02d}" for i in range(40)]
    skus = [f"K{i}" for i in range(6)]
    rows = []
    for customer in customers:
        # some customers only start ordering inside the window, some never order
        first_order = last - timedelta(weeks=int(rng.integers(0, 60)))
        never = rng.random() < 0.05
        for sku in skus:
            if rng.random() < 0.3:
                continue
            rate = rng.choice([0.15, 0.4, 0.9])
            for back in range(60):
                week = last - timedelta(weeks=back)
                ordered = week >= first_order and not never and rng.random() < rate
                if not ordered and rng.random() < 0.5:
                    continue  # no row: a week without demand
                qty = Decimal(int(rng.integers(1, 400))) / 1000 * Decimal(int(rng.integers(1, 50))) if ordered else 0
                rows.append((customer, sku, week, qty))
                if ordered and rng.random() < 0.05:  # a second row of the same week
                    rows.append((customer, sku, week, Decimal("0.1")))
                    rows.append((customer, sku, week, Decimal("0.2")))
        if rng.random() < 0.2:  # a row after the last complete week: outside every window
            rows.append((customer, skus[0], last + timedelta(weeks=1), Decimal(7)))
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        """create table marts.customer_sku_weekly_demand (customer_id varchar, sku varchar, week_start date,
           ordered_qty decimal(38, 3), requested_qty decimal(38, 3))"""
    )
    frame = pd.DataFrame(rows, columns=["customer_id", "sku", "week_start", "qty"])
    con.register("_rows", frame)
    con.execute(
        "insert into marts.customer_sku_weekly_demand select customer_id, sku, week_start, qty::decimal(38, 3),"
        " qty::decimal(38, 3) from _rows"
    )
    con.unregister("_rows")
    # members: most customers (some rows belong to nobody's segment), three segments
    # and one whose shops have all closed
    members = pd.DataFrame(
        {
            "customer_id": customers[:38],
            "segment_id": [f"S{i % 3}" for i in range(36)] + ["S3", "S3"],
            "lifecycle_state": [STATES[int(k)] for k in rng.integers(0, len(STATES), 36)] + ["closed", "closed"],
            "region": "x",
        }
    )
    # forecasts of most segment × SKUs, one SKU nobody orders
    series = [(s, k) for s in ("S0", "S1", "S2") for k in [*skus[:5], "K_none"] if rng.random() < 0.9]
    series.append(("S3", skus[0]))
    forecast_rows = pd.DataFrame(
        [(s, k, h) for s, k in series for h in (1, 2)], columns=["segment_id", "sku", "horizon"]
    )
    return con, members, forecast_rows


def _reference(con, rows, members, config) -> pd.DataFrame:
    """The shares with the ratio window read as a frame of every customer × SKU × week."""
    settings = config.forecasting
    last = last_complete_week_start(ORIGIN)
    quantity = settings.quantity
    recent = con.execute(
        f"""select customer_id, sku, sum({quantity})::double as qty from marts.customer_sku_weekly_demand
            where week_start between ? and ? group by all order by customer_id, sku""",
        [last - timedelta(weeks=settings.share_window_weeks - 1), last],
    ).df()
    weekly = con.execute(
        f"""select customer_id, sku, week_start, sum({quantity})::double as qty
            from marts.customer_sku_weekly_demand where week_start between ? and ?
            group by all order by customer_id, sku, week_start""",
        [last - timedelta(weeks=RATIO_WINDOW_WEEKS - 1), last],
    ).df()
    first_weeks = con.execute(
        f"""select customer_id, min(week_start) as first_week from marts.customer_sku_weekly_demand
            where week_start <= ? and {quantity} > 0 group by all order by customer_id""",
        [last],
    ).df()
    series = rows.loc[rows["horizon"] == 1, ["segment_id", "sku"]]
    shares = customer_shares(
        recent,
        members,
        series,
        weekly,
        last_week=last,
        level=settings.interval_level,
        first_weeks=first_weeks,
    )
    shares.insert(0, "forecast_origin", ORIGIN)
    return shares


@pytest.mark.parametrize(("seed", "share_weeks"), [(1, 13), (2, 26), (3, 30)])
def test_shares_at_matches_the_frame_of_every_week_to_the_last_digit(tmp_path, seed, share_weeks):
    # share window inside the ratio window (its demand read with the cells) or longer
    config = load_config(PROJECT_ROOT / "restock.yaml").override({"forecasting.share_window_weeks": share_weeks})
    con, members, rows = _warehouse(tmp_path / "w.duckdb", seed)
    expected = _reference(con, rows, members, config)
    shares, unallocated = origins._shares_at(con, ORIGIN, rows, members, config)

    pd.testing.assert_frame_equal(shares, expected, check_exact=True)
    for column in ("share", "lower_ratio", "upper_ratio"):  # bit for bit, NaN where NaN
        assert (shares[column].to_numpy().view(np.int64) == expected[column].to_numpy().view(np.int64)).all()
    # the cases the comparison is about are there
    assert unallocated == 1  # S3: all closed
    weekly = con.execute(
        "select customer_id, sku, week_start, requested_qty from marts.customer_sku_weekly_demand"
        " where week_start between ? and ?",
        [last_complete_week_start(ORIGIN) - timedelta(weeks=RATIO_WINDOW_WEEKS - 1), last_complete_week_start(ORIGIN)],
    ).df()
    firsts = (
        con.execute(
            "select customer_id, min(week_start) from marts.customer_sku_weekly_demand where requested_qty > 0 group by 1"
        )
        .df()
        .set_index("customer_id")
        .iloc[:, 0]
    )
    pairs = weekly.groupby(["customer_id", "sku"]).agg(first_row=("week_start", "min"), top=("requested_qty", "max"))
    early = pairs["first_row"] < pairs.index.get_level_values(0).map(firsts)
    assert (early & (pairs["top"] > 0)).any()  # a week of 0 before the customer's first order counts
    assert (pairs["top"] == 0).any()  # customer × SKUs with weeks of 0 only
    assert shares["lower_ratio"].notna().sum() > 20
    assert set(shares["basis"]) >= {"own_history", "peer_average", "equal_split"}
    assert not con.execute("select * from duckdb_tables() where table_name = ?", [origins.RATIO_PAIRS]).fetchall()


def test_weekly_cells_give_the_ratios_of_the_frame(tmp_path):
    config = load_config(PROJECT_ROOT / "restock.yaml")
    con, members, _ = _warehouse(tmp_path / "w.duckdb", 4)
    last = last_complete_week_start(ORIGIN)
    quantity = config.forecasting.quantity
    weekly = con.execute(
        f"""select customer_id, sku, week_start, sum({quantity})::double as qty
            from marts.customer_sku_weekly_demand where week_start between ? and ? group by all""",
        [last - timedelta(weeks=RATIO_WINDOW_WEEKS - 1), last],
    ).df()
    firsts = con.execute(
        f"select customer_id, min(week_start) as first_week from marts.customer_sku_weekly_demand"
        f" where {quantity} > 0 group by all"
    ).df()
    cells, _ = origins._ratio_cells(con, last, quantity, config.forecasting.share_window_weeks)
    assert isinstance(cells, WeeklyCells)
    # only the non-zero weeks travel
    assert len(cells.qty) == int((weekly["qty"] != 0).sum()) and (cells.qty != 0).all()
    pool = members[members["lifecycle_state"].isin(("active", "at_risk"))][["customer_id", "segment_id"]]
    a = interval_ratios(weekly, last, first_weeks=firsts, pool=pool)
    b = interval_ratios(cells, last, first_weeks=firsts, pool=pool)
    assert len(a.own) > 20 and len(a.pooled) > 3
    pd.testing.assert_frame_equal(b.own.reset_index(drop=True), a.own.reset_index(drop=True), check_exact=True)
    pd.testing.assert_frame_equal(b.pooled, a.pooled, check_exact=True)
    with pytest.raises(ValueError, match="weeks ending"):
        interval_ratios(cells, last - timedelta(weeks=1))


@pytest.mark.parametrize("window", ["zeros", "empty"])
def test_shares_at_matches_the_frame_when_the_ratio_window_has_no_demand(tmp_path, window):
    config = load_config(PROJECT_ROOT / "restock.yaml")
    con, members, rows = _warehouse(tmp_path / "w.duckdb", 5)
    first = last_complete_week_start(ORIGIN) - timedelta(weeks=RATIO_WINDOW_WEEKS - 1)
    if window == "zeros":
        con.execute("update marts.customer_sku_weekly_demand set requested_qty = 0 where week_start >= ?", [first])
    else:
        con.execute("delete from marts.customer_sku_weekly_demand where week_start >= ?", [first])
    expected = _reference(con, rows, members, config)
    shares, _ = origins._shares_at(con, ORIGIN, rows, members, config)
    pd.testing.assert_frame_equal(shares, expected, check_exact=True)
    assert len(shares) and shares["lower_ratio"].isna().all()


def _plain_bounds(values: np.ndarray, level: float) -> tuple[float, float]:
    alpha = 1 - level
    lower = np.quantile(values, alpha / 2, method="weibull")
    upper = np.quantile(values, 1 - alpha if lower <= 0 else 1 - alpha / 2, method="weibull")
    return min(max(lower, 0.0), 1.0), max(upper, 1.0)


def test_cell_ratios_match_a_plain_loop_with_numpys_weibull_quantiles(tmp_path):
    """Own and pooled ratios from the cells against one loop per customer × SKU and per
    segment × SKU with np.quantile(method="weibull") (floats to 1e-12: numpy
    interpolates in another order)."""
    config = load_config(PROJECT_ROOT / "restock.yaml")
    level = config.forecasting.interval_level
    con, members, _ = _warehouse(tmp_path / "w.duckdb", 6)
    last = last_complete_week_start(ORIGIN)
    first = last - timedelta(weeks=RATIO_WINDOW_WEEKS - 1)
    quantity = config.forecasting.quantity
    firsts = con.execute(
        f"select customer_id, min(week_start) as first_week from marts.customer_sku_weekly_demand"
        f" where {quantity} > 0 and week_start <= ? group by all",
        [last],
    ).df()
    cells, _ = origins._ratio_cells(con, last, quantity, 13)
    pool = members[members["lifecycle_state"].isin(("active", "at_risk"))][["customer_id", "segment_id"]]
    ratios = interval_ratios(cells, last, level=level, first_weeks=firsts, pool=pool)

    weekly = con.execute(
        f"""select customer_id, sku, week_start, sum({quantity})::double as qty from marts.customer_sku_weekly_demand
            where week_start between ? and ? group by all""",
        [first, last],
    ).df()
    first_of = dict(zip(firsts["customer_id"], pd.to_datetime(firsts["first_week"]), strict=True))
    own, normalised = [], {}
    for (customer, sku), rows in weekly.groupby(["customer_id", "sku"]):
        weeks = ((pd.to_datetime(rows["week_start"]) - pd.Timestamp(first)).dt.days // 7).to_numpy()
        series = np.zeros(RATIO_WINDOW_WEEKS)
        series[weeks] = rows["qty"].to_numpy()
        begin = max(0, min((first_of[customer] - pd.Timestamp(first)).days // 7, weeks.min()))
        counted = series[begin:]
        if len(counted) < 9 or counted.mean() <= 0:
            continue
        normalised[(customer, sku)] = counted / counted.mean()
        own.append((customer, sku, len(counted), *_plain_bounds(normalised[(customer, sku)], level)))
    plain = pd.DataFrame(own, columns=["customer_id", "sku", "n_weeks", "lower_ratio", "upper_ratio"])
    got = ratios.own.sort_values(["customer_id", "sku"], ignore_index=True)
    assert len(plain) > 20
    pd.testing.assert_frame_equal(got, plain, check_dtype=False, rtol=1e-12, atol=1e-12)

    segment_of = dict(zip(pool["customer_id"], pool["segment_id"], strict=True))
    groups: dict[tuple, list] = {}
    for (customer, sku), values in normalised.items():
        if customer in segment_of:
            groups.setdefault((segment_of[customer], sku), []).append(values)
    pooled = pd.DataFrame(
        [(s, k, len(v), *_plain_bounds(np.concatenate(v), level)) for (s, k), v in sorted(groups.items())],
        columns=["segment_id", "sku", "n_customers", "lower_ratio", "upper_ratio"],
    )
    assert len(pooled) > 3
    pd.testing.assert_frame_equal(ratios.pooled, pooled, check_dtype=False, rtol=1e-12, atol=1e-12)
