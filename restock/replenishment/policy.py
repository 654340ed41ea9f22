"""Inventory policy: safety stock, reorder point, order-up-to level and order quantity.

Pure functions: scalar formulas (each checked by hand in the tests) and
:func:`replenishment_plan`, their vectorised form per warehouse × SKU, whose output is
the ``replenishment_plan`` table of design.md. Every business number is a parameter;
its default here equals restock.yaml's (:class:`restock.config.ReplenishmentConfig`).

Formulas (domain.md, "Inventory formulas"; Silver, Pyke & Thomas, *Inventory and
Production Management in Supply Chains*, 4th ed., ch. 6–7; Chopra & Meindl, *Supply
Chain Management*, ch. 12 — demand and lead-time variance; Harris 1913 for the EOQ):

- protection interval ``T``: ``L`` for continuous review, ``R + L`` for periodic review
  (an order placed now must cover demand until the order placed at the *next* review
  arrives);
- demand std over ``T`` with lead-time variability: ``σ_T = √(T·σd² + d²·σL²)``;
- safety stock ``SS = z·σ_T`` with ``z = Φ⁻¹(service level)``;
- reorder point ``s = d·L + SS_L``; order-up-to ``S = d·(R + L) + SS_{R+L}``;
- ``EOQ = √(2·K·D / h)`` with ``D = d·365`` a year and ``h = holding rate × unit cost``.

Conventions, chosen once and used everywhere:

- **Units.** Quantities are sales units (e.g. cartons 条); ``units_per_case`` sales units
  make a case (件); ``moq_cases`` is the minimum order in cases. Time is in days.
- **Service level** is the *cycle* service level: the probability of no stockout
  during one protection interval, assuming normally distributed demand over it. It is
  set per ABC class; a SKU without a known class gets ``unclassified_service_level``.
- **Inventory position** = on hand + in transit − allocated (committed to customers).
- **Policies** (``policy``):

  * ``"periodic_review"`` (default) — (R, S): at each review, if the position is below
    S, order ``S − position``. Every review orders whenever the position is below S,
    so the reported reorder point *is* S. Sizing the trigger on ``L`` alone under a
    periodic review is the pitfall of domain.md (≈ 75 % achieved instead of 95 %).
  * ``"min_max"`` — (s, S): when the position is at or below ``s`` (the continuous-
    review reorder point), order up to ``S = s + EOQ``.
  * ``"continuous_review"`` — (s, Q): when the position is at or below ``s``, order the
    smallest multiple of ``Q = max(EOQ, one case)`` that lifts it above ``s``;
    the reported ``order_up_to`` is ``s + Q``.

  ``min_max`` and ``continuous_review`` protect only the lead time: use them only where
  an order can go out on any day the position crosses ``s`` (the pipeline runs daily).
  Where purchase orders go out on fixed days, use ``periodic_review``.
- **EOQ without a holding cost** (unit cost missing or zero): the EOQ is undefined, so
  ``d·R`` (one review period of demand) is used instead, the quantity an (R, S) cycle
  orders on average.
- **Rounding**: a positive raw quantity is rounded *up* to whole cases, then up to the
  MOQ (in cases); a non-positive one is 0 (no order). A raw quantity within 1e-9 case
  of a whole number of cases counts as that number (floating-point noise never adds a
  case, nor triggers an MOQ-sized order).
- **Days of supply** = max(inventory position, 0) ÷ mean daily demand; with zero mean
  demand it is ``inf`` when the position is positive (the stock never runs out at the
  forecast rate) and 0 when it is not. It uses the position, not on-hand stock, so an
  inbound delivery counts against overstock like the order proposal does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy.stats import norm

PERIODIC_REVIEW = "periodic_review"
MIN_MAX = "min_max"
CONTINUOUS_REVIEW = "continuous_review"
POLICIES = (PERIODIC_REVIEW, MIN_MAX, CONTINUOUS_REVIEW)

# Keyword defaults for use on their own; the daily run passes restock.yaml's values
# (equal by default: tests/replenishment/test_defaults.py).
DEFAULT_SERVICE_LEVELS: Mapping[str, float] = MappingProxyType({"A": 0.98, "B": 0.95, "C": 0.90})
DEFAULT_UNCLASSIFIED_SERVICE_LEVEL = 0.90  # SKU without an ABC class (no sales value yet): as C
DEFAULT_REVIEW_PERIOD_DAYS = 7.0  # one purchase review a week
DEFAULT_POLICY = PERIODIC_REVIEW
DEFAULT_ORDERING_COST = 200.0  # K: fixed cost of one purchase order, currency units
DEFAULT_HOLDING_COST_RATE = 0.20  # h as a share of unit cost per year (textbook 20–25 %)
DAYS_PER_YEAR = 365.0
_CASE_TOLERANCE = 1e-9

PLAN_COLUMNS = (
    "warehouse_id",
    "sku",
    "on_hand_qty",
    "in_transit_qty",
    "allocated_qty",
    "inventory_position",
    "daily_demand_mean",
    "daily_demand_std",
    "lead_time_days",
    "lead_time_std_days",
    "service_level",
    "safety_stock",
    "reorder_point",
    "order_up_to",
    "recommended_order_qty",
    "days_of_supply",
    "policy",
)
REQUIRED_POSITION_COLUMNS = ("warehouse_id", "sku", "on_hand_qty", "daily_demand_mean", "lead_time_days")
# Optional input columns and the value used where they are absent or null.
OPTIONAL_POSITION_DEFAULTS: Mapping[str, float] = MappingProxyType(
    {
        "in_transit_qty": 0.0,
        "allocated_qty": 0.0,
        "daily_demand_std": 0.0,
        "lead_time_std_days": 0.0,
        "units_per_case": 1.0,
        "moq_cases": 0.0,
    }
)


# --- scalar formulas ------------------------------------------------------------------


def _check_service_level(service_level: float, name: str = "service_level") -> None:
    if not (0.0 < service_level < 1.0) or math.isnan(service_level):
        raise ValueError(f"{name} must be strictly between 0 and 1, got {service_level}")


def _check_non_negative(name: str, value: float) -> None:
    if math.isnan(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value}")


def z_value(service_level: float) -> float:
    """Standard normal quantile of a cycle service level: ``Φ⁻¹(service_level)``.

    0.95 → 1.6449, 0.98 → 2.0537, 0.90 → 1.2816. Raises ``ValueError`` outside (0, 1).
    """
    _check_service_level(service_level)
    return float(norm.ppf(service_level))


def protection_interval(policy: str, lead_time_days: float, review_period_days: float) -> float:
    """Days an order must cover: ``R + L`` for periodic review, ``L`` otherwise."""
    _check_policy(policy)
    _check_non_negative("lead_time_days", lead_time_days)
    _check_non_negative("review_period_days", review_period_days)
    return lead_time_days + review_period_days if policy == PERIODIC_REVIEW else lead_time_days


def demand_std_over(
    days: float, daily_demand_mean: float, daily_demand_std: float, lead_time_std_days: float = 0.0
) -> float:
    """Std of demand over ``days`` with a variable lead time: ``√(T·σd² + d²·σL²)``.

    Daily demands are independent; the lead time's variability adds ``d²·σL²``.
    """
    for name, value in (
        ("days", days),
        ("daily_demand_mean", daily_demand_mean),
        ("daily_demand_std", daily_demand_std),
        ("lead_time_std_days", lead_time_std_days),
    ):
        _check_non_negative(name, value)
    return math.sqrt(days * daily_demand_std**2 + daily_demand_mean**2 * lead_time_std_days**2)


def safety_stock(
    service_level: float,
    protection_days: float,
    daily_demand_mean: float,
    daily_demand_std: float,
    lead_time_std_days: float = 0.0,
) -> float:
    """``z·√(T·σd² + d²·σL²)`` with ``T`` = ``protection_days`` (L, or R + L)."""
    z = z_value(service_level)
    return z * demand_std_over(protection_days, daily_demand_mean, daily_demand_std, lead_time_std_days)


def reorder_point(daily_demand_mean: float, lead_time_days: float, safety_stock_qty: float) -> float:
    """Continuous-review reorder point ``s = d·L + SS`` (SS sized on L)."""
    _check_non_negative("daily_demand_mean", daily_demand_mean)
    _check_non_negative("lead_time_days", lead_time_days)
    return daily_demand_mean * lead_time_days + safety_stock_qty


def order_up_to(
    daily_demand_mean: float, review_period_days: float, lead_time_days: float, safety_stock_qty: float
) -> float:
    """Periodic-review order-up-to level ``S = d·(R + L) + SS`` (SS sized on R + L)."""
    _check_non_negative("daily_demand_mean", daily_demand_mean)
    _check_non_negative("review_period_days", review_period_days)
    _check_non_negative("lead_time_days", lead_time_days)
    return daily_demand_mean * (review_period_days + lead_time_days) + safety_stock_qty


def eoq(annual_demand: float, ordering_cost: float, holding_cost_per_unit_year: float) -> float:
    """Economic order quantity ``√(2·K·D / h)`` (Harris 1913).

    ``annual_demand`` D in units a year, ``ordering_cost`` K per order,
    ``holding_cost_per_unit_year`` h (= holding rate × unit cost). h must be > 0.
    """
    _check_non_negative("annual_demand", annual_demand)
    _check_non_negative("ordering_cost", ordering_cost)
    if not holding_cost_per_unit_year > 0:
        raise ValueError(f"holding_cost_per_unit_year must be > 0, got {holding_cost_per_unit_year}")
    return math.sqrt(2.0 * ordering_cost * annual_demand / holding_cost_per_unit_year)


def round_to_case_and_moq(quantity: float, units_per_case: float = 1.0, moq_cases: float = 0.0) -> int:
    """Round a raw order quantity up to whole cases, then up to the MOQ (in cases).

    ``quantity`` ≤ 0 → 0 (no order). 101 units, 50 per case, MOQ 4 cases → 3 cases → 4
    cases → 200 units. Returned in sales units.
    """
    if math.isnan(quantity):
        raise ValueError("quantity is NaN")
    if not units_per_case > 0:
        raise ValueError(f"units_per_case must be > 0, got {units_per_case}")
    _check_non_negative("moq_cases", moq_cases)
    cases = math.ceil(quantity / units_per_case - _CASE_TOLERANCE)
    if cases <= 0:  # no need (or only float noise): no order, the MOQ does not force one
        return 0
    return int(round(max(cases, math.ceil(moq_cases)) * units_per_case))


def days_of_supply(stock_qty: float, daily_demand_mean: float) -> float:
    """``max(stock, 0) ÷ d``; with ``d`` = 0: ``inf`` if stock > 0, else 0.0."""
    _check_non_negative("daily_demand_mean", daily_demand_mean)
    if daily_demand_mean == 0:
        return math.inf if stock_qty > 0 else 0.0
    return max(stock_qty, 0.0) / daily_demand_mean


def daily_demand_from_period(
    period_mean: float, period_error_std: float, period_days: float = 7.0
) -> tuple[float, float]:
    """Daily mean and std from a per-period forecast and the std of its past errors.

    ``d = period_mean / period_days``; ``σd = period_error_std / √period_days`` (days
    independent, so variances add: a weekly error std of 14 → 14/√7 ≈ 5.29 a day).
    """
    _check_non_negative("period_mean", period_mean)
    _check_non_negative("period_error_std", period_error_std)
    if not period_days > 0:
        raise ValueError(f"period_days must be > 0, got {period_days}")
    return period_mean / period_days, period_error_std / math.sqrt(period_days)


def cycle_service_level(
    stock_level: float,
    protection_days: float,
    daily_demand_mean: float,
    daily_demand_std: float,
    lead_time_std_days: float = 0.0,
) -> float:
    """Probability that demand over ``protection_days`` does not exceed ``stock_level``.

    ``Φ((level − d·T) / σ_T)``: the service a given reorder or order-up-to level really
    delivers. With no spread it is 1 if the level covers ``d·T`` and 0 otherwise.
    """
    mean = daily_demand_mean * protection_days
    std = demand_std_over(protection_days, daily_demand_mean, daily_demand_std, lead_time_std_days)
    if std == 0:
        return 1.0 if stock_level >= mean else 0.0
    return float(norm.cdf((stock_level - mean) / std))


# --- the plan ---------------------------------------------------------------------------


def _check_policy(policy: str) -> None:
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}, got {policy!r}")


def _numeric_column(frame: pd.DataFrame, column: str, default: float | None) -> np.ndarray:
    """Column as float array; null filled with ``default`` (None: nulls are an error)."""
    if column not in frame.columns:
        if default is None:
            raise ValueError(f"positions: missing required column {column!r}")
        return np.full(len(frame), default, dtype=float)
    try:
        values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"positions: column {column!r} must be numeric ({exc})") from exc
    missing = np.isnan(values)
    if missing.any():
        if default is None:
            row = frame.index[int(np.flatnonzero(missing)[0])]
            raise ValueError(f"positions: column {column!r} has a null value (row {row!r})")
        values = np.where(missing, default, values)
    if np.isinf(values).any():
        raise ValueError(f"positions: column {column!r} has an infinite value")
    if (values < 0).any():
        row = frame.index[int(np.flatnonzero(values < 0)[0])]
        raise ValueError(f"positions: column {column!r} must be non-negative (row {row!r})")
    return values


def service_levels_for(
    abc_class: pd.Series | None,
    n: int,
    service_levels: Mapping[str, float] = DEFAULT_SERVICE_LEVELS,
    unclassified_service_level: float = DEFAULT_UNCLASSIFIED_SERVICE_LEVEL,
) -> np.ndarray:
    """Service level per row from its ABC class (unknown or null class → unclassified)."""
    for cls, level in service_levels.items():
        _check_service_level(level, f"service_levels[{cls!r}]")
    _check_service_level(unclassified_service_level, "unclassified_service_level")
    if abc_class is None:
        return np.full(n, unclassified_service_level, dtype=float)
    mapped = abc_class.map(dict(service_levels))
    return mapped.fillna(unclassified_service_level).to_numpy(dtype=float)


def replenishment_plan(
    positions: pd.DataFrame,
    policy: str = DEFAULT_POLICY,
    review_period_days: float = DEFAULT_REVIEW_PERIOD_DAYS,
    service_levels: Mapping[str, float] = DEFAULT_SERVICE_LEVELS,
    unclassified_service_level: float = DEFAULT_UNCLASSIFIED_SERVICE_LEVEL,
    ordering_cost: float = DEFAULT_ORDERING_COST,
    holding_cost_rate: float = DEFAULT_HOLDING_COST_RATE,
) -> pd.DataFrame:
    """The ``replenishment_plan`` table: one row per warehouse × SKU of ``positions``.

    Input columns of ``positions`` (one row per warehouse × SKU as of the day):

    ======================  ========  ====================================================
    column                  required  meaning (null → default)
    ======================  ========  ====================================================
    warehouse_id, sku       yes       key; must be unique together
    on_hand_qty             yes       physical stock at end of day, sales units, ≥ 0
    in_transit_qty          no        ordered from the supplier, not yet received (0)
    allocated_qty           no        committed to customer orders, not yet shipped (0)
    daily_demand_mean       yes       forecast mean demand a day, sales units, ≥ 0
    daily_demand_std        no        std of daily demand from past forecast errors (0);
                                      see :func:`daily_demand_from_period`
    lead_time_days          yes       supplier lead time, days, ≥ 0
    lead_time_std_days      no        std of the lead time, days (0)
    units_per_case          no        sales units in a case, > 0 (1)
    moq_cases               no        minimum order quantity in cases (0: none)
    abc_class               no        "A"/"B"/"C"… (unknown/null → unclassified level)
    unit_cost               no        cost of a sales unit; needed only for the EOQ of
                                      ``min_max``/``continuous_review`` (else d·R)
    ======================  ========  ====================================================

    Output columns, in order: :data:`PLAN_COLUMNS`; rows sorted by warehouse_id, sku.
    ``recommended_order_qty`` is an int in sales units (whole cases, at least the MOQ
    when positive); ``safety_stock``, ``reorder_point`` and ``order_up_to`` are floats
    in sales units; ``days_of_supply`` is described in the module docstring.

    Raises ``ValueError`` naming the column for a missing required column, a null
    required value, a negative quantity, ``units_per_case`` ≤ 0, duplicate keys, a
    service level outside (0, 1) or an unknown policy.
    """
    _check_policy(policy)
    _check_non_negative("review_period_days", review_period_days)
    _check_non_negative("ordering_cost", ordering_cost)
    _check_non_negative("holding_cost_rate", holding_cost_rate)
    for column in ("warehouse_id", "sku"):
        if column not in positions.columns:
            raise ValueError(f"positions: missing required column {column!r}")
        if positions[column].isna().any():
            raise ValueError(f"positions: column {column!r} has a null value")
    if positions.duplicated(["warehouse_id", "sku"]).any():
        dup = positions.loc[positions.duplicated(["warehouse_id", "sku"]), ["warehouse_id", "sku"]].iloc[0]
        raise ValueError(f"positions: duplicate warehouse_id × sku {tuple(dup)}")

    frame = positions.sort_values(["warehouse_id", "sku"], kind="mergesort").reset_index(drop=True)
    cols = {c: _numeric_column(frame, c, None) for c in REQUIRED_POSITION_COLUMNS[2:]}
    cols |= {c: _numeric_column(frame, c, d) for c, d in OPTIONAL_POSITION_DEFAULTS.items()}
    if (cols["units_per_case"] <= 0).any():
        raise ValueError("positions: column 'units_per_case' must be > 0")
    n = len(frame)
    on_hand, in_transit, allocated = cols["on_hand_qty"], cols["in_transit_qty"], cols["allocated_qty"]
    d, sd = cols["daily_demand_mean"], cols["daily_demand_std"]
    lead, sd_lead = cols["lead_time_days"], cols["lead_time_std_days"]
    per_case, moq = cols["units_per_case"], cols["moq_cases"]

    level = service_levels_for(
        frame["abc_class"] if "abc_class" in frame.columns else None,
        n,
        service_levels,
        unclassified_service_level,
    )
    z = norm.ppf(level)
    position = on_hand + in_transit - allocated

    def ss(days: np.ndarray) -> np.ndarray:
        return z * np.sqrt(days * sd**2 + d**2 * sd_lead**2)

    if policy == PERIODIC_REVIEW:
        safety = ss(lead + review_period_days)
        up_to = d * (lead + review_period_days) + safety
        trigger = up_to  # every review orders when below S (see module docstring)
        raw = np.where(position < up_to, up_to - position, 0.0)
    else:
        safety = ss(lead)
        trigger = d * lead + safety
        unit_cost = _numeric_column(frame, "unit_cost", np.nan)  # null → no EOQ, see fallback
        holding = holding_cost_rate * unit_cost
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            q_eoq = np.sqrt(2.0 * ordering_cost * d * DAYS_PER_YEAR / holding)
        q = np.where(np.isfinite(q_eoq) & (holding > 0), q_eoq, d * review_period_days)
        due = position <= trigger
        if policy == MIN_MAX:
            up_to = trigger + q
            raw = np.where(due, up_to - position, 0.0)
        else:  # continuous_review: n·Q, the fewest batches lifting the position above s
            q = np.maximum(q, per_case)
            up_to = trigger + q
            batches = np.floor((trigger - position) / q) + 1
            raw = np.where(due, batches * q, 0.0)

    cases = np.ceil(raw / per_case - _CASE_TOLERANCE)
    cases = np.where(cases > 0, np.maximum(cases, np.ceil(moq)), 0.0)
    order_qty = np.rint(cases * per_case).astype(np.int64)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # tiny d → huge, fine
        supply = np.where(d > 0, np.maximum(position, 0.0) / d, np.where(position > 0, np.inf, 0.0))

    out = pd.DataFrame(
        {
            "warehouse_id": frame["warehouse_id"].to_numpy(),
            "sku": frame["sku"].to_numpy(),
            "on_hand_qty": on_hand,
            "in_transit_qty": in_transit,
            "allocated_qty": allocated,
            "inventory_position": position,
            "daily_demand_mean": d,
            "daily_demand_std": sd,
            "lead_time_days": lead,
            "lead_time_std_days": sd_lead,
            "service_level": level,
            "safety_stock": safety,
            "reorder_point": trigger,
            "order_up_to": up_to,
            "recommended_order_qty": order_qty,
            "days_of_supply": supply,
            "policy": policy,
        }
    )
    return out[list(PLAN_COLUMNS)]
