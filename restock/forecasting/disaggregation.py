"""Top-down split of segment × SKU forecasts to customer × SKU (Gross & Sohl 1990).

Each customer's weight within its segment for a SKU, aware of its lifecycle state
(``customer_segments`` on the forecast origin):

- **active / at_risk**: its own demand for the SKU over the last ``share_window_weeks``
  complete weeks (its recent share);
- **new**: the segment's average per established customer for that SKU (it starts
  from its peers; its own few weeks are too short to trust);
- **churned / closed**: nothing (not eligible).

share = weight ÷ Σ weights of the segment × SKU, so the customer forecasts of a
segment × SKU sum to its forecast. When every eligible weight is zero (nobody in the
segment bought the SKU recently) the forecast is split equally among the eligible
customers (``basis = "equal_split"``); a segment × SKU without any eligible customer
gets no customer rows and is counted by the caller.

The weights are added in customer order whatever the row order of the inputs, so the
shares are the same to the last digit on every run.
"""

from __future__ import annotations

import pandas as pd

ELIGIBLE_ESTABLISHED = ("active", "at_risk")
ELIGIBLE_NEW = ("new",)
SHARE_COLUMNS = ["segment_id", "sku", "customer_id", "share", "basis"]


def customer_shares(recent: pd.DataFrame, customers: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Shares of each eligible customer in each segment × SKU of ``series``.

    ``recent``: customer_id, sku, qty (the customer's demand over the share window);
    ``customers``: customer_id, segment_id, lifecycle_state on the origin;
    ``series``: segment_id, sku to split. Returns :data:`SHARE_COLUMNS`, shares of
    one segment × SKU summing to 1, ``basis`` one of own_history / peer_average /
    equal_split.
    """
    people = customers[["customer_id", "segment_id", "lifecycle_state"]]
    established = people[people["lifecycle_state"].isin(ELIGIBLE_ESTABLISHED)]
    newcomers = people[people["lifecycle_state"].isin(ELIGIBLE_NEW)]
    wanted = series[["segment_id", "sku"]].drop_duplicates()

    ordered = recent.sort_values(["customer_id", "sku", "qty"], kind="mergesort")
    own = ordered.groupby(["customer_id", "sku"], as_index=False)["qty"].sum()
    own = own[own["qty"] > 0].merge(established[["customer_id", "segment_id"]], on="customer_id")
    own = own.merge(wanted, on=["segment_id", "sku"])
    own = own.assign(weight=own["qty"].astype(float), basis="own_history")
    own = own.sort_values(["segment_id", "sku", "customer_id"], kind="mergesort", ignore_index=True)

    per_segment = established.groupby("segment_id").size().reset_index(name="n_established")
    peer = own.groupby(["segment_id", "sku"], as_index=False)["weight"].sum()
    peer = peer.merge(per_segment, on="segment_id")
    peer["weight"] = peer["weight"] / peer["n_established"]
    new_rows = newcomers[["customer_id", "segment_id"]].merge(peer[["segment_id", "sku", "weight"]], on="segment_id")
    new_rows = new_rows.assign(basis="peer_average")

    weighted = pd.concat(
        [
            own[["segment_id", "sku", "customer_id", "weight", "basis"]],
            new_rows[["segment_id", "sku", "customer_id", "weight", "basis"]],
        ],
        ignore_index=True,
    )
    covered = weighted[["segment_id", "sku"]].drop_duplicates()
    uncovered = wanted.merge(covered, on=["segment_id", "sku"], how="left", indicator=True)
    uncovered = uncovered[uncovered["_merge"] == "left_only"][["segment_id", "sku"]]
    eligible = pd.concat([established, newcomers])[["customer_id", "segment_id"]]
    equal = uncovered.merge(eligible, on="segment_id").assign(weight=1.0, basis="equal_split")

    shares = pd.concat([weighted, equal[["segment_id", "sku", "customer_id", "weight", "basis"]]], ignore_index=True)
    shares = shares.sort_values(["segment_id", "sku", "customer_id"], kind="mergesort", ignore_index=True)
    totals = shares.groupby(["segment_id", "sku"])["weight"].transform("sum")
    shares["share"] = shares["weight"] / totals
    return shares[SHARE_COLUMNS]
