"""Parameters of a generated demo set: scale presets, ``DemoConfig`` and what a run returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from restock import calendar as cal
from restock.demo.reference import REGIONS

# Recorded in the manifest; bump it when the same config gives other bytes (cli --if-missing
# keeps a folder only if the version matches).
GENERATOR_VERSION = 3  # 2: irregular buyers and lapses; 3: expired stock written off, slow SKUs in small lots
MANIFEST_NAME = "_demo_manifest.json"
HORIZON_DAYS = 60  # days simulated past the end for the look-ahead and late receipts

# --- scale presets ------------------------------------------------------------------
# The demo and city sets have the buyers real data has (issue 11, item 6): half the
# shops order weekly, a quarter every 2 weeks, the rest every 4 or 8 weeks; one in ten
# stops ordering once a year for 6-30 weeks and comes back. The market declines through
# shops closing (reference.CLOSE_RATE_PER_YEAR), `--trend` adds growth or decline on top.
IRREGULAR_BUYERS: dict[str, Any] = {"rhythm_weeks": (1, 1, 1, 1, 2, 2, 4, 8), "lapse_rate": 0.1}
SCALES: dict[str, dict[str, Any]] = {
    # Tests: covers the 2024 Spring Festival (peak, holiday, dip) and Labour Day; weekly
    # buyers only, so that the tests' small numbers stay readable.
    "tiny": {"n_customers": 60, "n_skus": 15, "days": 140},
    "demo": {"n_customers": 2000, "n_skus": 150, "days": 731, **IRREGULAR_BUYERS},
    "city": {"n_customers": 20000, "n_skus": 300, "days": 731, **IRREGULAR_BUYERS},
}


@dataclass(frozen=True)
class DemoConfig:
    """Parameters of one generated data set (everything that changes its bytes)."""

    scale: str = "demo"
    n_customers: int = 2000
    n_skus: int = 150
    days: int = 731
    start: date = date(2024, 1, 1)
    seed: int = 42
    n_warehouses: int = 2
    # Opt-in variants (issue 11): at their defaults the output is byte-identical to a
    # set generated without them, and the manifest does not list them.
    rhythm_weeks: tuple[int, ...] = (1,)  # each customer orders every k weeks, k drawn evenly from these
    lapse_rate: float = 0.0  # share of customers that stop ordering once a year for 6-30 weeks, then return
    open_rate: float | None = None  # new shops per customer and year (None: reference.OPEN_RATE_PER_YEAR)
    trend: float = 0.0  # market growth per year on every SKU's demand, e.g. -0.1 (besides shops opening/closing)
    # A supplier lot (and the opening stock) never lifts the stock position above the
    # reorder point s + this many weeks of expected demand: a slow SKU whose whole-case
    # lot (or MOQ) would is bought in cartons, so little of it ages towards its shelf life.
    slow_lot_weeks: float = 4.0

    @classmethod
    def for_scale(cls, scale: str = "demo", **overrides: Any) -> DemoConfig:
        """A preset (tiny / demo / city) with optional overrides; None values are ignored."""
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
        params: dict[str, Any] = dict(SCALES[scale], scale=scale)
        params.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**params).validated()

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    @property
    def has_variants(self) -> bool:
        """True when an opt-in variant (rhythms, lapses, open rate, trend) is switched on."""
        return any(getattr(self, name) != default for name, default in VARIANT_DEFAULTS.items())

    def manifest_config(self) -> dict[str, Any]:
        """The config as the manifest records it: dates as ISO text, tuples as lists, and
        the opt-in variants only where they differ from their defaults (so a default
        set's manifest is the same bytes as before they existed)."""
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            if name in VARIANT_DEFAULTS and value == VARIANT_DEFAULTS[name]:
                continue
            out[name] = (
                value.isoformat() if isinstance(value, date) else list(value) if isinstance(value, tuple) else value
            )
        return out

    def validated(self) -> DemoConfig:
        if self.n_customers < 10:
            raise ValueError("n_customers must be at least 10")
        if self.n_skus < 5:
            raise ValueError("n_skus must be at least 5")
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not 1 <= self.n_warehouses <= len(REGIONS):
            raise ValueError(f"n_warehouses must be 1..{len(REGIONS)}")
        if not self.rhythm_weeks or any(not 1 <= int(k) <= 26 or int(k) != k for k in self.rhythm_weeks):
            raise ValueError(f"rhythm_weeks must be whole weeks 1..26, got {self.rhythm_weeks}")
        if not 0.0 <= self.lapse_rate <= 1.0:
            raise ValueError(f"lapse_rate must be within 0..1, got {self.lapse_rate}")
        if self.open_rate is not None and not 0.0 <= self.open_rate <= 1.0:
            raise ValueError(f"open_rate must be within 0..1, got {self.open_rate}")
        if not 1.0 <= self.slow_lot_weeks <= 26.0:
            raise ValueError(f"slow_lot_weeks must be within 1..26 (weeks of demand), got {self.slow_lot_weeks}")
        if not -0.5 <= self.trend <= 1.0:
            raise ValueError(f"trend must be within -0.5..1 (a share a year), got {self.trend}")
        # The calendar (and the replenishment look-ahead) must cover the whole range.
        cal.spring_festival(self.start.year)
        cal.spring_festival((self.end + timedelta(days=HORIZON_DAYS)).year)
        return self


@dataclass
class GenerationResult:
    """What a run wrote, plus the warehouse simulation's daily arrays for tests.

    Arrays are indexed ``[day, warehouse, sku]`` (day 0 = ``config.start``), sku in the
    order of ``skus``. ``receipts[t]`` arrived in the morning of day t (supplier
    deliveries and the initial stocking of a newly launched SKU); ``allocated[t]`` is
    the confirmed quantity of day t's orders, shipped the morning of day t+1;
    ``written_off[t]`` left the stock the morning of day t, its batch about to pass the
    SKU's shelf life; ``ordered[t]`` is what was ordered from suppliers on day t. So
    ``on_hand[t] = on_hand[t-1] - allocated[t-1] - written_off[t] + receipts[t]``.
    """

    config: DemoConfig
    out_dir: Path
    dates: list[date]
    warehouses: tuple[str, ...]
    skus: tuple[str, ...]
    region_warehouse: dict[str, str]
    receipts: np.ndarray
    allocated: np.ndarray
    on_hand: np.ndarray
    in_transit: np.ndarray
    written_off: np.ndarray
    ordered: np.ndarray
    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0


# The opt-in variants and their defaults (DemoConfig.manifest_config leaves these out).
VARIANT_DEFAULTS: dict[str, Any] = {"rhythm_weeks": (1,), "lapse_rate": 0.0, "open_rate": None, "trend": 0.0}

ProgressFn = Callable[[int, date, dict], None]
