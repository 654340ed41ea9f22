"""Customer order suggestions and constrained allocation of short supply (货源投放).

Pure functions. :func:`customer_order_suggestions` turns the customer × SKU forecast
for the next order cycle into whole sales units; :func:`allocate` shares a SKU's
available quantity among customers when it is below the sum of their suggestions,
by one of the rules practised by tobacco wholesalers (domain.md, "The reference
case": by tier, with per-customer caps; "selected outlets, fixed quantity" for new or
premium brands). Every business number is a parameter; its default here equals
restock.yaml's (:class:`restock.config.AllocationConfig`).

Guarantees of :func:`allocate`, per SKU (property-tested):

1. the allocated total never exceeds the available quantity (floored to whole units);
2. no customer gets more than suggested, nor more than its cap;
3. an unconstrained SKU (sum of suggestions ≤ available) is untouched: allocated =
   suggested, ``allocation_rule = "unconstrained"``; caps, minimums and rules apply
   only to a shortage;
4. the result is deterministic and independent of the input row order (rows are put
   in a canonical order — sku, customer_id — before any arithmetic).

Rules for a constrained SKU with ``A`` units available. Each customer ``i`` has an
upper bound ``u_i = min(suggested_i, cap_i)`` and a floor ``m_i = min(min_i, u_i)``:

- ``"proportional"``: ``x_i = clip(λ·suggested_i, m_i, u_i)``;
- ``"tier_weights"``: ``x_i = clip(λ·w(tier_i), m_i, u_i)`` with ``w`` from
  ``tier_weights`` (default: the tier number itself, tier 30 weighs 30× tier 1);

  with the single ``λ`` for which ``Σ x_i = min(A, Σ u_i)`` (water-filling: what a
  capped customer cannot take goes to the others in proportion to their weights).
  Integer quantities by the **largest-remainder method**: everyone gets
  ``floor(x_i)``, and the units left go one each to the largest fractional parts
  (compared at 1e-9), ties broken by ascending ``customer_id``; nobody goes above
  ``u_i``, so rounding never exceeds ``A``.
- **Minimums that do not fit** (``Σ m_i > A``): customers are served their minimum in
  priority order — higher tier first, then ascending ``customer_id`` — until the stock
  runs out (the last one served may get less than its minimum); the others get 0.
- ``"selected_fixed"``: only rows with ``selected`` true get anything:
  ``min(fixed_qty, u_i)``, served in the same priority order until the stock runs out
  (the last served may get a partial quantity). Minimums do not apply (the fixed
  quantity *is* the quantity). Because no customer gets more than suggested, a new
  brand's suggestion for a selected outlet must already carry the fixed quantity.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np
import pandas as pd

UNCONSTRAINED = "unconstrained"
TIER_WEIGHTS = "tier_weights"
PROPORTIONAL = "proportional"
SELECTED_FIXED = "selected_fixed"
RULES = (TIER_WEIGHTS, PROPORTIONAL, SELECTED_FIXED)

# Keyword defaults for use on their own; the daily run passes restock.yaml's values
# (equal by default: tests/replenishment/test_defaults.py).
DEFAULT_RULE = TIER_WEIGHTS
DEFAULT_MAX_TIER = 30
# weight = tier number, also what tier_weights: null in restock.yaml means: tier 30
# gets 30× the share of tier 1 (before caps)
DEFAULT_TIER_WEIGHTS: Mapping[int, float] = MappingProxyType({t: float(t) for t in range(1, DEFAULT_MAX_TIER + 1)})
DEFAULT_SUGGESTION_ROUNDING = "nearest"  # half up: 2.5 → 3, 2.49 → 2
SUGGESTION_ROUNDINGS = ("nearest", "up", "down")
_FRACTION_DECIMALS = 9  # fractional parts equal to 1e-9 are ties (float noise must not decide)


# --- customer order suggestions ---------------------------------------------------------


def customer_order_suggestions(
    forecasts: pd.DataFrame,
    rounding: str = DEFAULT_SUGGESTION_ROUNDING,
    status_column: str = "customer_status",
    active_status: str = "active",
) -> pd.DataFrame:
    """Suggested quantity per customer × SKU for the next order cycle, whole sales units.

    Input columns: ``customer_id``, ``sku``, ``forecast_qty`` (customer-level forecast
    for the cycle, sales units, ≥ 0), optionally ``cycle_start`` and ``status_column``
    (rows whose status is not ``active_status`` are dropped; without the column every
    row is taken as active). ``rounding``: ``"nearest"`` (half up, the default: an
    intermittent 0.3 carton a week is not pushed on a retailer every week), ``"up"`` or
    ``"down"``. Output: the input columns plus ``suggested_qty`` (int64), sorted by
    sku, customer_id.
    """
    _require(forecasts, ("customer_id", "sku", "forecast_qty"), "forecasts")
    if rounding not in SUGGESTION_ROUNDINGS:
        raise ValueError(f"rounding must be one of {SUGGESTION_ROUNDINGS}, got {rounding!r}")
    frame = forecasts
    if status_column in frame.columns:
        frame = frame[frame[status_column] == active_status]
    qty = _quantities(frame, "forecast_qty", "forecasts", integer=False)
    if rounding == "nearest":
        suggested = np.floor(qty + 0.5)
    elif rounding == "up":
        suggested = np.ceil(qty - 1e-9)  # 3.0000000001 from float sums is still 3
    else:
        suggested = np.floor(qty + 1e-9)
    out = frame.assign(suggested_qty=suggested.astype(np.int64))
    return out.sort_values(["sku", "customer_id"], kind="mergesort").reset_index(drop=True)


# --- constrained allocation ---------------------------------------------------------------


def allocate(
    suggestions: pd.DataFrame,
    available: pd.DataFrame | Mapping,
    rule: str = DEFAULT_RULE,
    rules_by_sku: Mapping[str, str] | None = None,
    tier_weights: Mapping[int, float] = DEFAULT_TIER_WEIGHTS,
    cap_qty: float | Mapping[int, float] | None = None,
    min_qty: float | Mapping[int, float] | None = None,
    fixed_qty: float | None = None,
) -> pd.DataFrame:
    """Allocate each SKU's available quantity among customers (see the module docstring).

    ``suggestions`` columns: ``customer_id``, ``sku``, ``suggested_qty`` (whole units,
    ≥ 0; unique per customer × SKU), ``tier`` (int; required by ``tier_weights``, used
    for priority otherwise, missing = all equal), optional ``selected`` (bool) and
    ``fixed_qty`` for ``selected_fixed``, optional per-row ``cap_qty`` and ``min_qty``
    (null = use the parameter).

    ``available``: a mapping sku → quantity, or a DataFrame with ``sku`` and
    ``available_qty``. Every SKU of ``suggestions`` must have one (fill 0 for a SKU the
    warehouse does not hold); quantities are floored to whole units.

    ``rule`` applies to every SKU not in ``rules_by_sku`` (sku → rule).
    ``tier_weights``: tier → weight ≥ 0 (a tier absent from the mapping is an error).
    ``cap_qty`` / ``min_qty``: one number for all customers, or tier → number; a row's
    own ``cap_qty`` / ``min_qty`` column wins where not null. ``fixed_qty``: used for
    selected rows without a ``fixed_qty`` value.

    Returns the rows of ``suggestions`` sorted by sku, customer_id with two more
    columns: ``allocated_qty`` (int64) and ``allocation_rule`` ("unconstrained" or the
    rule applied).
    """
    _require(suggestions, ("customer_id", "sku", "suggested_qty"), "suggestions")
    for r in (rule, *(rules_by_sku or {}).values()):
        if r not in RULES:
            raise ValueError(f"allocation rule must be one of {RULES}, got {r!r}")
    if suggestions[["customer_id", "sku"]].isna().any().any():
        raise ValueError("suggestions: customer_id and sku must not be null")
    if suggestions.duplicated(["customer_id", "sku"]).any():
        dup = suggestions.loc[suggestions.duplicated(["customer_id", "sku"]), ["customer_id", "sku"]].iloc[0]
        raise ValueError(f"suggestions: duplicate customer_id × sku {tuple(dup)}")

    frame = suggestions.sort_values(["sku", "customer_id"], kind="mergesort").reset_index(drop=True)
    stock = _available_by_sku(available, frame["sku"].unique())
    suggested = _quantities(frame, "suggested_qty", "suggestions")
    tier = _quantities(frame, "tier", "suggestions") if "tier" in frame.columns else np.zeros(len(frame))
    caps = _per_row(frame, "cap_qty", cap_qty, tier, np.inf)
    mins = _per_row(frame, "min_qty", min_qty, tier, 0.0)

    allocated = np.zeros(len(frame), dtype=np.int64)
    applied = np.empty(len(frame), dtype=object)
    rules_by_sku = rules_by_sku or {}
    for sku, idx in frame.groupby("sku", sort=True).indices.items():
        want = suggested[idx]
        total = int(stock[sku])
        if want.sum() <= total:
            allocated[idx] = want.astype(np.int64)
            applied[idx] = UNCONSTRAINED
            continue
        sku_rule = rules_by_sku.get(sku, rule)
        applied[idx] = sku_rule
        upper = np.minimum(want, caps[idx])
        ids = frame["customer_id"].to_numpy()[idx]
        priority = _priority_order(tier[idx], ids)
        if sku_rule == SELECTED_FIXED:
            fixed = _fixed_quantities(frame.iloc[idx], fixed_qty)
            allocated[idx] = _serve_in_order(np.minimum(fixed, upper), priority, total)
            continue
        floor_qty = np.minimum(mins[idx], upper)
        if floor_qty.sum() > total:
            allocated[idx] = _serve_in_order(floor_qty, priority, total)
            continue
        if sku_rule == PROPORTIONAL:
            weights = want.astype(float)
        else:
            if "tier" not in frame.columns:
                raise ValueError("suggestions: missing column 'tier' required by rule 'tier_weights'")
            weights = _tier_weights(tier[idx], tier_weights)
        share = _water_fill(weights, floor_qty, upper, min(float(total), float(upper.sum())))
        allocated[idx] = _largest_remainder(share, upper, min(total, int(upper.sum())), ids)

    return frame.assign(allocated_qty=allocated, allocation_rule=applied)


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    for column in columns:
        if column not in frame.columns:
            raise ValueError(f"{name}: missing required column {column!r}")


def _quantities(frame: pd.DataFrame, column: str, name: str, integer: bool = True) -> np.ndarray:
    """Non-negative (whole, if ``integer``) quantities of a column, as floats."""
    try:
        values = pd.to_numeric(frame[column], errors="raise").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: column {column!r} must be numeric ({exc})") from exc
    if np.isnan(values).any():
        raise ValueError(f"{name}: column {column!r} has a null value")
    if np.isinf(values).any() or (values < 0).any():
        raise ValueError(f"{name}: column {column!r} must be finite and non-negative")
    if integer and (values != np.floor(values)).any():
        raise ValueError(f"{name}: column {column!r} must hold whole units")
    return values


def _available_by_sku(available: pd.DataFrame | Mapping, skus: np.ndarray) -> dict:
    if isinstance(available, pd.DataFrame):
        _require(available, ("sku", "available_qty"), "available")
        if available["sku"].duplicated().any():
            raise ValueError("available: duplicate sku")
        mapping = dict(zip(available["sku"], available["available_qty"], strict=True))
    else:
        mapping = dict(available)
    missing = [s for s in skus if s not in mapping]
    if missing:
        raise ValueError(f"available: no available_qty for sku {missing[:5]} (fill 0 where none is held)")
    out = {}
    for sku in skus:
        qty = float(mapping[sku])
        if np.isnan(qty) or qty < 0:
            raise ValueError(f"available: available_qty for sku {sku!r} must be ≥ 0, got {mapping[sku]}")
        out[sku] = np.floor(qty)  # whole sales units
    return out


def _per_row(
    frame: pd.DataFrame,
    column: str,
    default: float | Mapping[int, float] | None,
    tier: np.ndarray,
    none_value: float,
) -> np.ndarray:
    """Per-row cap or minimum: the row's column where not null, else the parameter."""
    if default is None:
        fallback = np.full(len(frame), none_value)
    elif isinstance(default, Mapping):
        fallback = np.array([float(default.get(int(t), none_value)) for t in tier])
    else:
        fallback = np.full(len(frame), float(default))
    if column in frame.columns:
        values = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        fallback = np.where(np.isnan(values), fallback, values)
    if (fallback < 0).any() or np.isnan(fallback).any():
        raise ValueError(f"{column} must be non-negative")
    return np.floor(fallback)  # whole units; a cap of 2.5 cartons is 2


def _tier_weights(tier: np.ndarray, tier_weights: Mapping[int, float]) -> np.ndarray:
    tiers = tier.astype(np.int64)
    missing = sorted(set(tiers.tolist()) - set(tier_weights))
    if missing:
        raise ValueError(f"tier_weights: no weight for tier {missing[0]} (column 'tier')")
    out = pd.Series(tiers).map(dict(tier_weights)).to_numpy(dtype=float)
    if (out < 0).any() or np.isnan(out).any():
        raise ValueError("tier_weights must be non-negative")
    return out


def _fixed_quantities(rows: pd.DataFrame, default: float | None) -> np.ndarray:
    selected = rows["selected"].fillna(False).astype(bool).to_numpy() if "selected" in rows.columns else None
    if selected is None:
        raise ValueError("suggestions: missing column 'selected' required by rule 'selected_fixed'")
    if "fixed_qty" in rows.columns:
        fixed = pd.to_numeric(rows["fixed_qty"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    else:
        fixed = np.full(len(rows), np.nan)
    if default is not None:
        fixed = np.where(np.isnan(fixed), float(default), fixed)
    if (selected & np.isnan(fixed)).any():
        raise ValueError("suggestions: column 'fixed_qty' is null for a selected row and no fixed_qty given")
    fixed = np.where(selected, fixed, 0.0)
    if (fixed < 0).any():
        raise ValueError("suggestions: column 'fixed_qty' must be non-negative")
    return np.floor(fixed)


def _priority_order(tier: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Positions by priority: higher tier first, then ascending customer_id."""
    order = pd.DataFrame({"tier": tier, "id": ids}).sort_values(
        ["tier", "id"], ascending=[False, True], kind="mergesort"
    )
    return order.index.to_numpy()


def _serve_in_order(wanted: np.ndarray, order: np.ndarray, total: int) -> np.ndarray:
    """Give each row its ``wanted`` quantity in ``order`` until ``total`` runs out."""
    out = np.zeros(len(wanted), dtype=np.int64)
    left = int(total)
    for i in order:
        give = min(int(wanted[i]), left)
        out[i] = give
        left -= give
    return out


def _water_fill(weights: np.ndarray, lower: np.ndarray, upper: np.ndarray, total: float) -> np.ndarray:
    """``clip(λ·w, lower, upper)`` with ``λ`` such that the sum is ``total``.

    Requires ``Σ lower ≤ total ≤ Σ upper``. The sum is piecewise linear and
    non-decreasing in ``λ`` with kinks at ``lower/w`` and ``upper/w``: find the kink
    segment by bisection, then solve the linear piece exactly. Rows with ``w = 0``
    stay at ``lower``.
    """
    if total >= upper.sum():
        return upper.astype(float)
    pos = weights > 0
    if not pos.any():
        return lower.astype(float)
    kinks = np.unique(np.concatenate([[0.0], lower[pos] / weights[pos], upper[pos] / weights[pos]]))

    def filled(lam: float) -> np.ndarray:
        return np.clip(lam * weights, lower, upper)

    lo, hi = 0, len(kinks) - 1  # filled(kinks[lo]).sum() <= total < filled(kinks[hi]).sum()
    if filled(kinks[hi]).sum() <= total:
        return filled(kinks[hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if filled(kinks[mid]).sum() <= total:
            lo = mid
        else:
            hi = mid
    lam0 = kinks[lo]
    base = filled(lam0)
    free = pos & (upper / np.where(pos, weights, 1.0) > lam0) & (lower / np.where(pos, weights, 1.0) <= lam0)
    free_weight = weights[free].sum()
    if free_weight == 0:
        return base
    return filled(lam0 + (total - base.sum()) / free_weight)


def _largest_remainder(share: np.ndarray, upper: np.ndarray, total: int, ids: np.ndarray) -> np.ndarray:
    """Whole units summing to at most ``total``: floors, then +1 by largest fraction.

    Ties (fractions equal at 1e-9) go to the lower ``customer_id``; no row exceeds
    ``upper``.
    """
    base = np.minimum(np.floor(share), upper)
    left = int(total - base.sum())
    if left > 0:
        fraction = np.round(share - base, _FRACTION_DECIMALS)
        candidates = pd.DataFrame({"fraction": fraction, "id": ids})[base < upper]
        ranked = candidates.sort_values(["fraction", "id"], ascending=[False, True], kind="mergesort")
        chosen = ranked.index[:left]
        base[chosen] += 1
    return base.astype(np.int64)
