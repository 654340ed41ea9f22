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
  confirmed quantities allocated from on-hand and shipped next morning, so
  ``on_hand(t) = on_hand(t-1) + received(t) - allocated(t-1)``; an (s,S) policy on the
  seasonal expected demand; FIFO batches give ``oldest_batch_date``.

Memory stays flat: only state arrays and the flat basket table are kept; each day's
files are written as soon as the day is simulated. Deterministic by seed.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import shutil
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from restock import calendar as cal
from restock.ingest.contract import EXTRACTS

GENERATOR_VERSION = 1
MANIFEST_NAME = "_demo_manifest.json"

# --- scale presets ------------------------------------------------------------------
SCALES: dict[str, dict[str, int]] = {
    # Tests: covers the 2024 Spring Festival (peak, holiday, dip) and Labour Day.
    "tiny": {"n_customers": 60, "n_skus": 15, "days": 140},
    "demo": {"n_customers": 2000, "n_skus": 150, "days": 731},
    "city": {"n_customers": 20000, "n_skus": 300, "days": 731},
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

    @classmethod
    def for_scale(cls, scale: str = "demo", **overrides) -> "DemoConfig":
        """A preset (tiny / demo / city) with optional overrides; None values are ignored."""
        if scale not in SCALES:
            raise ValueError(f"unknown scale {scale!r}; choose one of {', '.join(SCALES)}")
        params = dict(SCALES[scale], scale=scale)
        params.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**params).validated()

    @property
    def end(self) -> date:
        return self.start + timedelta(days=self.days - 1)

    def validated(self) -> "DemoConfig":
        if self.n_customers < 10:
            raise ValueError("n_customers must be at least 10")
        if self.n_skus < 5:
            raise ValueError("n_skus must be at least 5")
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not 1 <= self.n_warehouses <= len(REGIONS):
            raise ValueError(f"n_warehouses must be 1..{len(REGIONS)}")
        # The calendar (and the replenishment look-ahead) must cover the whole range.
        cal.spring_festival(self.start.year)
        cal.spring_festival((self.end + timedelta(days=_HORIZON)).year)
        return self


@dataclass
class GenerationResult:
    """What a run wrote, plus the warehouse simulation's daily arrays for tests.

    Arrays are indexed ``[day, warehouse, sku]`` (day 0 = ``config.start``), sku in the
    order of ``skus``. ``receipts[t]`` arrived in the morning of day t (supplier
    deliveries and the initial stocking of a newly launched SKU); ``allocated[t]`` is
    the confirmed quantity of day t's orders, shipped the morning of day t+1.
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
    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0


ProgressFn = Callable[[int, date, dict], None]

# --- reference data (fictional) ------------------------------------------------------
CHANNELS = ("便利店", "超市", "烟酒店", "食杂店", "娱乐餐饮")
CHANNEL_SHARE = np.array([0.25, 0.10, 0.22, 0.33, 0.10])
# Shift of the volume band by channel (supermarkets and tobacco shops sell more).
CHANNEL_VOLUME_SHIFT = np.array([0.0, 1.5, 1.0, -0.7, -0.5])
# Probability of the low / mid / high average-price band by channel.
CHANNEL_PRICE_MIX = np.array(
    [
        [0.30, 0.45, 0.25],
        [0.30, 0.45, 0.25],
        [0.15, 0.40, 0.45],
        [0.55, 0.35, 0.10],
        [0.20, 0.40, 0.40],
    ]
)
CHANNEL_NAME_SUFFIX = {
    "便利店": ("便利店", "便利店", "便民店", "24小时便利店"),
    "超市": ("超市", "购物中心", "生活超市", "平价超市"),
    "烟酒店": ("烟酒店", "烟酒行", "名烟名酒", "烟酒商行"),
    "食杂店": ("食杂店", "商店", "小卖部", "副食店"),
    "娱乐餐饮": ("饭店", "酒楼", "茶楼", "KTV", "农家乐", "宾馆"),
}
NAME_PREFIXES = (
    "鑫源", "福来", "顺达", "金鼎", "宏发", "隆盛", "家和", "万佳", "百姓", "老街",
    "幸福", "阳光", "如意", "吉祥", "永盛", "嘉禾", "和顺", "兴旺", "惠民", "利民",
    "恒通", "康乐", "东方", "明珠", "春风", "福满", "祥瑞", "聚源", "德润", "广源",
    "王记", "李记", "张记", "刘记", "陈记", "杨记", "赵记", "周记", "吴记", "郑记",
    "胜利", "团结", "友谊", "新村", "河畔", "桥头", "站前", "学府", "花园", "湖滨",
)
REGIONS = ("城东区", "城西区", "城南区", "城北区", "青山县", "临河县")
REGION_SHARE = np.array([0.20, 0.18, 0.14, 0.12, 0.20, 0.16])
WEEKDAY_SHARE = np.array([0.19, 0.19, 0.19, 0.19, 0.18, 0.04, 0.02])  # Mon..Sun

PRICE_BANDS = ("一类", "二类", "三类", "四类", "五类")
PRICE_BAND_RANGE = ((250.0, 700.0), (160.0, 250.0), (100.0, 160.0), (60.0, 100.0), (30.0, 60.0))
PRICE_BAND_SKU_SHARE = np.array([0.18, 0.24, 0.26, 0.19, 0.13])
# Quantity share of each price band in a basket, by the customer's price tier band
# (low <120, mid 120-250, high >250 CNY average per carton).
BASKET_BAND_MIX = np.array(
    [
        [0.03, 0.10, 0.30, 0.35, 0.22],
        [0.15, 0.30, 0.30, 0.18, 0.07],
        [0.45, 0.30, 0.15, 0.07, 0.03],
    ]
)
# Fictional brand names (none is a real cigarette brand). The last two are the slow
# brands (niche products with intermittent, lumpy demand).
BRANDS = (
    "青岚", "星河", "晨曦", "远帆", "松韵", "雅竹", "澄湖", "朗月", "锦程", "望岳",
    "清泉", "逸风", "和畅", "瑞禾", "嘉木",
)
VARIANTS = (
    "硬", "软", "细支", "中支", "精品", "典藏", "金", "蓝", "红", "新版",
    "短支", "爆珠", "醇香", "天韵", "如意", "长嘴", "特制", "珍品", "和韵", "峰景",
)
VARIANT_CATEGORY = {"细支": "细支烟", "中支": "中支烟", "短支": "短支烟", "爆珠": "爆珠烟"}

# Tier scheme: the defaults of restock.yaml (tiers: volume_band_edges, price_band_edges).
TIER_VOLUME_EDGES = np.array([2, 4, 7, 11, 16, 23, 32, 45, 65], dtype=float)
TIER_PRICE_EDGES = np.array([120, 250], dtype=float)
VOLUME_BAND_RANGE = np.array(
    [[0.8, 2], [2, 4], [4, 7], [7, 11], [11, 16], [16, 23], [23, 32], [32, 45], [45, 65], [65, 160]]
)
VOLUME_BAND_SHARE = np.array([0.06, 0.09, 0.12, 0.14, 0.15, 0.14, 0.11, 0.08, 0.06, 0.05])
NEW_SHOP_MAX_TIER = 10
NEW_SHOP_CAP_DAYS = 91

EMPTY_TIER_SHARE = 0.10
CANCEL_RATE = 0.01
OPEN_RATE_PER_YEAR = 0.06
CLOSE_RATE_PER_YEAR = 0.035
SUSPEND_RATE_PER_YEAR = 0.03
PROMOTIONS_PER_SKU_YEAR = 0.12
PROMO_ANNOUNCE_DAYS = 14
PROMO_LIFT_PER_PCT = 0.06  # 5% off -> x1.3
CATCH_UP_PER_MISSED = 0.6  # next order after a skipped (non Spring Festival) holiday

SERVICE_Z = 1.65  # ~95% cycle service for the regular SKUs
REORDER_CYCLE_DAYS = 7
_HORIZON = 60  # days simulated past the end for the look-ahead and late receipts

STATUS_ACTIVE, STATUS_SUSPENDED, STATUS_CLOSED = 0, 1, 2
CUSTOMER_STATUS = ("active", "suspended", "closed")
FAR = 10**7  # a day index "never"


# --- calendar arrays ------------------------------------------------------------------
def _spring_festival_factor(days_to: int) -> float:
    """Demand multiplier around the Spring Festival (before holiday zeroing)."""
    if 22 <= days_to <= 28:
        return 1.35
    if 15 <= days_to <= 21:
        return 1.75
    if 8 <= days_to <= 14:
        return 2.15
    if 1 <= days_to <= 7:
        return 2.4
    if -13 <= days_to <= -7:
        return 0.55
    if -20 <= days_to <= -14:
        return 0.70
    if -27 <= days_to <= -21:
        return 0.85
    return 1.0


# Premium bands gain more before the festival (gifting).
_SF_BAND_GAIN = np.array([1.3, 1.15, 1.0, 0.85, 0.7])


@dataclass
class _Calendar:
    dates: list[date]
    iso: list[str]
    weekday: np.ndarray  # 1..7
    holiday: np.ndarray  # bool
    sf_holiday: np.ndarray  # bool
    season: np.ndarray  # [day, price band] multiplier, 0 on holidays
    next_workday: np.ndarray  # index of the first non-holiday day >= i


def _build_calendar(start: date, n: int) -> _Calendar:
    dates = [start + timedelta(days=i) for i in range(n)]
    weekday = np.array([d.isoweekday() for d in dates], dtype=np.int8)
    names = [cal.holiday_name(d) for d in dates]
    holiday = np.array([x is not None for x in names])
    sf_holiday = np.array([x == cal.HOLIDAY_SPRING_FESTIVAL for x in names])
    season = np.empty((n, len(PRICE_BANDS)))
    for i, d in enumerate(dates):
        f = _spring_festival_factor(cal.days_to_spring_festival(d))
        band = 1.0 + (f - 1.0) * _SF_BAND_GAIN if f > 1.0 else np.full(len(PRICE_BANDS), f)
        summer = 1.0 + 0.07 * math.cos(2 * math.pi * (d.timetuple().tm_yday - 205) / 365.25)
        season[i] = band * summer
    season[holiday] = 0.0
    # Catch-up: customers whose order day fell on a (non Spring Festival) holiday skipped
    # that cycle and order more the next time (same weekday, 7 days later).
    for i in np.flatnonzero(~holiday):
        missed, j = 0, i - 7
        while j >= 0 and holiday[j] and not sf_holiday[j]:
            missed, j = missed + 1, j - 7
        season[i] *= 1.0 + CATCH_UP_PER_MISSED * min(missed, 2)
    next_workday = np.empty(n, dtype=np.int64)
    nxt = n  # beyond the horizon
    for i in range(n - 1, -1, -1):
        if not holiday[i]:
            nxt = i
        next_workday[i] = nxt
    return _Calendar(dates, [d.isoformat() for d in dates], weekday, holiday, sf_holiday, season, next_workday)


def _tier(volume: np.ndarray, avg_price: np.ndarray) -> np.ndarray:
    vb = np.searchsorted(TIER_VOLUME_EDGES, volume, side="right")
    pb = np.searchsorted(TIER_PRICE_EDGES, avg_price, side="right")
    return (vb * 3 + pb + 1).astype(np.int64)


def _working_days(cal_: _Calendar, lo: int, hi: int) -> np.ndarray:
    idx = np.arange(max(lo, 0), min(hi, len(cal_.dates)))
    return idx[~cal_.holiday[idx]]


# --- products -------------------------------------------------------------------------
@dataclass
class _Products:
    sku: list[str]
    name: list[str]
    brand: list[str]
    category: list[str]
    band: np.ndarray  # price band index 0..4
    units_per_case: np.ndarray
    price_cents: np.ndarray
    cost_cents: np.ndarray
    lead: np.ndarray
    lead_std: np.ndarray  # one decimal
    moq_cases: np.ndarray
    shelf_life: np.ndarray
    launch: np.ndarray  # day index (negative = before start)
    delist: np.ndarray  # day index, FAR = never
    popularity: np.ndarray
    slow: np.ndarray  # bool
    quota_frac: np.ndarray  # 0 = not quota-constrained


def _make_products(cfg: DemoConfig, rng: np.random.Generator, cal_: _Calendar) -> _Products:
    n = cfg.n_skus
    n_brands = int(np.clip(n // 10, 3, len(BRANDS)))
    n_slow = 1 if n_brands < 8 else 2
    brand_names = list(BRANDS[: n_brands - n_slow]) + list(BRANDS[len(BRANDS) - n_slow :])
    slow_brand = np.zeros(n_brands, bool)
    slow_brand[n_brands - n_slow :] = True
    # SKUs per brand: each slow brand ~4% of the range, the rest shared unevenly.
    sizes = np.zeros(n_brands, dtype=np.int64)
    sizes[slow_brand] = max(1, int(round(0.04 * n)))
    rest = n - sizes.sum()
    n_regular = n_brands - n_slow
    sizes[:n_regular] = 1
    weights = rng.uniform(0.6, 1.4, n_regular)
    sizes[:n_regular] += rng.multinomial(rest - n_regular, weights / weights.sum())
    brand_of = np.repeat(np.arange(n_brands), sizes)
    home_band = rng.choice(len(PRICE_BANDS), size=n_brands, p=PRICE_BAND_SKU_SHARE)
    home_band[n_brands - 1] = 0  # a premium niche brand (cigar-type)
    if n_slow > 1:
        home_band[n_brands - 2] = 2
    band = np.clip(home_band[brand_of] + rng.choice([-1, 0, 0, 1], size=n), 0, len(PRICE_BANDS) - 1)
    lo = np.array([PRICE_BAND_RANGE[b][0] for b in band])
    hi = np.array([PRICE_BAND_RANGE[b][1] for b in band])
    price = np.exp(rng.uniform(np.log(lo), np.log(hi)))
    price_cents = (np.round(price, 1) * 100).round().astype(np.int64)
    cost_cents = np.round(price_cents * rng.uniform(0.86, 0.93, n)).astype(np.int64)
    brand_lead = rng.integers(3, 15, n_brands)
    lead = np.clip(brand_lead[brand_of] + rng.integers(-1, 2, n), 3, 14)
    lead_std = np.round(lead * rng.uniform(0.08, 0.3, n), 1)
    slow = slow_brand[brand_of]
    upc = np.where(slow & (np.arange(n) % 2 == 0), 25, 50)
    popularity = rng.lognormal(0.0, 1.0, n)
    popularity[slow] *= 0.04
    moq = np.where(popularity > np.quantile(popularity, 0.8), rng.choice([2, 5], n), rng.choice([1, 1, 2], n))
    shelf_life = rng.choice(np.arange(540, 721, 30), n)
    launch = -rng.integers(90, 4000, n)
    delist = np.full(n, FAR, dtype=np.int64)
    years = cfg.days / 365.0
    # A few launches and delistings inside the period (working days only).
    regular = np.flatnonzero(~slow)
    n_launch = int(round(n * 0.06 * years))
    n_delist = int(round(n * 0.05 * years))
    work = _working_days(cal_, 21, cfg.days - 14)
    if len(work) and n_launch:
        new = rng.choice(regular, size=min(n_launch, len(regular) // 3), replace=False)
        launch[new] = rng.choice(work, size=len(new))
        popularity[new] *= 0.7
    # The hottest premium SKUs are quota-constrained ("short"), never launched/delisted.
    prem = [i for i in np.argsort(-popularity) if band[i] <= 1 and not slow[i] and launch[i] < 0]
    n_short = max(1, int(round(n * 0.03)))
    quota_frac = np.zeros(n)
    short = prem[:n_short] if prem else [int(np.argmax(popularity))]
    quota_frac[short] = 1.0
    quota_frac[short[0]] = 0.85  # chronically short
    if len(work) and n_delist:
        cand = [i for i in np.argsort(popularity) if quota_frac[i] == 0 and launch[i] < 0 and not slow[i]]
        old = np.array(cand[: 3 * n_delist])
        if len(old):
            chosen = rng.choice(old, size=min(n_delist, len(old)), replace=False)
            delist[chosen] = rng.choice(_working_days(cal_, 30, cfg.days), size=len(chosen))

    skus, names, brands, cats = [], [], [], []
    per_brand = np.zeros(n_brands, int)
    for i in range(n):
        b = brand_of[i]
        v = per_brand[b]
        per_brand[b] += 1
        variant = VARIANTS[v % len(VARIANTS)] + ("" if v < len(VARIANTS) else str(v // len(VARIANTS) + 1))
        skus.append(f"DM{b + 1:02d}{v + 1:03d}")
        names.append(f"{brand_names[b]}({variant})")
        brands.append(brand_names[b])
        if slow[i] and band[i] <= 1:
            cats.append("雪茄型卷烟")
        else:
            cats.append(VARIANT_CATEGORY.get(VARIANTS[v % len(VARIANTS)], "常规烟"))
    return _Products(
        sku=skus, name=names, brand=brands, category=cats, band=band, units_per_case=upc,
        price_cents=price_cents, cost_cents=cost_cents, lead=lead, lead_std=lead_std,
        moq_cases=moq, shelf_life=shelf_life, launch=launch, delist=delist,
        popularity=popularity, slow=slow, quota_frac=quota_frac,
    )


# --- customers and baskets --------------------------------------------------------------
@dataclass
class _Customers:
    cid: list[str]
    name: list[str]
    channel: np.ndarray
    region: np.ndarray
    warehouse: np.ndarray
    weekday: np.ndarray  # 1..7
    opened: np.ndarray  # day index
    closed: np.ndarray  # day index, FAR = never
    susp_start: np.ndarray
    susp_end: np.ndarray
    empty_tier: np.ndarray  # bool


@dataclass
class _Baskets:
    cust: np.ndarray
    sku: np.ndarray
    mean: np.ndarray  # expected cartons per order cycle at multiplier 1
    prob: np.ndarray  # order probability per cycle (before small-mean scaling)
    shape: np.ndarray  # gamma shape of the size mixing (small = lumpy)
    start: np.ndarray  # first day index the entry can be ordered
    end: np.ndarray  # first day index it can no longer be ordered
    bounds: np.ndarray  # [8] offsets: entries of weekday w are bounds[w-1]:bounds[w]


def _make_customers(cfg: DemoConfig, rng: np.random.Generator, cal_: _Calendar) -> tuple[_Customers, np.ndarray, np.ndarray]:
    n = cfg.n_customers
    years = cfg.days / 365.0
    # Lifecycle events: at least one of each kind in any data set, so it can be tested.
    n_new = max(1, int(round(n * OPEN_RATE_PER_YEAR * years)))
    n_close = max(1, int(round(n * CLOSE_RATE_PER_YEAR * years)))
    n_suspend = max(1, int(round(n * SUSPEND_RATE_PER_YEAR * years)))
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARE)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE)
    warehouse = region * cfg.n_warehouses // len(REGIONS)
    weekday = rng.choice(np.arange(1, 8), size=n, p=WEEKDAY_SHARE)
    opened = -rng.integers(30, 5500, n)
    work_all = _working_days(cal_, 1, cfg.days)
    is_new = np.zeros(n, bool)
    if n_new and len(work_all):
        new = rng.choice(n, size=n_new, replace=False)
        opened[new] = rng.choice(work_all, size=n_new)
        is_new[new] = True
    closed = np.full(n, FAR, dtype=np.int64)
    susp_start = np.full(n, FAR, dtype=np.int64)
    susp_end = np.full(n, FAR, dtype=np.int64)
    existing = np.flatnonzero(~is_new)
    for i in rng.choice(existing, size=min(n_close, len(existing)), replace=False):
        w = _working_days(cal_, max(opened[i] + 28, 1), cfg.days)
        if len(w):
            closed[i] = rng.choice(w)
    for i in rng.choice(existing, size=min(n_suspend, len(existing)), replace=False):
        w = _working_days(cal_, max(opened[i] + 28, 1), cfg.days - 7)
        if len(w):
            s = int(rng.choice(w))
            if s < closed[i]:
                susp_start[i] = s
                susp_end[i] = min(s + int(rng.integers(14, 57)), closed[i])
    empty_tier = rng.random(n) < EMPTY_TIER_SHARE

    # Target volume band (tier / 3) and price band (tier % 3).
    vb = rng.choice(10, size=n, p=VOLUME_BAND_SHARE) + np.round(CHANNEL_VOLUME_SHIFT[channel] * rng.random(n))
    vb = np.where(is_new, np.minimum(vb, 3), vb)
    vb = np.clip(vb, 0, 9).astype(int)
    pb = np.array([rng.choice(3, p=CHANNEL_PRICE_MIX[c]) for c in channel])
    lo, hi = VOLUME_BAND_RANGE[vb, 0], VOLUME_BAND_RANGE[vb, 1]
    volume = np.exp(rng.uniform(np.log(lo * 1.05), np.log(hi * 0.95)))

    serial = rng.permutation(n) + 1
    cid = [f"99{region[i] + 1:02d}{100000 + serial[i]:08d}" for i in range(n)]
    name = []
    for i in range(n):
        suffixes = CHANNEL_NAME_SUFFIX[CHANNELS[channel[i]]]
        name.append(NAME_PREFIXES[rng.integers(len(NAME_PREFIXES))] + suffixes[rng.integers(len(suffixes))])
    cust = _Customers(
        cid=cid, name=name, channel=channel, region=region, warehouse=warehouse, weekday=weekday,
        opened=opened, closed=closed, susp_start=susp_start, susp_end=susp_end, empty_tier=empty_tier,
    )
    return cust, volume, pb


def _make_baskets(
    cfg: DemoConfig, rng: np.random.Generator, cust: _Customers, volume: np.ndarray, price_band: np.ndarray, prod: _Products
) -> _Baskets:
    n_skus = cfg.n_skus
    band_pop = np.bincount(prod.band, weights=prod.popularity, minlength=len(PRICE_BANDS))
    band_pop[band_pop == 0] = np.inf
    regular = ~prod.slow
    parts_c, parts_k, parts_m, parts_q, parts_a = [], [], [], [], []
    slow_idx = np.flatnonzero(prod.slow)
    for c in range(cfg.n_customers):
        mix = BASKET_BAND_MIX[price_band[c]]
        w = np.where(regular, prod.popularity * mix[prod.band] / band_pop[prod.band], 0.0)
        w_sum = w.sum()
        n_e = int(np.clip(round(1.3 * volume[c] ** 0.8) + 1, 1, np.count_nonzero(w)))
        chosen = rng.choice(n_skus, size=n_e, replace=False, p=w / w_sum)
        share = w[chosen] * rng.lognormal(0.0, 0.4, n_e)
        mean = volume[c] * share / share.sum()
        parts_c.append(np.full(n_e, c))
        parts_k.append(chosen)
        parts_m.append(mean)
        parts_q.append(rng.uniform(0.75, 1.0, n_e))
        parts_a.append(np.full(n_e, 4.0))
        # Slow brands: a few (mostly larger, premium) shops stock them occasionally.
        if len(slow_idx) and rng.random() < 0.02 + 0.004 * volume[c] ** 0.7 * (0.5 + price_band[c]) / 2:
            k = rng.choice(slow_idx, size=min(len(slow_idx), int(rng.integers(1, 3))), replace=False)
            parts_c.append(np.full(len(k), c))
            parts_k.append(k)
            parts_m.append(rng.uniform(0.3, 1.5, len(k)))
            parts_q.append(rng.uniform(0.06, 0.2, len(k)))
            parts_a.append(np.full(len(k), 0.6))
    e_cust = np.concatenate(parts_c)
    e_sku = np.concatenate(parts_k)
    e_mean = np.concatenate(parts_m)
    e_prob = np.concatenate(parts_q)
    e_shape = np.concatenate(parts_a)
    # New SKUs are adopted some time after launch; delisted SKUs stop.
    launch = prod.launch[e_sku]
    adopt = np.where(launch > 0, launch + rng.exponential(21.0, len(e_sku)).astype(np.int64), launch)
    e_start = np.maximum(cust.opened[e_cust], adopt)
    e_end = np.minimum(cust.closed[e_cust], prod.delist[e_sku])
    order = np.lexsort((e_sku, e_cust, cust.weekday[e_cust]))
    wd = cust.weekday[e_cust[order]]
    bounds = np.searchsorted(wd, np.arange(1, 9), side="left")
    return _Baskets(
        cust=e_cust[order].astype(np.int64), sku=e_sku[order].astype(np.int64), mean=e_mean[order],
        prob=e_prob[order], shape=e_shape[order], start=e_start[order], end=e_end[order], bounds=bounds,
    )


# --- promotions ---------------------------------------------------------------------------
def _make_promotions(cfg: DemoConfig, rng: np.random.Generator, prod: _Products, cal_: _Calendar) -> dict[str, np.ndarray]:
    years = cfg.days / 365.0
    n = max(2, int(round(cfg.n_skus * PROMOTIONS_PER_SKU_YEAR * years)))
    eligible = np.flatnonzero(~prod.slow & (prod.quota_frac == 0) & (prod.launch < 0) & (prod.delist == FAR))
    if len(eligible) == 0:
        eligible = np.flatnonzero(~prod.slow)
    p = prod.popularity[eligible] / prod.popularity[eligible].sum()
    sku = rng.choice(eligible, size=n, p=p)
    start = rng.integers(3, max(cfg.days - 3, 4), n)
    start[0] = int(rng.integers(0, 10))  # one already announced before the first day
    start = cal_.next_workday[np.minimum(start, len(cal_.dates) - 1)]
    duration = rng.choice([7, 10, 14, 21], n)
    discount = rng.choice([3.0, 5.0, 5.0, 8.0, 10.0], n)
    announce = start - PROMO_ANNOUNCE_DAYS
    order = np.lexsort((sku, start))
    return {
        "sku": sku[order], "start": start[order], "end": (start + duration - 1)[order],
        "discount": discount[order], "announce": announce[order],
    }


# --- output helpers ---------------------------------------------------------------------
_WRITE_OPTS = pacsv.WriteOptions(include_header=True, quoting_style="needed")


def _csv_bytes(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, _WRITE_OPTS)
    return buf.getvalue()


def _check_columns(extract: str, table: pa.Table) -> pa.Table:
    expected = list(EXTRACTS[extract].columns)
    if table.column_names != expected:
        raise AssertionError(f"{extract}: columns {table.column_names} != contract {expected}")
    return table


def _prepare_out_dir(out: Path, overwrite: bool) -> None:
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


def _allocate(req: np.ndarray, key: np.ndarray, avail: np.ndarray, priority: np.ndarray) -> np.ndarray:
    """Supplied quantity per line: all of it where stock suffices; else pro rata (floor)
    and the remainder one carton at a time to the highest-priority lines."""
    total = np.bincount(key, weights=req, minlength=len(avail)).astype(np.int64)
    short = total > avail
    qty = req.copy()
    if not short.any():
        return qty
    sl = np.flatnonzero(short[key])
    k = key[sl]
    base = np.floor(req[sl] * (avail[k] / total[k])).astype(np.int64)
    rem = avail - np.bincount(k, weights=base, minlength=len(avail)).astype(np.int64)
    order = np.lexsort((-priority[sl], k))
    ks = k[order]
    rank = np.arange(len(ks)) - np.searchsorted(ks, ks, side="left")
    bonus = np.zeros(len(sl), dtype=np.int64)
    bonus[order] = rank < rem[ks]
    qty[sl] = np.minimum(base + bonus, req[sl])
    return qty


# --- the simulation -------------------------------------------------------------------------
_EMPTY_ORDER_TYPES = {
    "order_id": pa.int64(), "line_no": pa.int64(), "quantity": pa.int64(),
    "requested_quantity": pa.int64(), "unit_price": pa.float64(), "amount": pa.float64(),
}


class _Simulation:
    """The wholesaler's state, advanced one day at a time by ``step``."""

    def __init__(self, cfg: DemoConfig, out: Path):
        self.cfg, self.out = cfg, out
        self.D = D = cfg.days
        self.T = T = D + _HORIZON
        self.cal = _build_calendar(cfg.start, T)
        # Independent streams: changing one part of the set-up leaves the others alone.
        self.prod = prod = _make_products(cfg, np.random.default_rng([cfg.seed, 1]), self.cal)
        self.cust, volume, price_band = _make_customers(cfg, np.random.default_rng([cfg.seed, 2]), self.cal)
        self.bask = bask = _make_baskets(
            cfg, np.random.default_rng([cfg.seed, 3]), self.cust, volume, price_band, prod
        )
        self.promos = _make_promotions(cfg, np.random.default_rng([cfg.seed, 4]), prod, self.cal)
        self.rng = np.random.default_rng([cfg.seed, 5])  # the daily simulation

        self.N, self.S, self.W = N, S, W = cfg.n_customers, cfg.n_skus, cfg.n_warehouses
        self.warehouses = tuple(f"WH{w + 1:02d}" for w in range(W))
        self.region_warehouse = {REGIONS[r]: self.warehouses[r * W // len(REGIONS)] for r in range(len(REGIONS))}

        # Demand factor G[day, sku]: season x catch-up x promotion lift (0 on holidays).
        lift = np.ones((T, S))
        for k, s0, s1, disc in zip(self.promos["sku"], self.promos["start"], self.promos["end"], self.promos["discount"]):
            lift[s0 : s1 + 1, k] *= 1.0 + PROMO_LIFT_PER_PCT * disc
        self.G = self.cal.season[:, prod.band] * lift
        self.cumG = np.vstack([np.zeros((1, S)), np.cumsum(self.G, axis=0)])

        self._hist_iso: dict[int, str] = {}
        self._static_columns()

        # Customer state.
        self.log_mult = np.zeros(N)
        self.cust_mult = np.ones(N)
        self.crm_tier = np.zeros(N, dtype=np.int64)
        self.target = np.bincount(bask.cust, weights=bask.mean, minlength=N)
        self.e_price = prod.price_cents[bask.sku] / 100.0
        self.key_all = self.cust.warehouse[bask.cust] * S + bask.sku  # flat (warehouse, sku)
        self.wd_customers = {w: np.flatnonzero(self.cust.weekday == w) for w in range(1, 8)}
        # Warehouse state, [warehouse, sku].
        self.upc = np.broadcast_to(prod.units_per_case, (W, S)).astype(np.int64)
        self.moq_qty = np.broadcast_to(prod.moq_cases * prod.units_per_case, (W, S)).astype(np.int64)
        self.lead = prod.lead.astype(np.int64)
        self.on_hand = np.zeros((W, S), dtype=np.int64)
        self.in_transit = np.zeros((W, S), dtype=np.int64)
        self.alloc_prev = np.zeros((W, S), dtype=np.int64)
        self.arrivals = np.zeros((T + 1, W, S), dtype=np.int64)
        self.quota_left = np.zeros((W, S), dtype=np.int64)
        self.batches = [deque() for _ in range(W * S)]  # FIFO per (warehouse, sku): [day, qty]
        # What tests need to check the warehouse identity.
        self.res_receipts = np.zeros((D, W, S), dtype=np.int64)
        self.res_alloc = np.zeros((D, W, S), dtype=np.int64)
        self.res_on_hand = np.zeros((D, W, S), dtype=np.int64)
        self.res_in_transit = np.zeros((D, W, S), dtype=np.int64)
        self.counts = dict(orders=0, order_lines=0, cancelled_orders=0, short_lines=0,
                           zero_supplied_lines=0, requested_qty=0, supplied_qty=0)
        self.files = {name: 0 for name in EXTRACTS}
        self._prev_customers = None
        self._prev_products = None
        self._announce_days = {int(a) for a in self.promos["announce"] if a > 0}

    # --- helpers
    def iso(self, i: int) -> str:
        if 0 <= i < self.T:
            return self.cal.iso[i]
        if i not in self._hist_iso:
            self._hist_iso[i] = (self.cfg.start + timedelta(days=int(i))).isoformat()
        return self._hist_iso[i]

    def _static_columns(self) -> None:
        cust, prod, iso = self.cust, self.prod, self.iso
        self.sku_arr = pa.array(prod.sku, pa.string())
        self.cid_arr = pa.array(cust.cid, pa.string())
        self.iso_arr = pa.array(self.cal.iso, pa.string())
        self.order_status_arr = pa.array(["confirmed", "cancelled"], pa.string())
        self.customer_status_arr = pa.array(list(CUSTOMER_STATUS), pa.string())
        self.wh_arr = pa.array(list(self.warehouses), pa.string())
        self.cust_static = {
            "customer_id": self.cid_arr,
            "customer_name": pa.array(cust.name, pa.string()),
            "channel": pa.array([CHANNELS[c] for c in cust.channel], pa.string()),
            "region": pa.array([REGIONS[r] for r in cust.region], pa.string()),
            "opened_on": pa.array([iso(int(o)) for o in cust.opened], pa.string()),
            "closed_on": pa.array([iso(int(c)) if c < FAR else None for c in cust.closed], pa.string()),
            "order_weekday": pa.array(cust.weekday.astype(np.int64)),
        }
        self.prod_static = {
            "sku": self.sku_arr,
            "product_name": pa.array(prod.name, pa.string()),
            "brand": pa.array(prod.brand, pa.string()),
            "category": pa.array(prod.category, pa.string()),
            "price_band": pa.array([PRICE_BANDS[b] for b in prod.band], pa.string()),
            "unit": pa.array(["条"] * len(prod.sku), pa.string()),
            "units_per_case": pa.array(prod.units_per_case.astype(np.int64)),
            "unit_cost": pa.array(prod.cost_cents / 100.0),
            "list_price": pa.array(prod.price_cents / 100.0),
            "lead_time_days": pa.array(prod.lead.astype(np.int64)),
            "lead_time_std_days": pa.array(prod.lead_std.astype(float)),
            "moq_cases": pa.array(prod.moq_cases.astype(np.int64)),
            "shelf_life_days": pa.array(prod.shelf_life.astype(np.int64)),
            "launched_on": pa.array([iso(int(x)) for x in prod.launch], pa.string()),
        }

    def base_daily(self, t: int, active: np.ndarray, ignore_start: bool = False) -> np.ndarray:
        """Expected cartons per day per (warehouse, sku) from today's baskets, no season."""
        bask = self.bask
        ok = active[bask.cust] & (t < bask.end)
        if not ignore_start:
            ok &= bask.start <= t
        w = bask.mean * self.cust_mult[bask.cust] * ok / 7.0
        return np.bincount(self.key_all, weights=w, minlength=self.W * self.S).reshape(self.W, self.S)

    def horizon(self, t: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Sum of the demand factor over days t+a .. t+b (inclusive), per sku."""
        cols = np.arange(self.S)
        return self.cumG[np.minimum(t + b + 1, self.T), cols] - self.cumG[np.minimum(t + a, self.T), cols]

    def policy_levels(self, t: int, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(s, S) per (warehouse, sku). An order placed today must last until one placed
        at the next review (the next working day, after a holiday) arrives."""
        gap = int(self.cal.next_workday[min(t + 1, self.T - 1)]) - t
        protect = self.lead + gap - 1
        d_protect = base * self.horizon(t, np.ones(self.S, np.int64), protect)
        d_cycle = base * self.horizon(t, protect + 1, protect + REORDER_CYCLE_DAYS)
        mean_d = d_protect / protect
        sig_d = 0.6 * mean_d + np.sqrt(mean_d)  # weekday pattern + Poisson-like noise
        ss = SERVICE_Z * np.sqrt(protect * sig_d**2 + mean_d**2 * self.prod.lead_std**2)
        s_level = d_protect + ss
        return s_level, s_level + d_cycle

    def receive_batches(self, t: int, qty: np.ndarray) -> None:
        for flat in np.flatnonzero(qty.ravel()):
            self.batches[flat].append([t, int(qty.flat[flat])])

    def ship_batches(self, qty: np.ndarray) -> None:
        for flat in np.flatnonzero(qty.ravel()):
            q, dq = int(qty.flat[flat]), self.batches[flat]
            while q > 0:
                head = dq[0]
                take = min(q, head[1])
                head[1] -= take
                q -= take
                if head[1] == 0:
                    dq.popleft()

    # --- one day
    def step(self, t: int) -> None:
        cust = self.cust
        status = np.where(
            t >= cust.closed, STATUS_CLOSED,
            np.where((t >= cust.susp_start) & (t < cust.susp_end), STATUS_SUSPENDED, STATUS_ACTIVE),
        )
        visible = cust.opened <= t
        active = visible & (status == STATUS_ACTIVE)
        first_of_month = t == 0 or self.cal.dates[t].day == 1
        if first_of_month:
            self.retier(t, status)
        self.morning(t, active)
        table, alloc_today = self.take_orders(t, active)
        self.replenish(t, active, alloc_today, first_of_month)
        self.res_alloc[t] = alloc_today
        self.res_on_hand[t] = self.on_hand
        self.res_in_transit[t] = self.in_transit
        self.alloc_prev = alloc_today
        self.write_orders(t, table)
        self.write_inventory(t, alloc_today)
        self.write_customers(t, visible, status)
        self.write_products(t)
        self.write_promotions(t)

    def retier(self, t: int, status: np.ndarray) -> None:
        """Monthly: volumes drift; the CRM tier follows the basket's volume and price."""
        bask, prod, N = self.bask, self.prod, self.N
        self.log_mult = 0.85 * self.log_mult + self.rng.normal(0.0, 0.08, N)
        self.log_mult[status == STATUS_CLOSED] = 0.0
        # A customer's volume is spread over the SKUs it buys now: adopting a new SKU takes
        # share from the others, a delisted SKU's share moves to the rest.
        adopted = (bask.start <= t) & (bask.end > t)
        live = np.bincount(bask.cust, weights=bask.mean * adopted, minlength=N)
        norm = np.clip(np.divide(self.target, live, out=np.ones(N), where=live > 0), 0.5, 2.0)
        self.cust_mult = np.exp(self.log_mult) * norm
        listed = (prod.launch[bask.sku] <= t) & (prod.delist[bask.sku] > t)
        weight = np.bincount(bask.cust, weights=bask.mean * listed, minlength=N)
        amount = np.bincount(bask.cust, weights=bask.mean * listed * self.e_price, minlength=N)
        avg_price = np.divide(amount, weight, out=np.zeros(N), where=weight > 0)
        tier = _tier(self.target * np.exp(self.log_mult), avg_price)
        young = (t - self.cust.opened) < NEW_SHOP_CAP_DAYS
        tier = np.where(young, np.minimum(tier, NEW_SHOP_MAX_TIER), tier)
        frozen = (status == STATUS_CLOSED) & (self.crm_tier > 0)
        self.crm_tier = np.where(frozen, self.crm_tier, tier)

    def morning(self, t: int, active: np.ndarray) -> None:
        """Ship yesterday's allocation, then receive today's deliveries."""
        prod, upc = self.prod, self.upc
        self.ship_batches(self.alloc_prev)
        self.on_hand -= self.alloc_prev
        received = self.arrivals[t].copy()
        self.in_transit -= received
        launching = np.flatnonzero(prod.launch == t)
        if len(launching):  # a new SKU's first stock arrives on its launch day
            potential = self.base_daily(t, active, ignore_start=True)
            for k in launching:
                first = np.ceil(potential[:, k] * (self.lead[k] + 14) / upc[0, k]) * upc[0, k]
                received[:, k] += np.maximum(first, upc[0, k]).astype(np.int64)
        if t == 0:  # opening stock, in two aged batches
            s_level, big_s = self.policy_levels(0, self.base_daily(0, active))
            init = np.ceil((s_level + big_s) / 2 / upc) * upc
            init = np.where(prod.launch[None, :] <= 0, init, 0).astype(np.int64)
            older = (init // 2 // upc) * upc
            self.receive_batches(-30, older)
            self.receive_batches(-10, init - older)
            self.on_hand += init
        self.receive_batches(t, received)
        self.on_hand += received
        self.res_receipts[t] = received

    def take_orders(self, t: int, active: np.ndarray) -> tuple[pa.Table | None, np.ndarray]:
        """Today's order lines (customers whose weekday it is), allocated from on-hand."""
        W, S = self.W, self.S
        alloc_today = np.zeros((W, S), dtype=np.int64)
        if self.cal.holiday[t]:
            return None, alloc_today
        bask, prod, rng = self.bask, self.prod, self.rng
        wd = int(self.cal.weekday[t])
        lo, hi = bask.bounds[wd - 1], bask.bounds[wd]
        wc = self.wd_customers[wd]
        factor = np.zeros(self.N)
        factor[wc] = self.cust_mult[wc] * rng.lognormal(-0.03, 0.25, len(wc))  # this week's mood
        ec, ek = bask.cust[lo:hi], bask.sku[lo:hi]
        ok = active[ec] & (bask.start[lo:hi] <= t) & (t < bask.end[lo:hi])
        mean = bask.mean[lo:hi] * factor[ec] * self.G[t, ek]
        # Order the SKU with probability p, then 1 + a (gamma-mixed) Poisson extra, so the
        # expected quantity is ``mean``; a small gamma shape makes lumpy sizes.
        p = bask.prob[lo:hi] * np.minimum(1.0, mean)
        u = rng.random(hi - lo)
        mix = rng.gamma(bask.shape[lo:hi], 1.0 / bask.shape[lo:hi])
        sel = np.flatnonzero(ok & (u < p))
        if not len(sel):
            return None, alloc_today
        extra = np.maximum((mean[sel] / p[sel] - 1.0) * mix[sel], 0.0)
        req = 1 + rng.poisson(extra).astype(np.int64)
        c_sel, k_sel = ec[sel], ek[sel]
        new_order = np.ones(len(sel), bool)
        new_order[1:] = c_sel[1:] != c_sel[:-1]
        order_idx = np.cumsum(new_order) - 1
        firsts = np.flatnonzero(new_order)
        line_no = np.arange(len(sel)) - firsts[order_idx] + 1
        cancelled = rng.random(len(firsts)) < CANCEL_RATE
        line_cancel = cancelled[order_idx]
        key = self.key_all[lo:hi][sel]
        # Short SKUs go to higher tiers first (ties broken at random).
        qty = _allocate(req, key, self.on_hand.ravel(), self.crm_tier[c_sel] + rng.random(len(sel)))
        conf = ~line_cancel  # a cancelled order's allocation is released
        alloc_today = np.bincount(key[conf], weights=qty[conf], minlength=W * S).astype(np.int64).reshape(W, S)
        day = self.cal.dates[t]
        order_id = (day.year * 10000 + day.month * 100 + day.day) * 1_000_000 + order_idx + 1
        cents = prod.price_cents[k_sel]
        table = pa.table(
            {
                "order_id": pa.array(order_id.astype(np.int64)),
                "line_no": pa.array(line_no.astype(np.int64)),
                "customer_id": self.cid_arr.take(pa.array(c_sel)),
                "sku": self.sku_arr.take(pa.array(k_sel)),
                "order_date": self.iso_arr.take(pa.array(np.full(len(sel), t))),
                "quantity": pa.array(qty),
                "requested_quantity": pa.array(req),
                "unit_price": pa.array(cents / 100.0),
                "amount": pa.array((qty * cents) / 100.0),
                "status": self.order_status_arr.take(pa.array(line_cancel.astype(np.int64))),
            }
        )
        c = self.counts
        c["orders"] += len(firsts)
        c["order_lines"] += len(sel)
        c["cancelled_orders"] += int(cancelled.sum())
        c["short_lines"] += int((qty < req).sum())
        c["zero_supplied_lines"] += int((qty == 0).sum())
        c["requested_qty"] += int(req.sum())
        c["supplied_qty"] += int(qty.sum())
        return table, alloc_today

    def replenish(self, t: int, active: np.ndarray, alloc_today: np.ndarray, first_of_month: bool) -> None:
        """(s,S) on the seasonal expected demand, on working days; quotas cap short SKUs."""
        prod, upc = self.prod, self.upc
        base = self.base_daily(t, active)
        if first_of_month:  # the supplier's monthly quota: a share of normal (non-peak) demand
            q = base * 30.4 * prod.quota_frac
            self.quota_left = np.where(q > 0, np.maximum(np.round(q / upc), 1) * upc, 0).astype(np.int64)
        if self.cal.holiday[t]:
            return
        s_level, big_s = self.policy_levels(t, base)
        position = self.on_hand - alloc_today + self.in_transit
        orderable = (prod.launch <= t) & (t < prod.delist - self.lead - 14)
        need = (position <= s_level) & (big_s > 0) & orderable[None, :]
        qty = np.ceil(np.maximum(big_s - position, 0) / upc) * upc
        qty = np.maximum(qty, self.moq_qty).astype(np.int64)
        constrained = prod.quota_frac[None, :] > 0
        qty = np.where(constrained, np.minimum(qty, (self.quota_left // upc) * upc), qty)
        qty = np.where(need, qty, 0)
        self.quota_left -= np.where(constrained, qty, 0)
        if not qty.any():
            return
        lt = np.maximum(1, np.round(self.rng.normal(self.lead, prod.lead_std, (self.W, self.S)))).astype(np.int64)
        arrive = self.cal.next_workday[np.minimum(t + lt, self.T - 1)]  # no deliveries on holidays
        ww, kk = np.nonzero(qty)
        np.add.at(self.arrivals, (np.minimum(arrive[ww, kk], self.T), ww, kk), qty[ww, kk])
        self.in_transit += qty

    # --- writers
    def _path(self, extract: str, t: int, suffix: str) -> Path:
        self.files[extract] += 1
        return self.out / extract / f"{self.cal.iso[t]}{suffix}"

    def write_orders(self, t: int, table: pa.Table | None) -> None:
        if table is None:  # header only: a day without orders
            table = pa.table({c: pa.array([], _EMPTY_ORDER_TYPES.get(c, pa.string())) for c in EXTRACTS["orders"].columns})
        self._path("orders", t, ".csv").write_bytes(_csv_bytes(_check_columns("orders", table)))

    def write_inventory(self, t: int, alloc_today: np.ndarray) -> None:
        """Every launched SKU in every warehouse, end of day (gzip, fixed header time)."""
        W, S = self.W, self.S
        launched = np.flatnonzero(self.prod.launch <= t)
        oldest = []
        for w in range(W):
            for k in launched:
                dq = self.batches[w * S + k]
                oldest.append(self.iso(dq[0][0]) if dq else None)
        table = pa.table(
            {
                "warehouse_id": self.wh_arr.take(pa.array(np.repeat(np.arange(W), len(launched)))),
                "sku": self.sku_arr.take(pa.array(np.tile(launched, W))),
                "on_hand_qty": pa.array(self.on_hand[:, launched].ravel()),
                "in_transit_qty": pa.array(self.in_transit[:, launched].ravel()),
                "allocated_qty": pa.array(alloc_today[:, launched].ravel()),
                "oldest_batch_date": pa.array(oldest, pa.string()),
            }
        )
        data = gzip.compress(_csv_bytes(_check_columns("inventory", table)), compresslevel=6, mtime=0)
        self._path("inventory", t, ".csv.gz").write_bytes(data)

    def write_customers(self, t: int, visible: np.ndarray, status: np.ndarray) -> None:
        """A full GBK snapshot (like a CRM export) on days when anything in it changed."""
        tier = np.where(self.cust.empty_tier, 0, self.crm_tier)
        signature = (visible, status, tier)
        if self._prev_customers is not None and all(
            np.array_equal(a, b) for a, b in zip(signature, self._prev_customers)
        ):
            return
        self._prev_customers = signature
        rows = pa.array(np.flatnonzero(visible))
        static = self.cust_static
        table = pa.table(
            {
                "customer_id": static["customer_id"].take(rows),
                "customer_name": static["customer_name"].take(rows),
                "channel": static["channel"].take(rows),
                "region": static["region"].take(rows),
                "tier": pa.array(tier, mask=self.cust.empty_tier).take(rows),
                "status": self.customer_status_arr.take(pa.array(status)).take(rows),
                "opened_on": static["opened_on"].take(rows),
                "closed_on": pc.if_else(
                    pa.array(self.cust.closed <= t), static["closed_on"], pa.scalar(None, pa.string())
                ).take(rows),
                "order_weekday": static["order_weekday"].take(rows),
            }
        )
        text = _csv_bytes(_check_columns("customers", table)).decode("utf-8")
        self._path("customers", t, ".csv").write_bytes(text.encode("gbk"))

    def write_products(self, t: int) -> None:
        """A full GBK snapshot on the first day and when a SKU launches or is delisted."""
        visible = self.prod.launch <= t
        delisted = self.prod.delist <= t
        signature = (visible, delisted)
        if self._prev_products is not None and all(
            np.array_equal(a, b) for a, b in zip(signature, self._prev_products)
        ):
            return
        self._prev_products = signature
        rows = pa.array(np.flatnonzero(visible))
        status = pa.array(np.where(delisted, "delisted", "active").tolist(), pa.string())
        table = pa.table(
            {c: (status if c == "status" else self.prod_static[c]).take(rows) for c in EXTRACTS["products"].columns}
        )
        text = _csv_bytes(_check_columns("products", table)).decode("utf-8")
        self._path("products", t, ".csv").write_bytes(text.encode("gbk"))

    def write_promotions(self, t: int) -> None:
        """The full list of announced promotions, on the first day and when it grows."""
        if t != 0 and t not in self._announce_days:
            return
        promos, dates = self.promos, self.cal.dates
        known = promos["announce"] <= t
        table = pa.table(
            {
                "sku": self.sku_arr.take(pa.array(promos["sku"][known])),
                "start_date": pa.array([dates[i] for i in promos["start"][known]], pa.date32()),
                "end_date": pa.array([dates[i] for i in promos["end"][known]], pa.date32()),
                "discount_pct": pa.array(promos["discount"][known]),
            }
        )
        pq.write_table(_check_columns("promotions", table), self._path("promotions", t, ".parquet"))

    def manifest(self) -> dict:
        cfg, D, prod, promos = self.cfg, self.D, self.prod, self.promos
        counts = dict(self.counts)
        counts["customers"] = int(np.count_nonzero(self.cust.opened <= D - 1))
        counts["skus"] = int(np.count_nonzero(prod.launch <= D - 1))
        counts["promotions"] = int(np.count_nonzero(promos["announce"] <= D - 1))
        self.counts = counts
        return {
            "generator": "restock.demo",
            "version": GENERATOR_VERSION,
            "config": {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(cfg).items()},
            "start": cfg.start.isoformat(),
            "end": cfg.end.isoformat(),
            "days": D,
            "warehouses": {wh: [r for r, w in self.region_warehouse.items() if w == wh] for wh in self.warehouses},
            "region_warehouse": self.region_warehouse,
            "holidays": [[self.cal.iso[i], cal.holiday_name(self.cal.dates[i])] for i in np.flatnonzero(self.cal.holiday[:D])],
            "short_skus": [prod.sku[i] for i in np.flatnonzero(prod.quota_frac > 0)],
            "slow_brands": sorted({prod.brand[i] for i in np.flatnonzero(prod.slow)}),
            "counts": counts,
            "files": dict(self.files),
        }


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
    _prepare_out_dir(out, overwrite)
    sim = _Simulation(cfg, out)
    for t in range(cfg.days):
        sim.step(t)
        if progress is not None and ((t + 1) % progress_every == 0 or t == cfg.days - 1):
            progress(t, sim.cal.dates[t], dict(sim.counts, elapsed_s=round(time.perf_counter() - t0, 1)))
    manifest = sim.manifest()
    (out / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return GenerationResult(
        config=cfg, out_dir=out, dates=sim.cal.dates[: cfg.days], warehouses=sim.warehouses,
        skus=tuple(sim.prod.sku), region_warehouse=sim.region_warehouse,
        receipts=sim.res_receipts, allocated=sim.res_alloc, on_hand=sim.res_on_hand,
        in_transit=sim.res_in_transit, counts=sim.counts, files=dict(sim.files),
        elapsed_s=time.perf_counter() - t0,
    )


def read_manifest(out_dir: str | Path) -> dict:
    """The ``_demo_manifest.json`` of a generated landing folder."""
    return json.loads((Path(out_dir) / MANIFEST_NAME).read_text(encoding="utf-8"))


__all__ = [
    "SCALES", "DemoConfig", "GenerationResult", "generate", "read_manifest", "MANIFEST_NAME",
]
