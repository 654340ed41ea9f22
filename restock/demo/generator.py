"""The demo distributor: a simulated tobacco wholesaler that writes a landing folder.

What it simulates (see design.md "Input contract" and domain.md "The reference case"):

* Retailers (customers) in tiers 1-30, five channels, six regions served by two
  warehouses. Each orders once a week on its own weekday (``order_weekday``, Mon=1) from
  a personal basket of SKUs; basket size and price mix grow with the tier, and the
  CRM tier is derived from the basket's expected weekly volume and average price with
  the default bands of ``restock.yaml`` (10 volume bands x 3 price bands). About 10%
  of customers have an empty tier. Shops open, close and get suspended; tiers are
  re-computed on the 1st of each month as volumes drift.
* SKUs of fictional brands in five price bands (一类..五类); two slow brands (one
  below 80 SKUs) with intermittent, lumpy demand; a few "short" SKUs whose supplier quota is below demand,
  so lines are allocated below the requested quantity (higher tiers first).
* Calendar: a Spring Festival peak (x1.35..x2.4 in the four weeks before, stronger
  for premium bands), no orders on public holidays (Spring Festival eve..+6, 1-5 May,
  1-7 October; header-only orders files), a dip after the festival, catch-up after
  the shorter holidays, a mild summer wave; promotions lift their SKU's demand
  (``unit_price`` stays the list price, ``amount = quantity x unit_price``).
* Warehouses simulated day by day: receipts after a noisy lead time, today's
  confirmed quantities allocated from on-hand and shipped next morning, batches
  written off in the morning a week before they pass the SKU's shelf life, so
  ``on_hand(t) = on_hand(t-1) + received(t) - allocated(t-1) - written_off(t)``; an
  (s,S) policy on the seasonal expected demand, in whole cases (at least the MOQ)
  except for slow SKUs, which are bought in cartons so that no lot (nor the opening
  stock) holds more than ``slow_lot_weeks`` of demand above the reorder point; FIFO
  batches give ``oldest_batch_date``. Write-offs are few and spread over days (at most
  ``reference.WRITE_OFF_MAX_ROW_SHARE`` of the rows a day), so each day's inventory
  passes the ingest's stock-identity gate; a batch would pass its shelf life only if
  more rows fell due within that week than the share allows.

Memory stays flat: only state arrays and the flat basket table are kept; each day's
files are written as soon as the day is simulated. Deterministic by seed.

Modules: ``config`` (presets, ``DemoConfig``), ``reference`` (fictional tables and rates),
``seasons`` (day-indexed calendar), ``population`` (SKUs, customers, baskets,
promotions), ``simulation`` (the daily state, no I/O), ``writer`` (extract files and
manifest); this module runs them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from restock.demo.config import (
    GENERATOR_VERSION,
    MANIFEST_NAME,
    SCALES,
    DemoConfig,
    GenerationResult,
    ProgressFn,
)
from restock.demo.simulation import Simulation
from restock.demo.writer import LandingWriter, prepare_out_dir


def generate(
    config: DemoConfig,
    out_dir: str | Path,
    *,
    progress: ProgressFn | None = None,
    progress_every: int = 30,
    overwrite: bool = False,
) -> GenerationResult:
    """Simulate ``config`` and write the landing folder ``out_dir`` day by day.

    ``out_dir`` is created; a folder written earlier by this generator (it holds
    ``_demo_manifest.json``) is replaced; other landing files are only replaced with
    ``overwrite=True``. ``progress(t, day, counts)`` is called every ``progress_every``
    days and on the last one.
    """
    t0 = time.perf_counter()
    cfg = config.validated()
    out = Path(out_dir)
    prepare_out_dir(out, overwrite)
    sim = Simulation(cfg)
    writer = LandingWriter(sim, out)
    for t in range(cfg.days):
        writer.write_day(sim.step(t))
        if progress is not None and ((t + 1) % progress_every == 0 or t == cfg.days - 1):
            progress(t, sim.calendar.dates[t], dict(sim.counts, elapsed_s=round(time.perf_counter() - t0, 1)))
    manifest = writer.manifest()
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return GenerationResult(
        config=cfg,
        out_dir=out,
        dates=sim.calendar.dates[: cfg.days],
        warehouses=sim.warehouses,
        skus=tuple(sim.products.sku),
        region_warehouse=sim.region_warehouse,
        receipts=sim.daily_receipts,
        allocated=sim.daily_allocated,
        on_hand=sim.daily_on_hand,
        in_transit=sim.daily_in_transit,
        written_off=sim.daily_written_off,
        ordered=sim.daily_ordered,
        counts=manifest["counts"],
        files=dict(writer.files),
        elapsed_s=time.perf_counter() - t0,
    )


def read_manifest(out_dir: str | Path) -> dict:
    """The ``_demo_manifest.json`` of a generated landing folder."""
    return json.loads((Path(out_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))


__all__ = [
    "GENERATOR_VERSION",
    "SCALES",
    "DemoConfig",
    "GenerationResult",
    "generate",
    "read_manifest",
    "MANIFEST_NAME",
]
