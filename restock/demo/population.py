"""Who and what the demo distributor trades: SKUs, customers, their baskets, promotions.

Built once at the start of a run, each from its own random stream, as flat arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from restock.demo.config import DemoConfig
from restock.demo.reference import (
    BASKET_BAND_MIX,
    BRANDS,
    CHANNEL_NAME_SUFFIX,
    CHANNEL_PRICE_MIX,
    CHANNEL_SHARE,
    CHANNEL_VOLUME_SHIFT,
    CHANNELS,
    CLOSE_RATE_PER_YEAR,
    EMPTY_TIER_SHARE,
    FAR,
    NAME_PREFIXES,
    OPEN_RATE_PER_YEAR,
    PRICE_BAND_RANGE,
    PRICE_BAND_SKU_SHARE,
    PRICE_BANDS,
    PROMO_ANNOUNCE_DAYS,
    PROMOTIONS_PER_SKU_YEAR,
    REGION_SHARE,
    REGIONS,
    SUSPEND_RATE_PER_YEAR,
    VARIANT_CATEGORY,
    VARIANTS,
    VOLUME_BAND_RANGE,
    VOLUME_BAND_SHARE,
    WEEKDAY_SHARE,
)
from restock.demo.seasons import DemoCalendar, working_days


# --- products -------------------------------------------------------------------------
@dataclass
class Products:
    sku: list[str]
    name: list[str]
    brand: list[str]
    category: list[str]
    price_band: np.ndarray  # index into PRICE_BANDS, 0..4
    units_per_case: np.ndarray
    price_cents: np.ndarray
    cost_cents: np.ndarray
    lead_days: np.ndarray
    lead_std_days: np.ndarray  # one decimal
    moq_cases: np.ndarray
    shelf_life_days: np.ndarray
    launch_day: np.ndarray  # day index (negative = before start)
    delist_day: np.ndarray  # day index, FAR = never
    popularity: np.ndarray
    slow: np.ndarray  # bool
    quota_share: np.ndarray  # monthly supplier quota / normal demand; 0 = no quota


def make_products(cfg: DemoConfig, rng: np.random.Generator, calendar: DemoCalendar) -> Products:
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
    work = working_days(calendar, 21, cfg.days - 14)
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
            delist[chosen] = rng.choice(working_days(calendar, 30, cfg.days), size=len(chosen))

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
    return Products(
        sku=skus,
        name=names,
        brand=brands,
        category=cats,
        price_band=band,
        units_per_case=upc,
        price_cents=price_cents,
        cost_cents=cost_cents,
        lead_days=lead,
        lead_std_days=lead_std,
        moq_cases=moq,
        shelf_life_days=shelf_life,
        launch_day=launch,
        delist_day=delist,
        popularity=popularity,
        slow=slow,
        quota_share=quota_frac,
    )


# --- customers and baskets --------------------------------------------------------------
@dataclass
class Customers:
    customer_id: list[str]
    name: list[str]
    channel: np.ndarray  # index into CHANNELS
    region: np.ndarray  # index into REGIONS
    warehouse: np.ndarray  # index of the serving warehouse
    order_weekday: np.ndarray  # 1..7
    opened_day: np.ndarray  # day index
    closed_day: np.ndarray  # day index, FAR = never
    suspended_from: np.ndarray  # day index, FAR = never
    suspended_until: np.ndarray  # first day index active again
    empty_tier: np.ndarray  # bool: the CRM export leaves the tier blank


@dataclass
class Baskets:
    """One entry per (customer, SKU) a customer buys, sorted by order weekday, customer, SKU."""

    customer: np.ndarray
    sku: np.ndarray
    mean_qty: np.ndarray  # expected cartons per order cycle at multiplier 1
    order_prob: np.ndarray  # order probability per cycle (before small-mean scaling)
    size_shape: np.ndarray  # gamma shape of the size mixing (small = lumpy)
    start_day: np.ndarray  # first day index the entry can be ordered
    end_day: np.ndarray  # first day index it can no longer be ordered
    weekday_bounds: np.ndarray  # [8] offsets: entries of weekday w are bounds[w-1]:bounds[w]


def make_customers(
    cfg: DemoConfig, rng: np.random.Generator, calendar: DemoCalendar
) -> tuple[Customers, np.ndarray, np.ndarray]:
    """The customers, plus each one's target weekly volume and price band (0..2)."""
    n = cfg.n_customers
    years = cfg.days / 365.0
    # Lifecycle events: at least one of each kind in any data set, so it can be tested.
    open_rate = OPEN_RATE_PER_YEAR if cfg.open_rate is None else cfg.open_rate
    n_new = max(1, int(round(n * open_rate * years)))
    n_close = max(1, int(round(n * CLOSE_RATE_PER_YEAR * years)))
    n_suspend = max(1, int(round(n * SUSPEND_RATE_PER_YEAR * years)))
    channel = rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARE)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE)
    warehouse = region * cfg.n_warehouses // len(REGIONS)
    weekday = rng.choice(np.arange(1, 8), size=n, p=WEEKDAY_SHARE)
    opened = -rng.integers(30, 5500, n)
    work_all = working_days(calendar, 1, cfg.days)
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
        w = working_days(calendar, max(opened[i] + 28, 1), cfg.days)
        if len(w):
            closed[i] = rng.choice(w)
    for i in rng.choice(existing, size=min(n_suspend, len(existing)), replace=False):
        w = working_days(calendar, max(opened[i] + 28, 1), cfg.days - 7)
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
    customers = Customers(
        customer_id=cid,
        name=name,
        channel=channel,
        region=region,
        warehouse=warehouse,
        order_weekday=weekday,
        opened_day=opened,
        closed_day=closed,
        suspended_from=susp_start,
        suspended_until=susp_end,
        empty_tier=empty_tier,
    )
    return customers, volume, pb


def make_baskets(
    cfg: DemoConfig,
    rng: np.random.Generator,
    customers: Customers,
    volume: np.ndarray,
    price_band: np.ndarray,
    products: Products,
) -> Baskets:
    n_skus = cfg.n_skus
    band = products.price_band
    band_pop = np.bincount(band, weights=products.popularity, minlength=len(PRICE_BANDS))
    band_pop[band_pop == 0] = np.inf
    regular = ~products.slow
    parts_c, parts_k, parts_m, parts_q, parts_a = [], [], [], [], []
    slow_idx = np.flatnonzero(products.slow)
    for c in range(cfg.n_customers):
        mix = BASKET_BAND_MIX[price_band[c]]
        w = np.where(regular, products.popularity * mix[band] / band_pop[band], 0.0)
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
    launch = products.launch_day[e_sku]
    adopt = np.where(launch > 0, launch + rng.exponential(21.0, len(e_sku)).astype(np.int64), launch)
    e_start = np.maximum(customers.opened_day[e_cust], adopt)
    e_end = np.minimum(customers.closed_day[e_cust], products.delist_day[e_sku])
    order = np.lexsort((e_sku, e_cust, customers.order_weekday[e_cust]))
    wd = customers.order_weekday[e_cust[order]]
    bounds = np.searchsorted(wd, np.arange(1, 9), side="left")
    return Baskets(
        customer=e_cust[order].astype(np.int64),
        sku=e_sku[order].astype(np.int64),
        mean_qty=e_mean[order],
        order_prob=e_prob[order],
        size_shape=e_shape[order],
        start_day=e_start[order],
        end_day=e_end[order],
        weekday_bounds=bounds,
    )


# --- opt-in variants ------------------------------------------------------------------------
@dataclass
class Rhythms:
    """Each customer's ordering rhythm and lapse (DemoConfig's opt-in variants).

    A customer orders on its weekday in the weeks where ``week % rhythm == phase``
    (``week`` = day index // 7), buying ``rhythm`` weeks' worth each time, and not
    at all from ``lapse_from`` until ``lapse_until`` (a shop that stops ordering
    without closing, then comes back; FAR = no lapse).
    """

    rhythm: np.ndarray  # weeks between two orders, 1 = weekly
    phase: np.ndarray  # 0..rhythm-1
    lapse_from: np.ndarray  # day index, FAR = never
    lapse_until: np.ndarray  # first day index ordering again


def make_rhythms(cfg: DemoConfig, rng: np.random.Generator, customers: Customers) -> Rhythms:
    """Rhythms and lapses from their own random stream (the default set draws none)."""
    n = cfg.n_customers
    rhythm = rng.choice(np.asarray(cfg.rhythm_weeks, dtype=np.int64), size=n)
    phase = (rng.random(n) * rhythm).astype(np.int64)
    lapse_from = np.full(n, FAR, dtype=np.int64)
    lapse_until = np.full(n, FAR, dtype=np.int64)
    years = cfg.days / 365.0
    lapsing = np.flatnonzero(rng.random(n) < min(1.0, cfg.lapse_rate * years))
    starts = np.maximum(customers.opened_day[lapsing], 0) + rng.integers(28, max(cfg.days, 29), len(lapsing))
    lapse_from[lapsing] = starts
    lapse_until[lapsing] = starts + rng.integers(6 * 7, 30 * 7 + 1, len(lapsing))
    return Rhythms(rhythm=rhythm, phase=phase, lapse_from=lapse_from, lapse_until=lapse_until)


# --- promotions ---------------------------------------------------------------------------
def make_promotions(
    cfg: DemoConfig, rng: np.random.Generator, products: Products, calendar: DemoCalendar
) -> dict[str, np.ndarray]:
    """Promotions as arrays keyed sku / start / end / discount / announce (day indexes)."""
    years = cfg.days / 365.0
    n = max(2, int(round(cfg.n_skus * PROMOTIONS_PER_SKU_YEAR * years)))
    eligible = np.flatnonzero(
        ~products.slow & (products.quota_share == 0) & (products.launch_day < 0) & (products.delist_day == FAR)
    )
    if len(eligible) == 0:
        eligible = np.flatnonzero(~products.slow)
    p = products.popularity[eligible] / products.popularity[eligible].sum()
    sku = rng.choice(eligible, size=n, p=p)
    start = rng.integers(3, max(cfg.days - 3, 4), n)
    start[0] = int(rng.integers(0, 10))  # one already announced before the first day
    start = calendar.next_workday[np.minimum(start, len(calendar.dates) - 1)]
    duration = rng.choice([7, 10, 14, 21], n)
    discount = rng.choice([3.0, 5.0, 5.0, 8.0, 10.0], n)
    announce = start - PROMO_ANNOUNCE_DAYS
    order = np.lexsort((sku, start))
    return {
        "sku": sku[order],
        "start": start[order],
        "end": (start + duration - 1)[order],
        "discount": discount[order],
        "announce": announce[order],
    }
