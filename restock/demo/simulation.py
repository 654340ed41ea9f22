"""The wholesaler's state, advanced one day at a time: customers' order cycles, warehouse
stock in FIFO batches (written off a week before the SKU's shelf life ends), allocation of short
stock and the (s,S) supplier orders (slow SKUs in small lots).

No file I/O here: ``Simulation.step`` returns the day's ``Day`` for ``writer.LandingWriter``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from restock.demo.config import HORIZON_DAYS, DemoConfig
from restock.demo.population import make_baskets, make_customers, make_products, make_promotions, make_rhythms
from restock.demo.reference import (
    CANCEL_RATE,
    FAR,
    NEW_SHOP_CAP_DAYS,
    NEW_SHOP_MAX_TIER,
    PROMO_LIFT_PER_PCT,
    REGIONS,
    REORDER_CYCLE_DAYS,
    SERVICE_Z,
    STATUS_ACTIVE,
    STATUS_CLOSED,
    STATUS_SUSPENDED,
    WRITE_OFF_DAYS_BEFORE_EXPIRY,
    WRITE_OFF_MAX_ROW_SHARE,
    crm_tier,
)
from restock.demo.seasons import build_calendar


def allocate(req: np.ndarray, key: np.ndarray, avail: np.ndarray, priority: np.ndarray) -> np.ndarray:
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


@dataclass
class OrderLines:
    """One day's order lines, grouped by order (customer), SKUs ascending within one."""

    order_id: np.ndarray
    line_no: np.ndarray
    customer: np.ndarray  # customer index
    sku: np.ndarray  # sku index
    quantity: np.ndarray  # confirmed (allocated) cartons
    requested_quantity: np.ndarray
    cancelled: np.ndarray  # bool per line: its order was cancelled


@dataclass
class Day:
    """What one simulated day leaves for the extract files (state is read off the simulation)."""

    t: int
    order_lines: OrderLines | None  # None: no order lines (holiday, or nobody ordered)
    allocated: np.ndarray  # [warehouse, sku] confirmed today, shipped tomorrow morning
    visible: np.ndarray  # bool per customer: opened by today
    status: np.ndarray  # STATUS_* per customer


class Simulation:
    """The wholesaler's state, advanced one day at a time by ``step``."""

    def __init__(self, config: DemoConfig):
        self.config = cfg = config
        self.n_days = D = cfg.days
        self.n_sim_days = T = D + HORIZON_DAYS
        self.calendar = build_calendar(cfg.start, T)
        # Independent streams: changing one part of the set-up leaves the others alone.
        self.products = prod = make_products(cfg, np.random.default_rng([cfg.seed, 1]), self.calendar)
        self.customers, volume, price_band = make_customers(cfg, np.random.default_rng([cfg.seed, 2]), self.calendar)
        self.baskets = bask = make_baskets(
            cfg, np.random.default_rng([cfg.seed, 3]), self.customers, volume, price_band, prod
        )
        self.promotions = make_promotions(cfg, np.random.default_rng([cfg.seed, 4]), prod, self.calendar)
        self.rng = np.random.default_rng([cfg.seed, 5])  # the daily simulation
        # Opt-in variants: their own stream, drawn only when switched on (the default
        # set's bytes do not change).
        self.rhythms = (
            make_rhythms(cfg, np.random.default_rng([cfg.seed, 6]), self.customers) if cfg.has_variants else None
        )

        self.n_customers, self.n_skus, self.n_warehouses = N, S, W = cfg.n_customers, cfg.n_skus, cfg.n_warehouses
        self.warehouses = tuple(f"WH{w + 1:02d}" for w in range(W))
        self.region_warehouse = {REGIONS[r]: self.warehouses[r * W // len(REGIONS)] for r in range(len(REGIONS))}

        # Demand factor [day, sku]: season x catch-up x promotion lift (0 on holidays).
        promos = self.promotions
        lift = np.ones((T, S))
        for k, s0, s1, disc in zip(promos["sku"], promos["start"], promos["end"], promos["discount"], strict=True):
            lift[s0 : s1 + 1, k] *= 1.0 + PROMO_LIFT_PER_PCT * disc
        self.demand_factor = self.calendar.season[:, prod.price_band] * lift
        if cfg.trend:  # the market grows (or shrinks) by `trend` a year
            self.demand_factor *= ((1.0 + cfg.trend) ** (np.arange(T) / 365.25))[:, None]
        # Row i holds the sum over days < i, so any window's sum is one subtraction.
        self.demand_factor_cumsum = np.vstack([np.zeros((1, S)), np.cumsum(self.demand_factor, axis=0)])

        # Customer state.
        self.log_volume_drift = np.zeros(N)
        self.volume_multiplier = np.ones(N)
        self.crm_tier = np.zeros(N, dtype=np.int64)
        self.target_volume = np.bincount(bask.customer, weights=bask.mean_qty, minlength=N)
        self.entry_price = prod.price_cents[bask.sku] / 100.0
        self.entry_stock_key = self.customers.warehouse[bask.customer] * S + bask.sku  # flat (warehouse, sku)
        self.customers_by_weekday = {w: np.flatnonzero(self.customers.order_weekday == w) for w in range(1, 8)}
        # Warehouse state, [warehouse, sku].
        self.case_units = np.broadcast_to(prod.units_per_case, (W, S)).astype(np.int64)
        self.min_order_units = np.broadcast_to(prod.moq_cases * prod.units_per_case, (W, S)).astype(np.int64)
        self.lead_days = prod.lead_days.astype(np.int64)
        self.on_hand = np.zeros((W, S), dtype=np.int64)
        self.in_transit = np.zeros((W, S), dtype=np.int64)
        self.allocated_yesterday = np.zeros((W, S), dtype=np.int64)
        self.arrivals = np.zeros((T + 1, W, S), dtype=np.int64)
        self.quota_left = np.zeros((W, S), dtype=np.int64)
        self.batches: list[deque[list[int]]] = [deque() for _ in range(W * S)]  # FIFO per (warehouse, sku): [day, qty]
        self.head_day = np.full(W * S, FAR, dtype=np.int64)  # receipt day of each FIFO's oldest batch, FAR: empty
        # What tests need to check the warehouse identity.
        self.daily_receipts = np.zeros((D, W, S), dtype=np.int64)
        self.daily_allocated = np.zeros((D, W, S), dtype=np.int64)
        self.daily_on_hand = np.zeros((D, W, S), dtype=np.int64)
        self.daily_in_transit = np.zeros((D, W, S), dtype=np.int64)
        self.daily_written_off = np.zeros((D, W, S), dtype=np.int64)
        self.daily_ordered = np.zeros((D, W, S), dtype=np.int64)
        self.counts = dict(
            orders=0,
            order_lines=0,
            cancelled_orders=0,
            short_lines=0,
            zero_supplied_lines=0,
            requested_qty=0,
            supplied_qty=0,
            write_offs=0,
            written_off_qty=0,
        )

    # --- helpers
    def base_daily(self, t: int, active: np.ndarray, ignore_start: bool = False) -> np.ndarray:
        """Expected cartons per day per (warehouse, sku) from today's baskets, no season."""
        bask = self.baskets
        ok = active[bask.customer] & (t < bask.end_day)
        if not ignore_start:
            ok &= bask.start_day <= t
        w = bask.mean_qty * self.volume_multiplier[bask.customer] * ok / 7.0
        return np.bincount(self.entry_stock_key, weights=w, minlength=self.n_warehouses * self.n_skus).reshape(
            self.n_warehouses, self.n_skus
        )

    def factor_sum(self, t: int, first: np.ndarray, last: np.ndarray) -> np.ndarray:
        """Sum of the demand factor over days t+first .. t+last (inclusive), per sku."""
        cols = np.arange(self.n_skus)
        cumsum, T = self.demand_factor_cumsum, self.n_sim_days
        return cumsum[np.minimum(t + last + 1, T), cols] - cumsum[np.minimum(t + first, T), cols]

    def policy_levels(self, t: int, base: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(s, S, cap) per (warehouse, sku). An order placed today must last until one
        placed at the next review (the next working day, after a holiday) arrives; no
        lot lifts the stock position above ``cap`` = s + ``slow_lot_weeks`` of expected
        demand (see ``lots``)."""
        S = self.n_skus
        gap = int(self.calendar.next_workday[min(t + 1, self.n_sim_days - 1)]) - t
        protect = self.lead_days + gap - 1
        d_protect = base * self.factor_sum(t, np.ones(S, np.int64), protect)
        d_cycle = base * self.factor_sum(t, protect + 1, protect + REORDER_CYCLE_DAYS)
        cover = int(round(7 * self.config.slow_lot_weeks))
        d_cover = base * self.factor_sum(t, protect + 1, protect + max(cover, REORDER_CYCLE_DAYS))
        mean_d = d_protect / protect
        sig_d = 0.6 * mean_d + np.sqrt(mean_d)  # weekday pattern + Poisson-like noise
        ss = SERVICE_Z * np.sqrt(protect * sig_d**2 + mean_d**2 * self.products.lead_std_days**2)
        s_level = d_protect + ss
        return s_level, s_level + d_cycle, s_level + d_cover

    def lots(self, up_to: np.ndarray, cap: np.ndarray, position: np.ndarray) -> np.ndarray:
        """Supplier lot per (warehouse, sku) lifting ``position`` to ``up_to``: whole cases,
        at least the MOQ. A slow SKU, whose case lot would lift the position above
        ``cap`` (weeks of demand it would hold towards its shelf life), is bought in
        cartons up to ``cap`` instead (at least one)."""
        cases = np.maximum(
            np.ceil(np.maximum(up_to - position, 0) / self.case_units) * self.case_units, self.min_order_units
        )
        cartons = np.maximum(np.ceil(cap - position), 1)
        return np.where(position + cases <= cap, cases, cartons).astype(np.int64)

    def receive_batches(self, t: int, qty: np.ndarray) -> None:
        for flat in np.flatnonzero(qty.ravel()):
            if not self.batches[flat]:
                self.head_day[flat] = t
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
            self.head_day[flat] = dq[0][0] if dq else FAR

    def write_off(self, t: int) -> np.ndarray:
        """Take batches within ``WRITE_OFF_DAYS_BEFORE_EXPIRY`` of their SKU's shelf life
        off the stock; returns the [warehouse, sku] quantities. At most
        ``WRITE_OFF_MAX_ROW_SHARE`` of the inventory extract's rows a day, the earliest
        expiries first (the others follow on the next days), so that no day's extract
        fails the ingest's stock-identity gate."""
        W, S = self.n_warehouses, self.n_skus
        written = np.zeros((W, S), dtype=np.int64)
        # A batch received on or before this day is due (day + shelf life - t <= the days before expiry).
        due_by = np.tile(t + WRITE_OFF_DAYS_BEFORE_EXPIRY - self.products.shelf_life_days, W)
        due = np.flatnonzero(self.head_day <= due_by)
        if not len(due):
            return written
        rows = W * int(np.count_nonzero(self.products.launch_day <= t))
        due = due[np.lexsort((due, self.head_day[due] - due_by[due]))]  # the earliest expiry first
        for flat in due[: max(1, int(WRITE_OFF_MAX_ROW_SHARE * rows))]:
            dq, last = self.batches[flat], due_by[flat]
            while dq and dq[0][0] <= last:
                written.flat[flat] += dq.popleft()[1]
            self.head_day[flat] = dq[0][0] if dq else FAR
        self.counts["write_offs"] += int(np.count_nonzero(written))
        self.counts["written_off_qty"] += int(written.sum())
        return written

    def oldest_batch_days(self, skus: np.ndarray) -> list[int | None]:
        """Receipt day of the oldest batch on hand, warehouse-major over ``skus``; None if empty."""
        heads = self.head_day.reshape(self.n_warehouses, self.n_skus)[:, skus].ravel().tolist()
        return [None if d == FAR else d for d in heads]

    # --- one day
    def activity(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(status, visible, active) per customer on day t."""
        cust = self.customers
        status = np.where(
            t >= cust.closed_day,
            STATUS_CLOSED,
            np.where((t >= cust.suspended_from) & (t < cust.suspended_until), STATUS_SUSPENDED, STATUS_ACTIVE),
        )
        visible = cust.opened_day <= t
        return status, visible, visible & (status == STATUS_ACTIVE)

    def step(self, t: int) -> Day:
        status, visible, active = self.activity(t)
        first_of_month = t == 0 or self.calendar.dates[t].day == 1
        if first_of_month:
            self.retier(t, status)
        self.morning(t, active)
        lines, alloc_today = self.take_orders(t, active)
        self.replenish(t, active, alloc_today, first_of_month)
        self.daily_allocated[t] = alloc_today
        self.daily_on_hand[t] = self.on_hand
        self.daily_in_transit[t] = self.in_transit
        self.allocated_yesterday = alloc_today
        return Day(t=t, order_lines=lines, allocated=alloc_today, visible=visible, status=status)

    def retier(self, t: int, status: np.ndarray) -> None:
        """Monthly: volumes drift; the CRM tier follows the basket's volume and price."""
        bask, prod, N = self.baskets, self.products, self.n_customers
        self.log_volume_drift = 0.85 * self.log_volume_drift + self.rng.normal(0.0, 0.08, N)
        self.log_volume_drift[status == STATUS_CLOSED] = 0.0
        # A customer's volume is spread over the SKUs it buys now: adopting a new SKU takes
        # share from the others, a delisted SKU's share moves to the rest.
        adopted = (bask.start_day <= t) & (bask.end_day > t)
        live = np.bincount(bask.customer, weights=bask.mean_qty * adopted, minlength=N)
        norm = np.clip(np.divide(self.target_volume, live, out=np.ones(N), where=live > 0), 0.5, 2.0)
        self.volume_multiplier = np.exp(self.log_volume_drift) * norm
        listed = (prod.launch_day[bask.sku] <= t) & (prod.delist_day[bask.sku] > t)
        weight = np.bincount(bask.customer, weights=bask.mean_qty * listed, minlength=N)
        amount = np.bincount(bask.customer, weights=bask.mean_qty * listed * self.entry_price, minlength=N)
        avg_price = np.divide(amount, weight, out=np.zeros(N), where=weight > 0)
        tier = crm_tier(self.target_volume * np.exp(self.log_volume_drift), avg_price)
        young = (t - self.customers.opened_day) < NEW_SHOP_CAP_DAYS
        tier = np.where(young, np.minimum(tier, NEW_SHOP_MAX_TIER), tier)
        frozen = (status == STATUS_CLOSED) & (self.crm_tier > 0)  # a closed shop keeps its last tier
        self.crm_tier = np.where(frozen, self.crm_tier, tier)

    def morning(self, t: int, active: np.ndarray) -> None:
        """Ship yesterday's allocation, write off batches about to expire, then receive today's deliveries."""
        prod, upc = self.products, self.case_units
        self.ship_batches(self.allocated_yesterday)
        self.on_hand -= self.allocated_yesterday
        written = self.write_off(t)
        self.on_hand -= written
        self.daily_written_off[t] = written
        received = self.arrivals[t].copy()
        self.in_transit -= received
        launching = np.flatnonzero(prod.launch_day == t)
        if len(launching):  # a new SKU's first stock arrives on its launch day
            potential = self.base_daily(t, active, ignore_start=True)
            for k in launching:
                need = potential[:, k] * (self.lead_days[k] + 14)
                first = np.maximum(np.ceil(need / upc[0, k]), 1) * upc[0, k]
                cap = potential[:, k] * (self.lead_days[k] + 7 * self.config.slow_lot_weeks)
                first = np.where(first <= cap, first, np.maximum(np.ceil(need), 1))  # a slow SKU: cartons
                received[:, k] += first.astype(np.int64)
        if t == 0:  # opening stock, weeks of demand like a lot, in two aged batches
            s_level, big_s, cap = self.policy_levels(0, self.base_daily(0, active))
            cases = np.ceil((s_level + big_s) / 2 / upc) * upc
            slow = cases > cap  # a slow SKU: the mean stock of its carton lots
            init = np.where(slow, np.ceil((s_level + cap) / 2), cases)
            init = np.where(prod.launch_day[None, :] <= 0, init, 0).astype(np.int64)
            older = np.where(slow, init // 2, (init // 2 // upc) * upc)
            self.receive_batches(-30, older)
            self.receive_batches(-10, init - older)
            self.on_hand += init
        self.receive_batches(t, received)
        self.on_hand += received
        self.daily_receipts[t] = received

    def take_orders(self, t: int, active: np.ndarray) -> tuple[OrderLines | None, np.ndarray]:
        """Today's order lines (customers whose weekday it is), allocated from on-hand."""
        W, S = self.n_warehouses, self.n_skus
        alloc_today = np.zeros((W, S), dtype=np.int64)
        if self.calendar.holiday[t]:
            return None, alloc_today
        bask, rng = self.baskets, self.rng
        wd = int(self.calendar.weekday[t])
        lo, hi = bask.weekday_bounds[wd - 1], bask.weekday_bounds[wd]
        wc = self.customers_by_weekday[wd]
        factor = np.zeros(self.n_customers)
        factor[wc] = self.volume_multiplier[wc] * rng.lognormal(-0.03, 0.25, len(wc))  # this week's mood
        ec, ek = bask.customer[lo:hi], bask.sku[lo:hi]
        ok = active[ec] & (bask.start_day[lo:hi] <= t) & (t < bask.end_day[lo:hi])
        mean = bask.mean_qty[lo:hi] * factor[ec] * self.demand_factor[t, ek]
        if self.rhythms is not None:  # opt-in: every k weeks (k weeks' worth), lapses
            rh = self.rhythms
            ordering = ((t // 7) % rh.rhythm == rh.phase) & ~((rh.lapse_from <= t) & (t < rh.lapse_until))
            ok &= ordering[ec]
            mean = mean * rh.rhythm[ec]
        # Order the SKU with probability p, then 1 + a (gamma-mixed) Poisson extra, so the
        # expected quantity is ``mean``; a small gamma shape makes lumpy sizes.
        p = bask.order_prob[lo:hi] * np.minimum(1.0, mean)
        u = rng.random(hi - lo)
        mix = rng.gamma(bask.size_shape[lo:hi], 1.0 / bask.size_shape[lo:hi])
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
        key = self.entry_stock_key[lo:hi][sel]
        # Short SKUs go to higher tiers first (ties broken at random).
        qty = allocate(req, key, self.on_hand.ravel(), self.crm_tier[c_sel] + rng.random(len(sel)))
        conf = ~line_cancel  # a cancelled order's allocation is released
        alloc_today = np.bincount(key[conf], weights=qty[conf], minlength=W * S).astype(np.int64).reshape(W, S)
        day = self.calendar.dates[t]
        order_id = (day.year * 10000 + day.month * 100 + day.day) * 1_000_000 + order_idx + 1
        lines = OrderLines(
            order_id=order_id,
            line_no=line_no,
            customer=c_sel,
            sku=k_sel,
            quantity=qty,
            requested_quantity=req,
            cancelled=line_cancel,
        )
        c = self.counts
        c["orders"] += len(firsts)
        c["order_lines"] += len(sel)
        c["cancelled_orders"] += int(cancelled.sum())
        c["short_lines"] += int((qty < req).sum())
        c["zero_supplied_lines"] += int((qty == 0).sum())
        c["requested_qty"] += int(req.sum())
        c["supplied_qty"] += int(qty.sum())
        return lines, alloc_today

    def replenish(self, t: int, active: np.ndarray, alloc_today: np.ndarray, first_of_month: bool) -> None:
        """(s,S) on the seasonal expected demand, on working days; quotas cap short SKUs."""
        prod, upc = self.products, self.case_units
        base = self.base_daily(t, active)
        if first_of_month:  # the supplier's monthly quota: a share of normal (non-peak) demand
            q = base * 30.4 * prod.quota_share
            self.quota_left = np.where(q > 0, np.maximum(np.round(q / upc), 1) * upc, 0).astype(np.int64)
        if self.calendar.holiday[t]:
            return
        s_level, big_s, cap = self.policy_levels(t, base)
        position = self.on_hand - alloc_today + self.in_transit
        # Stop ordering a SKU that would arrive after (or just before) its delisting.
        orderable = (prod.launch_day <= t) & (t < prod.delist_day - self.lead_days - 14)
        need = (position <= s_level) & (big_s > 0) & orderable[None, :]
        qty = self.lots(big_s, cap, position)
        constrained = prod.quota_share[None, :] > 0
        qty = np.where(constrained, np.minimum(qty, (self.quota_left // upc) * upc), qty)
        qty = np.where(need, qty, 0)
        self.quota_left -= np.where(constrained, qty, 0)
        self.daily_ordered[t] = qty
        if not qty.any():
            return
        shape = (self.n_warehouses, self.n_skus)
        lt = np.maximum(1, np.round(self.rng.normal(self.lead_days, prod.lead_std_days, shape))).astype(np.int64)
        arrive = self.calendar.next_workday[np.minimum(t + lt, self.n_sim_days - 1)]  # no deliveries on holidays
        ww, kk = np.nonzero(qty)
        np.add.at(self.arrivals, (np.minimum(arrive[ww, kk], self.n_sim_days), ww, kk), qty[ww, kk])
        self.in_transit += qty
