"""The per-customer order-quantity baseline the orders suite's outlier check uses.

``raw_orders`` flags a line whose ``quantity__z`` (the quantity's z-score against its
customer's usual lines) is out of range; ``restock.quality`` computes that z-score
from the baseline given to ``validate_frame`` / ``validate_days`` as
``quantity_baseline``. What "usual" means for an order is an ingest rule, so it lives
here, not in the generic gate runner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def quantity_baseline(
    history: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    *,
    min_lines: int = 8,
    min_std: float = 1.0,
    include_cancelled: bool = False,
) -> pd.DataFrame:
    """Per-customer mean and std of the line quantity, for the ``quantity__z`` outlier check.

    ``history``: earlier order lines (``customer_id``, ``quantity`` as text or number,
    optionally ``status``); cancelled lines are left out unless ``include_cancelled``.
    A customer with fewer than ``min_lines`` lines gets the pooled figures of its tier
    when ``customers`` (``customer_id``, ``tier``) is given, so a new shop is judged
    against shops of its size; without a tier it keeps its own figures if it has any
    line. ``std`` is floored at ``min_std`` so a customer who always orders the same
    quantity is not flagged for ordering one more.

    Returns a frame indexed by ``customer_id`` with ``mean``, ``std``, ``n``, ``basis``
    (``customer`` / ``tier``).
    """
    import numpy as np
    import pandas as pd

    h = pd.DataFrame(
        {
            "customer_id": history["customer_id"].astype("string").str.strip(),
            "q": pd.to_numeric(history["quantity"], errors="coerce"),
        }
    )
    if "status" in history.columns and not include_cancelled:
        keep = history["status"].astype("string").str.strip().str.lower().ne("cancelled").fillna(True)
        h = h[keep.to_numpy()]
    h = h.dropna()
    own = h.groupby("customer_id")["q"].agg(mean="mean", std=lambda s: s.std(ddof=0), n="count")
    own["basis"] = "customer"
    if customers is not None and "tier" in customers.columns:
        tiers = (
            pd.DataFrame(
                {
                    "customer_id": customers["customer_id"].astype("string").str.strip(),
                    "tier": pd.to_numeric(customers["tier"], errors="coerce"),
                }
            )
            .dropna()
            .drop_duplicates("customer_id")
        )
        ht = h.merge(tiers, on="customer_id")
        by_tier = ht.groupby("tier")["q"].agg(mean="mean", std=lambda s: s.std(ddof=0), n="count")
        few = tiers[~tiers["customer_id"].isin(own.index[own["n"] >= min_lines])]
        pooled = few.merge(by_tier, left_on="tier", right_index=True).set_index("customer_id")
        pooled = pooled[["mean", "std", "n"]].assign(basis="tier")
        own = pd.concat(
            [own[own["n"] >= min_lines], pooled, own[~own.index.isin(pooled.index) & (own["n"] < min_lines)]]
        )
    own["std"] = np.maximum(own["std"].fillna(0.0).to_numpy(dtype=float), min_std)
    own.index.name = "customer_id"
    return own
