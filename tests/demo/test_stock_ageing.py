"""Stock ageing in the demo distributor (issue 15, item 5): batches are written off
before they pass their SKU's shelf life, slow SKUs are bought in small lots, and every
generated day passes the ingest's stock-identity gate (restock.ingest.plausibility)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from restock.config import PlausibilityConfig, load_config
from restock.demo import DemoConfig, generate
from restock.demo.reference import WRITE_OFF_DAYS_BEFORE_EXPIRY, WRITE_OFF_MAX_ROW_SHARE
from restock.demo.simulation import Simulation
from restock.demo.writer import LandingWriter, prepare_out_dir
from restock.ingest.plausibility import inventory_plausibility
from restock.settings import PROJECT_ROOT

# The demo preset (irregular buyers, lapses), smaller: two years, delisted SKUs whose
# leftover stock reaches its shelf life.
AGED = DemoConfig.for_scale("demo", n_customers=300, n_skus=40, days=731)
RULES = load_config(PROJECT_ROOT / "restock.yaml").quality.plausibility


def inventory_files(out: Path) -> list[tuple[date, Path, pd.DataFrame]]:
    """Each day's inventory file as delivered text (the gate's view), with ``_source_row``."""
    days = []
    for path in sorted((out / "inventory").glob("*.csv.gz")):
        df = pd.read_csv(path, dtype=str, keep_default_na=False).replace("", None)
        df["_source_row"] = range(1, len(df) + 1)
        days.append((date.fromisoformat(path.name[:10]), path, df))
    return days


def shelf_lives(out: Path) -> pd.Series:
    """shelf_life_days per SKU, from the products snapshots (delisted SKUs included)."""
    frames = [pd.read_csv(p, encoding="gb18030", dtype={"sku": str}) for p in sorted((out / "products").glob("*.csv"))]
    return pd.concat(frames).drop_duplicates("sku", keep="last").set_index("sku")["shelf_life_days"]


def gate_failures(
    days: list[tuple[date, Path, pd.DataFrame]], rules: PlausibilityConfig, only: set[date] | None = None
) -> dict[date, list]:
    """The plausibility failures of every day (or of the days ``only``) against the day
    before, as the gate checks them."""
    failures = {}
    for (before_day, before_path, before), (day, path, today) in zip(days, days[1:], strict=False):
        assert day == before_day + timedelta(days=1)
        if only is not None and day not in only:
            continue
        result = inventory_plausibility(today, before.assign(_source_file=str(before_path)), before_day, rules, path)
        assert result.evaluated >= 3  # the stock identity was checked
        if result.failures:
            failures[day] = list(result.failures)
    return failures


def days_to_expiry(days: list[tuple[date, Path, pd.DataFrame]], shelf: pd.Series) -> pd.Series:
    """oldest_batch_date + shelf_life_days - day, over every stocked row of every day."""
    out = []
    for day, _, df in days:
        stocked = df[df["oldest_batch_date"].notna()]
        oldest = pd.to_datetime(stocked["oldest_batch_date"])
        expiry = oldest + pd.to_timedelta(stocked["sku"].map(shelf), unit="D")
        out.append((expiry - pd.Timestamp(day)).dt.days)
    return pd.concat(out, ignore_index=True)


def identity_holds(on_hand, receipts, allocated, written_off) -> bool:
    """on_hand(t) = on_hand(t-1) - allocated(t-1) - written_off(t) + receipts(t)."""
    return bool(np.array_equal(on_hand[1:], on_hand[:-1] - allocated[:-1] - written_off[1:] + receipts[1:]))


# --- the demo preset --------------------------------------------------------------------
@pytest.fixture(scope="module")
def aged(tmp_path_factory):
    out = tmp_path_factory.mktemp("aged")
    result = generate(AGED, out)
    return result, inventory_files(out), shelf_lives(out)


def test_no_stock_past_its_shelf_life_and_expired_batches_written_off(aged):
    result, days, shelf = aged
    assert result.written_off.sum() > 0 and result.counts["written_off_qty"] == result.written_off.sum()
    assert result.counts["write_offs"] == np.count_nonzero(result.written_off)
    to_expiry = days_to_expiry(days, shelf)
    assert len(to_expiry) > 20_000
    # the oldest batch on hand is pulled a week before it expires: never expired, never that close
    assert to_expiry.min() > WRITE_OFF_DAYS_BEFORE_EXPIRY
    # ... while stock does age towards its expiry (the pipeline's expiring alerts have cases)
    assert (to_expiry <= 30).sum() > 0
    assert identity_holds(result.on_hand, result.receipts, result.allocated, result.written_off)


def test_every_generated_day_passes_the_stock_identity_gate(aged):
    result, days, _ = aged
    assert len(days) == AGED.days
    assert gate_failures(days, RULES) == {}
    # the gate sees the write-offs: with no row allowed off, those days fail, and only those
    written_days = {result.dates[t] for t in np.flatnonzero(result.written_off.sum(axis=(1, 2)))}
    others = set(result.dates[1::30])
    strict = gate_failures(
        days, RULES.model_copy(update={"max_stock_identity_violation_share": 0.0}), written_days | others
    )
    assert strict and set(strict) <= written_days
    assert {f.expectation_type for fs in strict.values() for f in fs} == {"plausible_stock_identity"}


def test_the_same_config_gives_the_same_write_offs(aged, tmp_path):
    result, _, _ = aged
    again = generate(AGED, tmp_path / "again")
    assert np.array_equal(again.written_off, result.written_off) and np.array_equal(again.ordered, result.ordered)
    assert np.array_equal(again.on_hand, result.on_hand) and again.counts == result.counts


# --- many expiries: short shelf lives ------------------------------------------------------
def test_many_expiries_are_spread_so_that_each_day_passes_the_gate(tmp_path):
    """Shelf lives of 6-12 weeks instead of 18-24 months: write-offs every few days, at
    most WRITE_OFF_MAX_ROW_SHARE of the rows a day, every day through the gate."""
    config = DemoConfig.for_scale("demo", n_customers=300, n_skus=40, days=240)
    out = tmp_path / "short"
    prepare_out_dir(out, overwrite=False)
    sim = Simulation(config)
    sim.products.shelf_life_days[:] = np.random.default_rng(0).integers(42, 85, sim.n_skus)
    writer = LandingWriter(sim, out)
    for t in range(config.days):
        writer.write_day(sim.step(t))
    written = sim.daily_written_off
    rows_written = np.count_nonzero(written, axis=(1, 2))
    assert rows_written.sum() >= 20 and (rows_written >= 2).any()
    days = inventory_files(out)
    cap = np.array([max(1, int(WRITE_OFF_MAX_ROW_SHARE * len(df))) for _, _, df in days])
    assert (rows_written <= cap).all()
    assert days_to_expiry(days, shelf_lives(out)).min() > 0  # nothing expired on hand
    assert identity_holds(sim.daily_on_hand, sim.daily_receipts, sim.daily_allocated, written)
    assert gate_failures(days, RULES) == {}


# --- slow SKUs in small lots ---------------------------------------------------------------
def _lots(config: DemoConfig) -> tuple[Simulation, list[tuple[int, int, int, int, float]]]:
    """Every supplier order of a run: (day, warehouse, sku, lot, position before it), and
    checks each against the lot rule on the way."""
    sim = Simulation(config)
    lots = []
    for t in range(config.days):
        sim.step(t)
        ordered = sim.daily_ordered[t]
        if not ordered.any():
            continue
        active = sim.activity(t)[2]
        s_level, _, cap = sim.policy_levels(t, sim.base_daily(t, active))
        # the position the order was placed on (in transit already holds today's order)
        position = sim.daily_on_hand[t] - sim.daily_allocated[t] + sim.daily_in_transit[t] - ordered
        for w, k in zip(*np.nonzero(ordered), strict=True):
            lot, pos = int(ordered[w, k]), int(position[w, k])
            # no lot lifts the position above s + slow_lot_weeks of expected demand (one carton at least)
            assert pos + lot <= max(np.ceil(cap[w, k]), pos + 1), (t, w, k, lot, pos, cap[w, k])
            assert pos <= s_level[w, k]
            lots.append((t, int(w), int(k), lot, float(cap[w, k] - s_level[w, k])))
    return sim, lots


def test_slow_skus_are_bought_in_small_lots_bounded_by_weeks_of_demand():
    config = DemoConfig.for_scale("demo", n_customers=300, n_skus=40, days=365)
    sim, lots = _lots(config)
    prod = sim.products
    upc, moq = prod.units_per_case, prod.moq_cases

    def in_cartons(lots):
        return [lot % upc[k] > 0 or lot < moq[k] * upc[k] for _, _, k, lot, _ in lots]

    slow = [lot for lot in lots if prod.slow[lot[2]]]
    regular = [lot for lot in lots if not prod.slow[lot[2]]]
    assert len(slow) >= 10
    # slow SKUs are bought in cartons, where a whole case would hold months of their demand
    assert np.mean(in_cartons(slow)) > 0.5 > np.mean(in_cartons(regular))
    assert np.median([lot for _, _, _, lot, _ in slow]) < min(upc[prod.slow])
    # the opening stock too: weeks of demand, not a case
    first = Simulation(config)
    first.step(0)
    s0, _, cap0 = first.policy_levels(0, first.base_daily(0, first.activity(0)[2]))
    opening = first.on_hand + first.daily_allocated[0]  # nothing shipped yet on the first day
    assert opening[:, prod.slow].sum() > 0
    assert (opening <= np.ceil(cap0)).all()


def test_slow_lot_weeks_sizes_the_lots():
    """More weeks allowed: fewer SKUs bought in cartons, and larger lots of the slow ones."""
    base = dict(n_customers=300, n_skus=40, days=365)
    _, short = _lots(DemoConfig.for_scale("demo", slow_lot_weeks=2, **base))
    sim, long = _lots(DemoConfig.for_scale("demo", slow_lot_weeks=8, **base))
    prod = sim.products  # the same SKUs in both runs
    upc, moq = prod.units_per_case, prod.moq_cases

    def cartons(lots):
        return [lot for _, _, k, lot, _ in lots if lot % upc[k] or lot < moq[k] * upc[k]]

    def slow_lots(lots):
        return [lot for _, _, k, lot, _ in lots if prod.slow[k]]

    assert len(cartons(short)) > len(cartons(long)) > 0
    assert np.mean(slow_lots(short)) < np.mean(slow_lots(long))
    assert len(slow_lots(short)) > len(slow_lots(long))  # smaller lots, more often
    with pytest.raises(ValueError, match="slow_lot_weeks"):
        DemoConfig.for_scale("demo", slow_lot_weeks=0.5)
