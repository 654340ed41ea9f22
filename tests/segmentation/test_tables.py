"""The assembly of the segmentation tables: amounts exact to the cent and every value
the same to the last digit whatever the order of the rows read (issue 12, point 11)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from restock.config import load_config
from restock.segmentation.tables import build_product_classes
from restock.settings import PROJECT_ROOT

AS_OF = date(2024, 7, 7)  # a Sunday: the week of 07-01 is complete
RULES = load_config(PROJECT_ROOT / "restock.yaml").product_classes


def _weekly(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    last = date(2024, 7, 1)
    rows = []
    for k in range(30):
        for w in range(RULES.window_weeks):
            if rng.random() < 0.7:
                cents = int(rng.integers(1, 5_000_000))
                rows.append((f"K{k:02d}", last - timedelta(weeks=w), float(rng.integers(1, 400)), cents))
    return pd.DataFrame(rows, columns=["sku", "week_start", "qty", "cents"])


def test_product_classes_are_exact_and_independent_of_the_row_order():
    weekly = _weekly(3)
    weekly["value"] = weekly["cents"] / 100
    skus = sorted(set(weekly["sku"])) + ["K99"]  # one SKU without demand
    first = build_product_classes(weekly.drop(columns="cents"), skus, AS_OF, RULES)
    for seed in range(5):
        shuffled = weekly.sample(frac=1.0, random_state=np.random.RandomState(seed)).drop(columns="cents")
        again = build_product_classes(shuffled.reset_index(drop=True), skus, AS_OF, RULES)
        pd.testing.assert_frame_equal(again, first, check_exact=True)
    exact = weekly.groupby("sku")["cents"].sum()
    by_sku = first.set_index("sku")
    assert by_sku.loc["K99", "total_value"] == 0.0 and by_sku.loc["K99", "value_share"] == 0.0
    for sku, cents in exact.items():
        assert by_sku.loc[sku, "total_value"] == float(Decimal(int(cents)) / 100), sku
    assert abs(first["value_share"].sum() - 1.0) < 1e-12


# --- lifecycle by rhythm, read from a real DuckDB file ---------------------------------


def _segments_warehouse(path, lines: list[tuple[str, date]]):
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(
        """create table marts.customers (as_of_date date, customer_id varchar, tier integer, tier_source varchar,
           channel varchar, region varchar, customer_status varchar, opened_on date, closed_on date)"""
    )
    for customer in sorted({c for c, _ in lines}):
        con.execute(
            "insert into marts.customers values (?, ?, 7, 'crm', '便利店', 'R1', 'active', '2020-01-01', null)",
            [AS_OF, customer],
        )
    con.execute("create table marts.order_lines (customer_id varchar, order_date date, line_amount decimal(18,2))")
    con.executemany("insert into marts.order_lines values (?, ?, 12.50)", [[c, d] for c, d in lines])
    return con


def test_customer_segments_follow_each_customers_rhythm(tmp_path):
    from restock.segmentation.tables import customer_segments_for_day

    # AS_OF is Sunday 2024-07-07. "monthly" ordered every 4 weeks, last 3 weeks ago;
    # "weekly" every week, last 3 weeks ago; "bimonthly" every 8 weeks, last 20 weeks
    # ago; "two_orders" only twice, 4 weeks apart, last 3 weeks ago.
    last = AS_OF - timedelta(weeks=3)
    lines = [("monthly", last - timedelta(weeks=4 * k)) for k in range(12)]
    lines += [("monthly", last - timedelta(weeks=4 * k)) for k in range(3)]  # a second line those days
    lines += [("weekly", last - timedelta(weeks=k)) for k in range(30)]
    lines += [("bimonthly", AS_OF - timedelta(weeks=20 + 8 * k)) for k in range(6)]
    lines += [("two_orders", last), ("two_orders", last - timedelta(weeks=4))]
    lines += [("weekly", AS_OF + timedelta(days=1))]  # after the day: ignored
    con = _segments_warehouse(tmp_path / "w.duckdb", lines)
    config = load_config(PROJECT_ROOT / "restock.yaml")
    rows = customer_segments_for_day(con, AS_OF, config.segmentation).set_index("customer_id")
    # own interval: monthly 21 // 28 = 0 missed -> active; weekly 21 // 7 = 3 -> at_risk;
    # bimonthly 140 // 56 = 2 -> at_risk; two_orders has no rhythm yet: 3 weekly cycles
    assert rows["lifecycle_state"].to_dict() == {
        "bimonthly": "at_risk",
        "monthly": "active",
        "two_orders": "at_risk",
        "weekly": "at_risk",
    }
    fixed = config.override({"segmentation.lifecycle.rhythm": "fixed_cycle"}).segmentation
    rows = customer_segments_for_day(con, AS_OF, fixed).set_index("customer_id")
    # every customer on 7-day cycles: bimonthly 140 // 7 = 20 -> churned
    assert rows["lifecycle_state"].to_dict() == {
        "bimonthly": "churned",
        "monthly": "at_risk",
        "two_orders": "at_risk",
        "weekly": "at_risk",
    }
    # a window of 2 order days gives two_orders its rhythm too (1 gap of 28 days)
    short = config.override(
        {"segmentation.lifecycle.rhythm_window_orders": 2, "segmentation.lifecycle.min_orders_for_rhythm": 2}
    ).segmentation
    rows = customer_segments_for_day(con, AS_OF, short).set_index("customer_id")
    assert rows.loc["two_orders", "lifecycle_state"] == "active"
    con.close()


def test_lifecycle_settings_defaults_match_and_are_checked():
    import pytest

    from restock.config import LifecycleConfig
    from restock.segmentation import customers

    lifecycle = load_config(PROJECT_ROOT / "restock.yaml").segmentation.lifecycle
    assert lifecycle.rhythm == customers.DEFAULT_RHYTHM == customers.OWN_INTERVAL
    assert lifecycle.rhythm_window_orders == customers.DEFAULT_RHYTHM_WINDOW_ORDERS
    assert lifecycle.min_orders_for_rhythm == customers.DEFAULT_MIN_ORDERS_FOR_RHYTHM
    with pytest.raises(ValueError, match="min_orders_for_rhythm <= rhythm_window_orders"):
        LifecycleConfig(rhythm_window_orders=3, min_orders_for_rhythm=4)
    with pytest.raises(ValueError):
        LifecycleConfig(rhythm="weekly")


def test_a_run_reads_the_order_days_once_and_each_day_gets_the_rows_of_its_own_queries(tmp_path):
    """customer_segments_for_day with a run's OrderDays: for every day the same order
    amounts, first / last order dates and last order days as the day's own queries, so
    the same rows to the last digit (random customers, several lines a day, a customer
    whose first order comes late, orders after the run)."""
    from restock.segmentation.tables import OrderDays, customer_segments_for_day

    rng = np.random.default_rng(5)
    lines = []
    for k in range(25):
        start = AS_OF - timedelta(days=int(rng.integers(0, 300)))
        gap = int(rng.integers(1, 40))
        day = start
        while day <= AS_OF + timedelta(days=30):
            lines.extend([(f"C{k:02d}", day)] * int(rng.integers(1, 3)))
            day += timedelta(days=gap + int(rng.integers(0, 5)))
    con = _segments_warehouse(tmp_path / "w.duckdb", lines)
    con.execute("update marts.order_lines set line_amount = 0.01 * (hash(customer_id || order_date) % 100000)")
    days = [AS_OF - timedelta(days=d) for d in (200, 40, 3, 2, 1, 0)]
    con.execute(
        "insert into marts.customers select unnest(?::date[]), customer_id, tier, tier_source, channel, "
        "region, customer_status, opened_on, closed_on from marts.customers where as_of_date = ?",
        [days[:-1], AS_OF],
    )
    config = load_config(PROJECT_ROOT / "restock.yaml").segmentation
    orders = OrderDays(con, AS_OF)
    for day in days:
        own = customer_segments_for_day(con, day, config)
        shared = customer_segments_for_day(con, day, config, orders)
        assert len(own) == 25
        pd.testing.assert_frame_equal(own, shared, check_exact=True)
        first = day - timedelta(weeks=4)
        pd.testing.assert_frame_equal(
            orders.amounts(first, day),
            con.execute(
                """select customer_id, order_date, sum(line_amount)::double as line_amount from marts.order_lines
                   where order_date between ? and ? group by all order by all""",
                [first, day],
            ).df(),
            check_exact=True,
        )
        pd.testing.assert_frame_equal(
            orders.last_order_days(day, 3),
            con.execute(
                """select customer_id, order_date from (select customer_id, order_date, row_number() over
                   (partition by customer_id order by order_date desc) as k from (select distinct customer_id,
                   order_date from marts.order_lines where order_date <= ?)) where k <= 3 order by all""",
                [day],
            ).df(),
            check_exact=True,
        )
    con.close()


def test_the_days_of_a_week_share_their_product_classes_but_for_the_date(tmp_path):
    """product_classes_for_day with a run's same_week memo: every day the rows of its own
    build (the days of a week read the same complete weeks); a SKU added to the product
    snapshot mid-week is classified from that day on."""
    import duckdb

    from restock.segmentation.tables import product_classes_for_day

    rng = np.random.default_rng(8)
    con = duckdb.connect(str(tmp_path / "c.duckdb"))
    con.execute("create schema marts")
    weeks = [AS_OF - timedelta(days=6) - timedelta(weeks=k) for k in range(40)]  # Mondays
    weekly = pd.DataFrame(
        [(f"K{k}", w, float(rng.integers(0, 50))) for k in range(8) for w in weeks if rng.random() < 0.8],
        columns=["sku", "week_start", "requested_qty"],
    )
    con.register("_weekly", weekly)
    con.execute("create table marts.customer_sku_weekly_demand as select * from _weekly")
    con.execute(
        "create table marts.order_lines as select sku, week_start, (requested_qty * 1.25)::decimal(18,2) as "
        "line_amount from _weekly"
    )
    days = [AS_OF - timedelta(days=d) for d in range(16, -1, -1)]
    products = [(d, f"K{k}") for d in days for k in range(8 if d < AS_OF - timedelta(days=3) else 9)]
    con.execute("create table marts.products (as_of_date date, sku varchar)")
    con.executemany("insert into marts.products values (?, ?)", products)
    rules = load_config(PROJECT_ROOT / "restock.yaml").product_classes
    same_week: dict = {}
    for day in days:
        own = product_classes_for_day(con, day, rules, "requested_qty")
        shared = product_classes_for_day(con, day, rules, "requested_qty", same_week)
        assert len(own) == (8 if day < AS_OF - timedelta(days=3) else 9)
        pd.testing.assert_frame_equal(own, shared, check_exact=True)
    con.close()


def test_a_long_run_in_worker_processes_writes_the_rows_of_a_loop_of_days(tmp_path):
    """customer_segments_in_workers (two workers, blocks of 3 days: 4 rounds over 12
    days): every day's rows as customer_segments_for_day gives them alone."""
    import duckdb

    from restock.segmentation.tables import SEGMENT_COLUMNS, customer_segments_for_day, customer_segments_in_workers
    from tests.warehouse_writer import counting_writer

    rng = np.random.default_rng(8)
    days = [AS_OF - timedelta(days=d) for d in range(11, -1, -1)]
    lines = [(f"C{k:02d}", AS_OF - timedelta(days=int(d))) for k in range(30) for d in rng.integers(0, 120, 6)]
    path = tmp_path / "w.duckdb"
    con = _segments_warehouse(path, lines)
    con.execute(
        "insert into marts.customers select unnest(?::date[]), customer_id, tier, tier_source, channel, "
        "region, customer_status, opened_on, closed_on from marts.customers where as_of_date = ?",
        [days[:-1], AS_OF],
    )
    config = load_config(PROJECT_ROOT / "restock.yaml").override({"backfill.workers": 2, "backfill.block_days": 3})
    expected = pd.concat([customer_segments_for_day(con, day, config.segmentation) for day in days], ignore_index=True)
    con.close()

    opened: list = []
    seen: list = []
    rows = customer_segments_in_workers(
        counting_writer(path, opened), path, days, config, lambda i, day, *_: seen.append((i, day))
    )
    assert rows == len(expected) == 30 * len(days)
    assert seen == list(enumerate(days, 1)) and len(opened) == 1 + 2
    con = duckdb.connect(str(path))
    got = con.execute(f"select {', '.join(SEGMENT_COLUMNS)} from analytics.customer_segments").df()
    sort = ["as_of_date", "customer_id"]
    expected["as_of_date"] = pd.to_datetime(expected["as_of_date"])
    pd.testing.assert_frame_equal(
        got.sort_values(sort, ignore_index=True),
        expected[SEGMENT_COLUMNS].astype(got.dtypes.to_dict()).sort_values(sort, ignore_index=True),
        check_exact=True,
    )
