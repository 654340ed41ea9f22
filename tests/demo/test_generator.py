"""The demo distributor generator, on a tiny generated landing folder."""

from __future__ import annotations

import gzip
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from restock import calendar as cal
from restock.contract import EXTRACTS
from restock.demo import DemoConfig, generate, read_manifest
from restock.demo.cli import main as cli_main

ID_TYPES = {"customer_id": str, "sku": str, "order_id": str}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("landing")
    return generate(DemoConfig.for_scale("tiny"), out)


@pytest.fixture(scope="module")
def orders(run) -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=ID_TYPES) for p in sorted((run.out_dir / "orders").glob("*.csv"))]
    df = pd.concat([f for f in frames if len(f)], ignore_index=True)
    df["order_date"] = pd.to_datetime(df["order_date"]).dt.date
    return df


@pytest.fixture(scope="module")
def inventory(run) -> pd.DataFrame:
    frames = []
    for p in sorted((run.out_dir / "inventory").glob("*.csv.gz")):
        df = pd.read_csv(p, dtype=ID_TYPES)
        df["day"] = date.fromisoformat(p.name[:10])
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def customer_snapshots(run) -> dict[date, pd.DataFrame]:
    return {
        date.fromisoformat(p.name[:10]): pd.read_csv(p, encoding="gb18030", dtype=ID_TYPES)
        for p in sorted((run.out_dir / "customers").glob("*.csv"))
    }


def _days(run) -> list[date]:
    return list(run.dates)


# --- layout and formats -------------------------------------------------------------------
def test_a_file_every_day_for_daily_extracts_and_a_snapshot_on_day_one(run):
    days = _days(run)
    for day in days:
        assert (run.out_dir / "orders" / f"{day}.csv").exists()
        assert (run.out_dir / "inventory" / f"{day}.csv.gz").exists()
    first = days[0]
    assert (run.out_dir / "customers" / f"{first}.csv").exists()
    assert (run.out_dir / "products" / f"{first}.csv").exists()
    assert (run.out_dir / "promotions" / f"{first}.parquet").exists()
    # Snapshots come only when something changed (the 1st of a month at least).
    n_customer_files = len(list((run.out_dir / "customers").iterdir()))
    assert 1 < n_customer_files < len(days)
    manifest = read_manifest(run.out_dir)
    assert manifest["start"] == str(first) and manifest["end"] == str(days[-1])
    assert set(manifest["region_warehouse"].values()) == set(run.warehouses)
    assert not [p for p in run.out_dir.iterdir() if p.name not in EXTRACTS and p.name != "_demo_manifest.json"]


def _header(path: Path) -> list[str]:
    if path.name.endswith(".parquet"):
        return pq.read_schema(path).names
    data = path.read_bytes()
    if path.name.endswith(".gz"):
        data = gzip.decompress(data)
    text = data.decode("gb18030")  # a superset of GBK and of ASCII-only UTF-8 headers
    return [c.strip('"') for c in text.splitlines()[0].split(",")]


def test_every_file_has_exactly_the_contract_columns(run):
    for name, extract in EXTRACTS.items():
        files = sorted((run.out_dir / name).iterdir())
        assert files, name
        for path in files:
            assert _header(path) == list(extract.columns), path


def test_customer_and_product_files_are_gbk_not_utf8(run):
    for name in ("customers", "products"):
        for path in (run.out_dir / name).iterdir():
            data = path.read_bytes()
            text = data.decode("gb18030")
            assert any("\u4e00" <= ch <= "\u9fff" for ch in text), path
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
    products = pd.read_csv(next((run.out_dir / "products").iterdir()), encoding="gb18030")
    assert set(products["unit"]) == {"条"}
    assert (products["unit_cost"] < products["list_price"]).all()
    assert products["list_price"].between(30, 700).all()
    assert products["lead_time_days"].between(3, 14).all()


def test_orders_and_inventory_are_utf8(run):
    for path in (run.out_dir / "orders").iterdir():
        path.read_bytes().decode("utf-8")
    for path in list((run.out_dir / "inventory").iterdir())[:5]:
        gzip.decompress(path.read_bytes()).decode("utf-8")


# --- orders --------------------------------------------------------------------------------
def test_header_only_orders_files_on_holidays_and_orders_on_working_weekdays(run, orders):
    holidays = [d for d in _days(run) if cal.is_holiday(d)]
    assert any(cal.is_spring_festival_holiday(d) for d in holidays)
    for day in holidays:
        lines = (run.out_dir / "orders" / f"{day}.csv").read_text(encoding="utf-8").splitlines()
        assert len(lines) == 1, day  # header only
    dates_with_orders = set(orders["order_date"])
    for day in _days(run):
        if not cal.is_holiday(day) and day.isoweekday() <= 5:
            assert day in dates_with_orders, day


def test_supplied_never_exceeds_requested_and_some_lines_are_short(orders):
    assert (orders["quantity"] >= 0).all()
    assert (orders["requested_quantity"] >= 1).all()
    assert (orders["quantity"] <= orders["requested_quantity"]).all()
    assert (orders["quantity"] < orders["requested_quantity"]).any()


def test_amount_is_quantity_times_unit_price(orders):
    assert np.allclose(orders["amount"], orders["quantity"] * orders["unit_price"], atol=0.005)


def test_cancelled_orders_are_whole_orders_and_rare(orders):
    per_order = orders.groupby("order_id")["status"].agg(["nunique", "first"])
    assert (per_order["nunique"] == 1).all()
    assert set(per_order["first"]) <= {"confirmed", "cancelled"}
    share = (per_order["first"] == "cancelled").mean()
    assert 0 < share < 0.05


def test_each_customer_orders_once_on_its_weekday(orders, customer_snapshots):
    latest = customer_snapshots[max(customer_snapshots)]
    weekday = latest.set_index("customer_id")["order_weekday"]
    ordered_on = orders.drop_duplicates(["order_id"])[["customer_id", "order_date"]]
    actual = ordered_on["order_date"].map(lambda d: d.isoweekday())
    assert (actual.to_numpy() == weekday.loc[ordered_on["customer_id"]].to_numpy()).all()
    assert not ordered_on.duplicated(["customer_id", "order_date"]).any()
    lines = orders.groupby("order_id")["line_no"].agg(["min", "max", "count"])
    assert (lines["min"] == 1).all() and (lines["max"] == lines["count"]).all()


def test_no_orders_from_closed_suspended_or_unopened_shops(orders, customer_snapshots):
    snapshot_days = sorted(customer_snapshots)
    for day, day_orders in orders.groupby("order_date"):
        in_force = customer_snapshots[max(d for d in snapshot_days if d <= day)]
        snap = in_force.set_index("customer_id")
        ids = day_orders["customer_id"].unique()
        assert set(ids) <= set(snap.index), day  # not yet in the CRM = not opened
        rows = snap.loc[ids]
        assert (rows["status"] == "active").all(), day
        iso = day.isoformat()  # ISO dates compare correctly as text
        assert (rows["opened_on"] <= iso).all(), day
        closed = rows["closed_on"]
        assert (closed.isna() | (closed.astype(str) > iso)).all(), day


def test_customers_snapshots_cover_tiers_channels_and_lifecycle(customer_snapshots):
    first = customer_snapshots[min(customer_snapshots)]
    assert first["customer_id"].is_unique
    tiers = first["tier"].dropna()
    assert tiers.between(1, 30).all()
    assert first["tier"].isna().any()  # some CRM tiers are empty
    assert first["order_weekday"].between(1, 7).all()
    assert first["channel"].nunique() >= 4
    statuses = set().union(*(set(s["status"]) for s in customer_snapshots.values()))
    assert statuses == {"active", "suspended", "closed"}
    last = customer_snapshots[max(customer_snapshots)]
    assert len(last) > len(first)  # shops opened during the period


def test_spring_festival_weeks_are_above_the_average_week(run, orders):
    days = _days(run)
    sf = cal.spring_festival(days[0].year)
    assert days[0] <= sf - timedelta(days=21) and sf <= days[-1]
    daily = orders.groupby("order_date")["requested_quantity"].sum()
    overall_weekly = daily.sum() / (len(days) / 7)
    peak = daily[(daily.index >= sf - timedelta(days=21)) & (daily.index < sf)].sum() / 3
    assert peak > 1.3 * overall_weekly


def test_promotions_are_a_full_list_announced_before_they_start(run):
    files = sorted((run.out_dir / "promotions").glob("*.parquet"))
    previous = 0
    for path in files:
        table = pq.read_table(path).to_pandas()
        delivered = date.fromisoformat(path.name[:10])
        assert len(table) >= previous  # a full list that grows
        previous = len(table)
        assert (table["end_date"] >= table["start_date"]).all()
        new = table[table["start_date"] > delivered]
        assert ((new["start_date"] - delivered).map(lambda x: x.days) <= 14).all()


# --- warehouse simulation -------------------------------------------------------------------
def test_stock_never_negative(run, inventory):
    assert (run.on_hand >= 0).all() and (run.in_transit >= 0).all()
    assert (inventory[["on_hand_qty", "in_transit_qty", "allocated_qty"]] >= 0).all().all()
    assert (inventory["allocated_qty"] <= inventory["on_hand_qty"]).all()


def test_on_hand_identity_from_files(run, inventory):
    """on_hand(t) = on_hand(t-1) + received(t) - allocated(t-1) - written_off(t), read back from the files."""
    wh_index = {w: i for i, w in enumerate(run.warehouses)}
    sku_index = {s: i for i, s in enumerate(run.skus)}
    shape = (len(run.dates), len(run.warehouses), len(run.skus))
    on_hand, allocated = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    t = inventory["day"].map({d: i for i, d in enumerate(run.dates)}).to_numpy()
    w = inventory["warehouse_id"].map(wh_index).to_numpy()
    k = inventory["sku"].map(sku_index).to_numpy()
    on_hand[t, w, k] = inventory["on_hand_qty"]
    allocated[t, w, k] = inventory["allocated_qty"]
    assert np.array_equal(on_hand, run.on_hand)
    expected = np.zeros_like(on_hand)
    expected[0] = on_hand[0]
    expected[1:] = on_hand[:-1] + run.receipts[1:] - allocated[:-1] - run.written_off[1:]
    assert np.array_equal(on_hand[1:], expected[1:])
    assert run.receipts[1:].sum() > 0


def test_allocated_equals_confirmed_order_quantity(run, orders, inventory, customer_snapshots):
    customers = pd.concat(customer_snapshots.values()).drop_duplicates("customer_id", keep="last")
    warehouse = customers.set_index("customer_id")["region"].map(run.region_warehouse)
    confirmed = orders[orders["status"] == "confirmed"].copy()
    confirmed["warehouse_id"] = confirmed["customer_id"].map(warehouse)
    shipped = confirmed.groupby(["order_date", "warehouse_id", "sku"])["quantity"].sum()
    inv = inventory.set_index(["day", "warehouse_id", "sku"])["allocated_qty"]
    inv.index = inv.index.set_names(["order_date", "warehouse_id", "sku"])
    joined = pd.concat([shipped.rename("orders"), inv.rename("inventory")], axis=1)
    assert joined["inventory"].notna().all()  # every ordered SKU has an inventory row
    joined = joined.fillna({"orders": 0})
    assert (joined["orders"] == joined["inventory"]).all()


def test_oldest_batch_date_is_empty_only_without_stock(inventory):
    empty = inventory["oldest_batch_date"].isna()
    assert (empty == (inventory["on_hand_qty"] == 0)).all()
    oldest = pd.to_datetime(inventory.loc[~empty, "oldest_batch_date"]).dt.date
    assert (oldest <= inventory.loc[~empty, "day"]).all()


# --- determinism and the CLI -----------------------------------------------------------------
def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    config = DemoConfig.for_scale("tiny", days=45, seed=7)
    generate(config, tmp_path / "a")
    generate(config, tmp_path / "b")
    generate(DemoConfig.for_scale("tiny", days=45, seed=8), tmp_path / "c")
    a, b, c = (_tree_bytes(tmp_path / x) for x in "abc")
    assert a == b
    assert a != c


def test_scale_presets_and_overrides():
    tiny = DemoConfig.for_scale("tiny", seed=3, days=None)
    assert (tiny.n_customers, tiny.n_skus, tiny.seed) == (60, 15, 3)
    demo = DemoConfig.for_scale("demo")
    assert (demo.n_customers, demo.n_skus, demo.days, demo.start) == (2000, 150, 731, date(2024, 1, 1))
    assert demo.end == date(2025, 12, 31)
    with pytest.raises(ValueError):
        DemoConfig.for_scale("huge")
    with pytest.raises(ValueError):
        DemoConfig.for_scale("tiny", start=date(2100, 11, 1))  # beyond the calendar (1950-2100)


def test_cli_writes_and_refuses_to_mix_with_foreign_files(tmp_path, capsys):
    out = tmp_path / "landing"
    assert cli_main(["--scale", "tiny", "--days", "10", "--out", str(out), "--quiet"]) == 0
    assert "order lines" in capsys.readouterr().out
    assert len(list((out / "orders").iterdir())) == 10
    # Re-running over a folder this generator wrote replaces it.
    assert cli_main(["--scale", "tiny", "--days", "5", "--out", str(out), "--quiet"]) == 0
    assert len(list((out / "orders").iterdir())) == 5
    foreign = tmp_path / "foreign"
    (foreign / "orders").mkdir(parents=True)
    (foreign / "orders" / "2024-01-01.csv").write_text("order_id\n")
    assert cli_main(["--scale", "tiny", "--days", "5", "--out", str(foreign), "--quiet"]) == 1
    assert (foreign / "orders" / "2024-01-01.csv").read_text() == "order_id\n"


# --- opt-in variants: irregular buyers, lapses, new shops, a trend (issue 11) ----------------
def _order_days(out: Path) -> pd.DataFrame:
    frames = [pd.read_csv(p, dtype=ID_TYPES) for p in sorted((out / "orders").glob("*.csv"))]
    df = pd.concat([f for f in frames if len(f)], ignore_index=True)
    df = df[df["status"] == "confirmed"]
    df["order_date"] = pd.to_datetime(df["order_date"])
    return df


def test_variants_at_their_defaults_change_no_byte_and_are_not_in_the_manifest(tmp_path):
    plain = DemoConfig.for_scale("tiny", days=30)
    explicit = DemoConfig.for_scale("tiny", days=30, rhythm_weeks=(1,), lapse_rate=0.0, open_rate=None, trend=0.0)
    assert not plain.has_variants and not explicit.has_variants
    generate(plain, tmp_path / "a")
    generate(explicit, tmp_path / "b")
    assert _tree_bytes(tmp_path / "a") == _tree_bytes(tmp_path / "b")
    config = read_manifest(tmp_path / "a")["config"]
    assert not {"rhythm_weeks", "lapse_rate", "open_rate", "trend"} & set(config)
    assert config["slow_lot_weeks"] == 4.0  # not an opt-in variant: always recorded
    varied = DemoConfig.for_scale("tiny", days=30, rhythm_weeks=(1, 4), trend=-0.1)
    assert varied.has_variants
    assert varied.manifest_config()["rhythm_weeks"] == [1, 4] and varied.manifest_config()["trend"] == -0.1
    for bad in ({"rhythm_weeks": ()}, {"rhythm_weeks": (0,)}, {"lapse_rate": 2.0}, {"trend": -0.9}):
        with pytest.raises(ValueError):
            DemoConfig.for_scale("tiny", **bad)


def test_rhythms_customers_order_every_k_weeks_buying_k_weeks_worth(tmp_path):
    weekly = generate(DemoConfig.for_scale("tiny"), tmp_path / "weekly")
    monthly = generate(DemoConfig.for_scale("tiny", rhythm_weeks=(4,)), tmp_path / "monthly")
    w, m = _order_days(weekly.out_dir), _order_days(monthly.out_dir)
    gaps = m.drop_duplicates(["customer_id", "order_date"]).sort_values(["customer_id", "order_date"])
    gaps = gaps.groupby("customer_id")["order_date"].diff().dt.days.dropna()
    # every 4 weeks on the customer's weekday: gaps are multiples of 28 days (a holiday
    # on the ordering day skips that order)
    assert len(gaps) > 50 and (gaps % 28 == 0).all() and (gaps == 28).mean() > 0.8
    # about a quarter of the orders, the same demand within sampling noise
    assert 0.2 < m["order_id"].nunique() / w["order_id"].nunique() < 0.3
    assert 0.75 < m["requested_quantity"].sum() / w["requested_quantity"].sum() < 1.25


def test_lapsing_shops_stop_and_come_back_without_closing(tmp_path):
    run = generate(DemoConfig.for_scale("tiny", lapse_rate=1.0, days=300), tmp_path / "lapses")
    days = _order_days(run.out_dir).drop_duplicates(["customer_id", "order_date"])
    gaps = days.sort_values(["customer_id", "order_date"]).groupby("customer_id")["order_date"].diff().dt.days
    # weekly buyers, but shops with a gap of 6 weeks or more that then ordered again
    returned = days.loc[gaps >= 42, "customer_id"].nunique()
    assert returned >= 5
    last = max((run.out_dir / "customers").glob("*.csv"))
    statuses = pd.read_csv(last, encoding="gb18030", dtype=ID_TYPES)["status"]
    assert (statuses == "closed").sum() <= 3  # lapsing is not closing


def test_trend_and_open_rate(tmp_path):
    flat = _order_days(generate(DemoConfig.for_scale("tiny", days=140), tmp_path / "flat").out_dir)
    grown = _order_days(generate(DemoConfig.for_scale("tiny", days=140, trend=1.0), tmp_path / "grown").out_dir)
    # demand x (1 + trend) ** (t / 365.25): by ~+30 % after 140 days, nothing on day 0
    late = pd.Timestamp("2024-04-15")
    ratio_late = (
        grown.loc[grown["order_date"] >= late, "requested_quantity"].sum()
        / flat.loc[flat["order_date"] >= late, "requested_quantity"].sum()
    )
    assert 1.1 < ratio_late < 1.5  # expected ~1.26, sampling noise of 60 shops
    many = generate(DemoConfig.for_scale("tiny", days=140, open_rate=0.5), tmp_path / "open")
    few = generate(DemoConfig.for_scale("tiny", days=140), tmp_path / "few")
    opened = {
        name: (
            pd.to_datetime(pd.read_csv(max((r.out_dir / "customers").glob("*.csv")), encoding="gb18030")["opened_on"])
            >= pd.Timestamp("2024-01-01")
        ).sum()
        for name, r in (("many", many), ("few", few))
    }
    assert opened["many"] > opened["few"]


def test_cli_variant_flags(tmp_path):
    out = tmp_path / "variant"
    args = ["--scale", "tiny", "--days", "20", "--out", str(out), "--quiet", "--rhythms", "1,2,4", "--trend", "-0.1"]
    assert cli_main([*args, "--lapse-rate", "0.2", "--open-rate", "0.1"]) == 0
    config = read_manifest(out)["config"]
    assert config["rhythm_weeks"] == [1, 2, 4] and config["trend"] == -0.1
    assert config["lapse_rate"] == 0.2 and config["open_rate"] == 0.1
    # --if-missing keeps the same variant, and regenerates for another one
    assert cli_main([*args, "--lapse-rate", "0.2", "--open-rate", "0.1", "--if-missing"]) == 0
    with pytest.raises(SystemExit):
        cli_main([*args[:-4], "--rhythms", "1,x"])
    assert cli_main(["--scale", "tiny", "--days", "5", "--out", str(out), "--quiet", "--slow-lot-weeks", "6"]) == 0
    assert read_manifest(out)["config"]["slow_lot_weeks"] == 6.0


def test_the_demo_preset_has_irregular_buyers_and_lapses(tmp_path):
    """make demo's set exercises what real data did (issue 11, item 6): customers ordering
    every 1, 2, 4 or 8 weeks, and shops that stop for weeks and come back."""
    config = DemoConfig.for_scale("demo", n_customers=200, n_skus=12, days=365)
    assert config.has_variants and config.rhythm_weeks == (1, 1, 1, 1, 2, 2, 4, 8) and config.lapse_rate == 0.1
    assert not DemoConfig.for_scale("tiny").has_variants
    result = generate(config, tmp_path / "demo")
    days = _order_days(result.out_dir).groupby("customer_id")["order_date"].apply(lambda d: sorted(set(d)))
    gaps = days[days.map(len) >= 3].map(lambda d: pd.Series(d).diff().dt.days.median())
    # Every rhythm is there, in about its share (1/2 weekly, 1/4 every 2 weeks, 1/8 each of 4 and 8).
    shares = gaps.round().value_counts(normalize=True)
    assert shares.get(7.0, 0) > 0.35 and shares.get(14.0, 0) > 0.15
    assert shares.get(28.0, 0) > 0.05 and shares.get(56.0, 0) > 0.03
    # Lapses: some weekly buyers have a gap of 6 weeks or more and order again after it.
    weekly = [d for d, g in zip(days[gaps.index], gaps, strict=True) if g == 7.0]
    longest = [pd.Series(d).diff().dt.days.max() for d in weekly]
    assert sum(gap >= 42 for gap in longest) >= 2
