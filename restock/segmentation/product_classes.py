"""Product classes: demand pattern (ADI / CV²), ABC by value and XYZ by variability.

Pure functions on per-period demand (zeros included) and per-SKU values. Every
cut-off is a parameter; the pipeline passes restock.yaml's ``product_classes``
(restock.config), whose defaults these equal (tests/test_config.py).

Conventions, chosen once and used everywhere:

- **Demand interval** = number of periods between two consecutive non-zero demands
  (demands in periods 2 and 5 are 3 periods apart). Leading zeros (before the first
  demand) and trailing zeros (after the last) are *not* intervals: the history window
  may start before a launch or end after a delisting, so they say nothing about how
  often a live item is bought. (R's tsintermittent counts the first interval from the
  start of the window instead; the two agree on series that start with a demand.)
- **ADI** = mean demand interval = (last demand index − first demand index) ÷
  (number of demands − 1).
- **CV²** = variance ÷ mean² of the non-zero sizes, population variance (``ddof=0``)
  by default so that it is defined for any number of demands.
- **Fewer than two demands**: one demand → ADI = series length (no repeat seen within
  the window, so the interval is at least that long) and CV² = 0 (one size has no
  spread); with a series of two periods or more this is "intermittent". No demand →
  ADI = CV² = NaN, and :func:`demand_class` returns ``"no_demand"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

SMOOTH = "smooth"
ERRATIC = "erratic"
INTERMITTENT = "intermittent"
LUMPY = "lumpy"
NO_DEMAND = "no_demand"

# Defaults, equal to restock.config's (the pipeline always passes the configured value).
DEFAULT_ADI_CUT = 1.32  # Syntetos, Boylan & Croston (2005)
DEFAULT_CV2_CUT = 0.49  # Syntetos, Boylan & Croston (2005)
DEFAULT_ABC_CUTS = (0.8, 0.95)  # cumulative value share closing A, then B
DEFAULT_XYZ_CUTS = (0.5, 1.0)  # coefficient of variation closing X, then Y


def validate_demand(series: ArrayLike, name: str = "demand") -> np.ndarray:
    """Return ``series`` as a 1-D float array of non-negative, finite demand.

    Raises ``ValueError`` for an empty or multi-dimensional input, NaN, infinity or a
    negative value (a missing period must be filled, with 0 if there was no order,
    before it reaches a forecasting or segmentation function).
    """
    values = np.asarray(series, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {values.shape}")
    if values.size == 0:
        raise ValueError(f"{name} is empty")
    if np.isnan(values).any():
        first = int(np.flatnonzero(np.isnan(values))[0])
        raise ValueError(f"{name} contains NaN (first at position {first}); fill missing periods with 0")
    if np.isinf(values).any():
        raise ValueError(f"{name} contains infinite values")
    if (values < 0).any():
        first = int(np.flatnonzero(values < 0)[0])
        raise ValueError(f"{name} must be non-negative; got {values[first]} at position {first}")
    return values


def demand_intervals(series: ArrayLike) -> np.ndarray:
    """Periods between consecutive non-zero demands (empty with fewer than 2 demands).

    ``[0, 3, 0, 0, 2, 1]`` → demands at 1, 4, 5 → intervals ``[3, 1]``.
    """
    demand = validate_demand(series)
    return np.diff(np.flatnonzero(demand > 0)).astype(float)


def adi_cv2(series: ArrayLike, ddof: int = 0) -> tuple[float, float]:
    """Average inter-demand interval and squared coefficient of variation of sizes.

    Syntetos, Boylan & Croston (2005): ADI = mean interval between non-zero demands;
    CV² = (std / mean)² of the non-zero demand sizes. Conventions (see the module
    docstring): intervals between consecutive demands only; ``ddof=0`` population
    variance by default (``ddof=1`` reproduces R's ``sd``); one demand → (series
    length, 0.0); no demand → (NaN, NaN).
    """
    demand = validate_demand(series)
    sizes = demand[demand > 0]
    if sizes.size == 0:
        return float("nan"), float("nan")
    if sizes.size == 1:
        return float(demand.size), 0.0
    adi = float(demand_intervals(demand).mean())
    cv2 = float(sizes.var(ddof=ddof) / sizes.mean() ** 2)
    return adi, cv2


def demand_class(
    adi: float,
    cv2: float,
    adi_cut: float = DEFAULT_ADI_CUT,
    cv2_cut: float = DEFAULT_CV2_CUT,
) -> str:
    """Demand pattern of Syntetos, Boylan & Croston (2005).

    ============  ==============  ==============
    class         ADI             CV²
    ============  ==============  ==============
    smooth        < ``adi_cut``   < ``cv2_cut``
    erratic       < ``adi_cut``   ≥ ``cv2_cut``
    intermittent  ≥ ``adi_cut``   < ``cv2_cut``
    lumpy         ≥ ``adi_cut``   ≥ ``cv2_cut``
    ============  ==============  ==============

    A value exactly on a cut belongs to the high side. ``adi`` NaN (a series without
    demand, see :func:`adi_cv2`) → ``"no_demand"``. Cuts default to 1.32 and 0.49
    (restock.yaml ``product_classes.adi_cut`` / ``cv2_cut``).
    """
    if np.isnan(adi):
        return NO_DEMAND
    if np.isnan(cv2):
        raise ValueError("cv2 is NaN while adi is not; compute both with adi_cv2")
    if adi < 0 or cv2 < 0:
        raise ValueError(f"adi and cv2 must be non-negative, got adi={adi}, cv2={cv2}")
    frequent = adi < adi_cut
    stable = cv2 < cv2_cut
    if frequent:
        return SMOOTH if stable else ERRATIC
    return INTERMITTENT if stable else LUMPY


def classify_demand(
    series: ArrayLike,
    adi_cut: float = DEFAULT_ADI_CUT,
    cv2_cut: float = DEFAULT_CV2_CUT,
    ddof: int = 0,
) -> str:
    """:func:`demand_class` of :func:`adi_cv2` of ``series``."""
    adi, cv2 = adi_cv2(series, ddof=ddof)
    return demand_class(adi, cv2, adi_cut=adi_cut, cv2_cut=cv2_cut)


def abc_classes(values: pd.Series, cuts: Sequence[float] = DEFAULT_ABC_CUTS) -> pd.Series:
    """ABC class of each item by cumulative share of value (Pareto analysis).

    Items are ranked by value, largest first. An item's class is decided by the
    cumulative share of the items ranked *before* it: A while that share is below
    ``cuts[0]``, B while below ``cuts[1]``, C otherwise. So the item that crosses 80 %
    is still A, and the top item is always A. Ties are order-independent: the share
    before an item is the value of all strictly larger items, so equal values get the
    same (higher) class. A share exactly on a cut starts the next class. Zero-value
    items are C; if every value is zero, all are C.

    ``values`` is indexed by item (e.g. SKU) and holds a non-negative value (sales
    amount, margin, quantity). Returns a string Series named ``abc_class`` with the
    same index. ``cuts`` default (0.8, 0.95) (restock.yaml ``abc_cuts``).
    """
    low, high = _check_cuts(cuts, "cuts")
    if high > 1:
        raise ValueError(f"ABC cuts are shares and must be <= 1, got {tuple(cuts)}")
    amounts = values.to_numpy(dtype=float)
    if np.isnan(amounts).any() or np.isinf(amounts).any() or (amounts < 0).any():
        raise ValueError("ABC values must be finite and non-negative")
    total = amounts.sum()
    if total == 0:
        return pd.Series("C", index=values.index, name="abc_class", dtype=object)
    # Value of all strictly larger items, via a sort: O(n log n), ties share it.
    order = np.sort(amounts)[::-1]
    larger_sum = np.concatenate(([0.0], np.cumsum(order)))
    n_larger = len(order) - np.searchsorted(order[::-1], amounts, side="right")
    share_before = larger_sum[n_larger] / total
    labels = np.where(share_before < low, "A", np.where(share_before < high, "B", "C"))
    return pd.Series(labels, index=values.index, name="abc_class", dtype=object)


def coefficient_of_variation(series: ArrayLike, ddof: int = 0) -> float:
    """Std ÷ mean of per-period demand, zeros included (the input of XYZ).

    Population std by default (``ddof=0``, as for CV²). NaN when the mean is zero.
    """
    demand = validate_demand(series)
    mean = demand.mean()
    if mean == 0:
        return float("nan")
    return float(demand.std(ddof=ddof) / mean)


def xyz_classes(cv: pd.Series, cuts: Sequence[float] = DEFAULT_XYZ_CUTS) -> pd.Series:
    """XYZ class of each item by coefficient of variation of its demand.

    X if ``cv <= cuts[0]``, Y if ``cv <= cuts[1]``, Z above: a value exactly on a cut
    stays in the steadier class (thresholds are stated as "X ≤ …", domain.md). NaN
    (no demand, see :func:`coefficient_of_variation`) stays NaN: variability is
    undefined, the caller decides. Returns a Series named ``xyz_class`` (object dtype)
    with the same index. ``cuts`` default (0.5, 1.0) — sources vary (restock.yaml
    ``xyz_cuts``).
    """
    low, high = _check_cuts(cuts, "cuts")
    ratios = cv.to_numpy(dtype=float)
    if (ratios < 0).any():
        raise ValueError("coefficients of variation must be non-negative")
    labels = np.where(ratios <= low, "X", np.where(ratios <= high, "Y", "Z")).astype(object)
    labels[np.isnan(ratios)] = np.nan
    return pd.Series(labels, index=cv.index, name="xyz_class", dtype=object)


def _check_cuts(cuts: Sequence[float], name: str) -> tuple[float, float]:
    if len(cuts) != 2:
        raise ValueError(f"{name} must be two increasing numbers, got {tuple(cuts)}")
    low, high = float(cuts[0]), float(cuts[1])
    if not 0 < low < high:
        raise ValueError(f"{name} must satisfy 0 < first < second, got {tuple(cuts)}")
    return low, high
