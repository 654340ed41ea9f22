"""The landing folder: each simulated day's extract files and the run's manifest.

Files follow ``restock.contract.EXTRACTS`` (columns checked before writing);
customers and products are GBK snapshots written only when they changed, inventory is
gzip with a fixed header time so equal content gives equal bytes.
"""

from __future__ import annotations

import gzip
import io
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from restock import calendar as cal
from restock.contract import EXTRACTS
from restock.demo.config import GENERATOR_VERSION, MANIFEST_NAME
from restock.demo.reference import CHANNELS, CUSTOMER_STATUS, FAR, PRICE_BANDS, REGIONS
from restock.demo.simulation import Day, OrderLines, Simulation

# --- output helpers ---------------------------------------------------------------------
_WRITE_OPTS = pacsv.WriteOptions(include_header=True, quoting_style="needed")
# Typed header of an orders file without rows (other columns default to string).
_EMPTY_ORDER_TYPES = {
    "order_id": pa.int64(),
    "line_no": pa.int64(),
    "quantity": pa.int64(),
    "requested_quantity": pa.int64(),
    "unit_price": pa.float64(),
    "amount": pa.float64(),
}


def csv_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, _WRITE_OPTS)
    return buf.getvalue()


def check_columns(extract: str, table: pa.Table) -> pa.Table:
    expected = list(EXTRACTS[extract].columns)
    if table.column_names != expected:
        raise AssertionError(f"{extract}: columns {table.column_names} != contract {expected}")
    return table


def prepare_out_dir(out: Path, overwrite: bool) -> None:
    """Create ``out``; replace an earlier generated set; refuse to mix with other data."""
    out.mkdir(parents=True, exist_ok=True)
    existing = [out / name for name in EXTRACTS if (out / name).is_dir() and any((out / name).iterdir())]
    if existing and not (overwrite or (out / MANIFEST_NAME).exists()):
        raise FileExistsError(
            f"{out} already holds landing files ({', '.join(p.name for p in existing)}) that this "
            "generator did not write; pass overwrite=True (--overwrite) to replace them"
        )
    for name in EXTRACTS:
        if (out / name).is_dir():
            shutil.rmtree(out / name)
    (out / MANIFEST_NAME).unlink(missing_ok=True)
    for name in EXTRACTS:
        (out / name).mkdir()


# --- the extract files --------------------------------------------------------------------
class LandingWriter:
    """Writes a ``Simulation``'s days into ``out_dir``, one file per extract and day."""

    def __init__(self, sim: Simulation, out_dir: Path):
        self.sim, self.out_dir = sim, out_dir
        self.files = {name: 0 for name in EXTRACTS}
        self._iso_before_start: dict[int, str] = {}
        # Last written snapshot state, to skip days on which nothing changed.
        self._prev_customers: tuple[np.ndarray, ...] | None = None
        self._prev_products: tuple[np.ndarray, ...] | None = None
        self._announce_days = {int(a) for a in sim.promotions["announce"] if a > 0}
        self._static_columns()

    def iso(self, i: int) -> str:
        """ISO date of day index ``i``, also before the start (opening dates, aged batches)."""
        if 0 <= i < self.sim.n_sim_days:
            return self.sim.calendar.iso_dates[i]
        if i not in self._iso_before_start:
            self._iso_before_start[i] = (self.sim.config.start + timedelta(days=int(i))).isoformat()
        return self._iso_before_start[i]

    def _static_columns(self) -> None:
        """Arrow columns that never change, taken by index for each day's rows."""
        sim, iso = self.sim, self.iso
        cust, prod = sim.customers, sim.products
        self.sku_ids = pa.array(prod.sku, pa.string())
        self.customer_ids = pa.array(cust.customer_id, pa.string())
        self.iso_dates = pa.array(sim.calendar.iso_dates, pa.string())
        self.order_statuses = pa.array(["confirmed", "cancelled"], pa.string())
        self.customer_statuses = pa.array(list(CUSTOMER_STATUS), pa.string())
        self.warehouse_ids = pa.array(list(sim.warehouses), pa.string())
        self.customer_columns = {
            "customer_id": self.customer_ids,
            "customer_name": pa.array(cust.name, pa.string()),
            "channel": pa.array([CHANNELS[c] for c in cust.channel], pa.string()),
            "region": pa.array([REGIONS[r] for r in cust.region], pa.string()),
            "opened_on": pa.array([iso(int(o)) for o in cust.opened_day], pa.string()),
            "closed_on": pa.array([iso(int(c)) if c < FAR else None for c in cust.closed_day], pa.string()),
            "order_weekday": pa.array(cust.order_weekday.astype(np.int64)),
        }
        self.product_columns = {
            "sku": self.sku_ids,
            "product_name": pa.array(prod.name, pa.string()),
            "brand": pa.array(prod.brand, pa.string()),
            "category": pa.array(prod.category, pa.string()),
            "price_band": pa.array([PRICE_BANDS[b] for b in prod.price_band], pa.string()),
            "unit": pa.array(["条"] * len(prod.sku), pa.string()),
            "units_per_case": pa.array(prod.units_per_case.astype(np.int64)),
            "unit_cost": pa.array(prod.cost_cents / 100.0),
            "list_price": pa.array(prod.price_cents / 100.0),
            "lead_time_days": pa.array(prod.lead_days.astype(np.int64)),
            "lead_time_std_days": pa.array(prod.lead_std_days.astype(float)),
            "moq_cases": pa.array(prod.moq_cases.astype(np.int64)),
            "shelf_life_days": pa.array(prod.shelf_life_days.astype(np.int64)),
            "launched_on": pa.array([iso(int(x)) for x in prod.launch_day], pa.string()),
        }

    def _path(self, extract: str, t: int, suffix: str) -> Path:
        self.files[extract] += 1
        return self.out_dir / extract / f"{self.sim.calendar.iso_dates[t]}{suffix}"

    def write_day(self, day: Day) -> None:
        t = day.t
        self.write_orders(t, day.order_lines)
        self.write_inventory(t, day.allocated)
        self.write_customers(t, day.visible, day.status)
        self.write_products(t)
        self.write_promotions(t)

    def write_orders(self, t: int, lines: OrderLines | None) -> None:
        if lines is None:  # header only: a day without orders
            table = pa.table(
                {c: pa.array([], _EMPTY_ORDER_TYPES.get(c, pa.string())) for c in EXTRACTS["orders"].columns}
            )
        else:
            cents = self.sim.products.price_cents[lines.sku]
            qty = lines.quantity
            table = pa.table(
                {
                    "order_id": pa.array(lines.order_id.astype(np.int64)),
                    "line_no": pa.array(lines.line_no.astype(np.int64)),
                    "customer_id": self.customer_ids.take(pa.array(lines.customer)),
                    "sku": self.sku_ids.take(pa.array(lines.sku)),
                    "order_date": self.iso_dates.take(pa.array(np.full(len(lines.sku), t))),
                    "quantity": pa.array(qty),
                    "requested_quantity": pa.array(lines.requested_quantity),
                    "unit_price": pa.array(cents / 100.0),
                    "amount": pa.array((qty * cents) / 100.0),
                    "status": self.order_statuses.take(pa.array(lines.cancelled.astype(np.int64))),
                }
            )
        self._path("orders", t, ".csv").write_bytes(csv_bytes(check_columns("orders", table)))

    def write_inventory(self, t: int, alloc_today: np.ndarray) -> None:
        """Every launched SKU in every warehouse, end of day (gzip, fixed header time)."""
        sim = self.sim
        W = sim.n_warehouses
        launched = np.flatnonzero(sim.products.launch_day <= t)
        oldest = [None if d is None else self.iso(d) for d in sim.oldest_batch_days(launched)]
        table = pa.table(
            {
                "warehouse_id": self.warehouse_ids.take(pa.array(np.repeat(np.arange(W), len(launched)))),
                "sku": self.sku_ids.take(pa.array(np.tile(launched, W))),
                "on_hand_qty": pa.array(sim.on_hand[:, launched].ravel()),
                "in_transit_qty": pa.array(sim.in_transit[:, launched].ravel()),
                "allocated_qty": pa.array(alloc_today[:, launched].ravel()),
                "oldest_batch_date": pa.array(oldest, pa.string()),
            }
        )
        data = gzip.compress(csv_bytes(check_columns("inventory", table)), compresslevel=6, mtime=0)
        self._path("inventory", t, ".csv.gz").write_bytes(data)

    def write_customers(self, t: int, visible: np.ndarray, status: np.ndarray) -> None:
        """A full GBK snapshot (like a CRM export) on days when anything in it changed."""
        cust = self.sim.customers
        tier = np.where(cust.empty_tier, 0, self.sim.crm_tier)
        signature = (visible, status, tier)
        if self._prev_customers is not None and all(
            np.array_equal(a, b) for a, b in zip(signature, self._prev_customers, strict=False)
        ):
            return
        self._prev_customers = signature
        rows = pa.array(np.flatnonzero(visible))
        static = self.customer_columns
        table = pa.table(
            {
                "customer_id": static["customer_id"].take(rows),
                "customer_name": static["customer_name"].take(rows),
                "channel": static["channel"].take(rows),
                "region": static["region"].take(rows),
                "tier": pa.array(tier, mask=cust.empty_tier).take(rows),
                "status": self.customer_statuses.take(pa.array(status)).take(rows),
                "opened_on": static["opened_on"].take(rows),
                "closed_on": pc.if_else(
                    pa.array(cust.closed_day <= t), static["closed_on"], pa.scalar(None, pa.string())
                ).take(rows),
                "order_weekday": static["order_weekday"].take(rows),
            }
        )
        text = csv_bytes(check_columns("customers", table)).decode("utf-8")
        self._path("customers", t, ".csv").write_bytes(text.encode("gbk"))

    def write_products(self, t: int) -> None:
        """A full GBK snapshot on the first day and when a SKU launches or is delisted."""
        prod = self.sim.products
        visible = prod.launch_day <= t
        delisted = prod.delist_day <= t
        signature = (visible, delisted)
        if self._prev_products is not None and all(
            np.array_equal(a, b) for a, b in zip(signature, self._prev_products, strict=False)
        ):
            return
        self._prev_products = signature
        rows = pa.array(np.flatnonzero(visible))
        status = pa.array(np.where(delisted, "delisted", "active").tolist(), pa.string())
        table = pa.table(
            {c: (status if c == "status" else self.product_columns[c]).take(rows) for c in EXTRACTS["products"].columns}
        )
        text = csv_bytes(check_columns("products", table)).decode("utf-8")
        self._path("products", t, ".csv").write_bytes(text.encode("gbk"))

    def write_promotions(self, t: int) -> None:
        """The full list of announced promotions, on the first day and when it grows."""
        if t != 0 and t not in self._announce_days:
            return
        promos, dates = self.sim.promotions, self.sim.calendar.dates
        known = promos["announce"] <= t
        table = pa.table(
            {
                "sku": self.sku_ids.take(pa.array(promos["sku"][known])),
                "start_date": pa.array([dates[i] for i in promos["start"][known]], pa.date32()),
                "end_date": pa.array([dates[i] for i in promos["end"][known]], pa.date32()),
                "discount_pct": pa.array(promos["discount"][known]),
            }
        )
        pq.write_table(check_columns("promotions", table), self._path("promotions", t, ".parquet"))

    # --- the manifest
    def manifest(self) -> dict:
        """What was generated: config, warehouses, holidays, short SKUs, counts and files."""
        sim = self.sim
        cfg, D, prod, promos, calendar = sim.config, sim.n_days, sim.products, sim.promotions, sim.calendar
        counts = dict(sim.counts)
        counts["customers"] = int(np.count_nonzero(sim.customers.opened_day <= D - 1))
        counts["skus"] = int(np.count_nonzero(prod.launch_day <= D - 1))
        counts["promotions"] = int(np.count_nonzero(promos["announce"] <= D - 1))
        return {
            "generator": "restock.demo",
            "version": GENERATOR_VERSION,
            "config": cfg.manifest_config(),
            "start": cfg.start.isoformat(),
            "end": cfg.end.isoformat(),
            "days": D,
            "warehouses": {wh: [r for r, w in sim.region_warehouse.items() if w == wh] for wh in sim.warehouses},
            "region_warehouse": sim.region_warehouse,
            "holidays": [
                [calendar.iso_dates[i], cal.holiday_name(calendar.dates[i])]
                for i in np.flatnonzero(calendar.holiday[:D])
            ],
            "short_skus": [prod.sku[i] for i in np.flatnonzero(prod.quota_share > 0)],
            "slow_brands": sorted({prod.brand[i] for i in np.flatnonzero(prod.slow)}),
            "counts": counts,
            "files": dict(self.files),
        }
