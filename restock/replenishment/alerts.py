"""Inventory alerts per warehouse × SKU: stockout risk, below safety stock, overstock,
expiring and dead stock.

Pure function :func:`inventory_alerts` on the ``replenishment_plan`` rows (see
:mod:`restock.replenishment.policy`) joined with batch and demand-history facts. The
thresholds are parameters; their defaults here equal restock.yaml's
(:class:`restock.config.AlertsConfig`). Formulas: days of supply = stock ÷ mean
daily demand and the safety stock of domain.md ("Inventory formulas").

Every alert row carries the number compared (``value``), the limit it was compared
with (``threshold``) and a ``detail`` sentence with the numbers. Rules, with the
boundary stated (a value exactly on a limit alerts only where "≤"/"≥" says so):

- **Negligible demand** (``d`` < ``min_daily_demand``, default 0.1 sales unit a day):
  no ``stockout_risk`` and no ``below_safety_stock`` alert (a SKU selling a carton a
  quarter is not at risk of a stockout worth an alarm; its safety stock is a few
  hundredths of a carton). The other alerts do not look at it.
- ``stockout_risk``: projected stock at the end of the lead time, ``position − d·L``,
  is < 0 (value: projected stock; threshold: 0). Severity **high** if the position
  covers less than half the lead time (``position < d·L/2``), else **medium**.
- ``below_safety_stock``: on hand < safety stock (never with SS = 0; value: on hand;
  threshold: SS). **medium** if on hand < SS/2, else **low**.
- ``overstock``: days of supply > ``overstock_days`` (infinite when stock is held
  without forecast demand; value: days of supply). **medium** if > 2 × the limit (or infinite), else **low**.
- ``expiring``: on hand > 0 and days to expiry = oldest_batch_date + shelf_life_days −
  as_of ≤ ``expiry_warning_days`` (value: days to expiry). **high** if ≤ 0 (expired),
  **medium** if ≤ half the warning days, else **low**.
- ``dead_stock``: on hand > 0 and weeks since last demand ≥ ``dead_stock_weeks``
  (value: weeks). **medium** if ≥ 2 × the limit, else **low**.

Projected stock assumes everything in transit arrives within the lead time and uses
mean demand only (the safety stock covers the spread; ``below_safety_stock`` tells
when that cushion is being used). Rows with a null expiry input or null weeks since
last demand raise no expiring / dead-stock alert (unknown is not evidence).
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd

STOCKOUT_RISK = "stockout_risk"
BELOW_SAFETY_STOCK = "below_safety_stock"
OVERSTOCK = "overstock"
EXPIRING = "expiring"
DEAD_STOCK = "dead_stock"
ALERT_TYPES = (STOCKOUT_RISK, BELOW_SAFETY_STOCK, OVERSTOCK, EXPIRING, DEAD_STOCK)
HIGH, MEDIUM, LOW = "high", "medium", "low"
SEVERITIES = (HIGH, MEDIUM, LOW)

# Keyword defaults for use on their own; the daily run passes restock.yaml's values
# (equal by default: tests/replenishment/test_defaults.py).
DEFAULT_OVERSTOCK_DAYS = 60.0  # days of supply above which stock is excess
DEFAULT_EXPIRY_WARNING_DAYS = 30  # warn this many days before the oldest batch expires
DEFAULT_DEAD_STOCK_WEEKS = 8  # no demand for this many weeks → dead stock
DEFAULT_MIN_DAILY_DEMAND = 0.1  # sales units a day below which no stockout / safety-stock alert

ALERT_COLUMNS = ("warehouse_id", "sku", "alert_type", "severity", "value", "threshold", "on_hand_qty", "detail")
REQUIRED_PLAN_COLUMNS = (
    "warehouse_id",
    "sku",
    "on_hand_qty",
    "inventory_position",
    "daily_demand_mean",
    "lead_time_days",
    "safety_stock",
    "days_of_supply",
)


def inventory_alerts(
    plan: pd.DataFrame,
    as_of_date: date | None = None,
    overstock_days: float = DEFAULT_OVERSTOCK_DAYS,
    expiry_warning_days: float = DEFAULT_EXPIRY_WARNING_DAYS,
    dead_stock_weeks: float = DEFAULT_DEAD_STOCK_WEEKS,
    min_daily_demand: float = DEFAULT_MIN_DAILY_DEMAND,
) -> pd.DataFrame:
    """The ``inventory_alerts`` rows for ``plan`` (one row per warehouse × SKU × alert).

    Input columns of ``plan``: the :data:`REQUIRED_PLAN_COLUMNS` (as produced by
    :func:`restock.replenishment.policy.replenishment_plan`) and, optionally,
    ``oldest_batch_date`` (date of the oldest batch on hand) with ``shelf_life_days``
    (both needed for ``expiring``), and ``weeks_since_last_demand`` (whole or
    fractional weeks since the last order line with quantity > 0, for ``dead_stock``).
    ``as_of_date`` is the partition day (needed when expiry columns are present).
    ``min_daily_demand``: below this ``daily_demand_mean`` no ``stockout_risk`` /
    ``below_safety_stock`` alert (0 alerts on any demand).

    Output columns: :data:`ALERT_COLUMNS`, sorted by warehouse_id, sku and the order of
    :data:`ALERT_TYPES`; an empty frame with those columns when nothing alerts.
    """
    for column in REQUIRED_PLAN_COLUMNS:
        if column not in plan.columns:
            raise ValueError(f"plan: missing required column {column!r}")
    for name, value in (
        ("overstock_days", overstock_days),
        ("expiry_warning_days", expiry_warning_days),
        ("dead_stock_weeks", dead_stock_weeks),
        ("min_daily_demand", min_daily_demand),
    ):
        if math.isnan(value) or value < 0:
            raise ValueError(f"{name} must be non-negative, got {value}")
    num = {c: _numeric(plan, c) for c in REQUIRED_PLAN_COLUMNS[2:]}
    for column in ("on_hand_qty", "daily_demand_mean", "lead_time_days", "safety_stock"):
        if (num[column] < 0).any():
            raise ValueError(f"plan: column {column!r} must be non-negative")
    on_hand, position, d = num["on_hand_qty"], num["inventory_position"], num["daily_demand_mean"]
    lead, safety, supply = num["lead_time_days"], num["safety_stock"], num["days_of_supply"]
    keys = plan[["warehouse_id", "sku"]].reset_index(drop=True)
    parts: list[pd.DataFrame] = []

    def add(alert_type: str, mask: np.ndarray, severity: np.ndarray, value, threshold, details) -> None:
        if not mask.any():
            return
        rows = keys[mask].copy()
        rows["alert_type"] = alert_type
        rows["severity"] = np.asarray(severity, dtype=object)[mask]
        rows["value"] = np.broadcast_to(np.asarray(value, dtype=float), mask.shape)[mask]
        rows["threshold"] = np.broadcast_to(np.asarray(threshold, dtype=float), mask.shape)[mask]
        rows["on_hand_qty"] = on_hand[mask]
        rows["detail"] = [details(i) for i in np.flatnonzero(mask)]
        parts.append(rows)

    # Stockout risk: what is not covered by the position when the lead time has passed.
    demanded = d >= min_daily_demand  # negligible demand: no stockout / safety-stock alert
    lead_demand = d * lead
    projected = position - lead_demand
    add(
        STOCKOUT_RISK,
        demanded & (projected < 0),
        np.where(position < lead_demand / 2, HIGH, MEDIUM),
        projected,
        0.0,
        lambda i: (
            f"inventory position {position[i]:g} vs lead-time demand {lead_demand[i]:g} "
            f"({d[i]:g}/day × {lead[i]:g} days): projected stock {projected[i]:g} at the end of the lead time"
        ),
    )
    add(
        BELOW_SAFETY_STOCK,
        demanded & (on_hand < safety),
        np.where(on_hand < safety / 2, MEDIUM, LOW),
        on_hand,
        safety,
        lambda i: f"on hand {on_hand[i]:g} below safety stock {safety[i]:.1f}",
    )
    add(
        OVERSTOCK,
        supply > overstock_days,
        np.where(supply > 2 * overstock_days, MEDIUM, LOW),
        supply,
        overstock_days,
        lambda i: (
            f"position {position[i]:g} with no forecast demand (days of supply infinite) > {overstock_days:g} days"
            if math.isinf(supply[i])
            else f"days of supply {supply[i]:.1f} (position {position[i]:g} at {d[i]:g}/day) > {overstock_days:g} days"
        ),
    )

    if "oldest_batch_date" in plan.columns and "shelf_life_days" in plan.columns:
        oldest = pd.to_datetime(plan["oldest_batch_date"]).reset_index(drop=True)
        shelf = pd.to_numeric(plan["shelf_life_days"]).to_numpy(dtype=float, na_value=np.nan)
        known = oldest.notna().to_numpy() & ~np.isnan(shelf)
        if known.any():
            if as_of_date is None:
                raise ValueError("as_of_date is required to compute expiring stock")
            expiry = oldest + pd.to_timedelta(np.nan_to_num(shelf), unit="D")
            to_expiry = (expiry - pd.Timestamp(as_of_date)).dt.days.to_numpy(dtype=float, na_value=np.nan)
            to_expiry = np.where(known, to_expiry, np.nan)
            add(
                EXPIRING,
                known & (on_hand > 0) & (to_expiry <= expiry_warning_days),
                np.where(to_expiry <= 0, HIGH, np.where(to_expiry <= expiry_warning_days / 2, MEDIUM, LOW)),
                to_expiry,
                expiry_warning_days,
                lambda i: (
                    f"oldest batch {oldest[i].date()} + shelf life {shelf[i]:g} days "
                    + (
                        f"expired on {expiry[i].date()} ({-to_expiry[i]:g} days ago)"
                        if to_expiry[i] <= 0
                        else f"expires on {expiry[i].date()}, in {to_expiry[i]:g} days"
                    )
                    + f"; {on_hand[i]:g} on hand"
                ),
            )

    if "weeks_since_last_demand" in plan.columns:
        weeks = pd.to_numeric(plan["weeks_since_last_demand"]).to_numpy(dtype=float, na_value=np.nan)
        add(
            DEAD_STOCK,
            ~np.isnan(weeks) & (on_hand > 0) & (weeks >= dead_stock_weeks),
            np.where(weeks >= 2 * dead_stock_weeks, MEDIUM, LOW),
            weeks,
            dead_stock_weeks,
            lambda i: f"no demand for {weeks[i]:g} weeks (limit {dead_stock_weeks:g}); {on_hand[i]:g} on hand",
        )

    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=_dtype(c)) for c in ALERT_COLUMNS})
    out = pd.concat(parts, ignore_index=True)
    out["_type_rank"] = out["alert_type"].map({t: i for i, t in enumerate(ALERT_TYPES)})
    out = out.sort_values(["warehouse_id", "sku", "_type_rank"], kind="mergesort").drop(columns="_type_rank")
    return out[list(ALERT_COLUMNS)].reset_index(drop=True)


def _numeric(plan: pd.DataFrame, column: str) -> np.ndarray:
    try:
        values = pd.to_numeric(plan[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"plan: column {column!r} must be numeric ({exc})") from exc
    if np.isnan(values).any():
        raise ValueError(f"plan: column {column!r} has a null value")
    return values


def _dtype(column: str) -> str:
    return "float64" if column in ("value", "threshold", "on_hand_qty") else "object"
