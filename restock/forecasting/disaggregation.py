"""Top-down split of segment × SKU forecasts to customer × SKU (Gross & Sohl 1990).

The segment forecast covers the demand of every customer of the segment, those
that lapse and come back included (:mod:`restock.forecasting.origins`); this module
decides who is expected to place it. Each customer's weight within its segment for
a SKU, aware of its lifecycle state (``customer_segments`` on the forecast origin):

- **active / at_risk**: its own demand for the SKU over the last ``share_window_weeks``
  complete weeks (its recent share);
- **new**: the segment's average per established customer for that SKU (it starts
  from its peers; its own few weeks are too short to trust);
- **churned**: nothing while the segment has a new, active or at_risk customer: it
  is overdue by ``churned_missed_cycles`` of *its own* usual intervals, and it gets
  no order suggestion either (so what it may still buy is placed on the customers
  that do order). Only in a segment with no such customer do its churned customers
  carry the forecast, by their own recent demand or else equally
  (``basis = "churned_only"``): somebody there may still order, and a forecast
  without customers would be lost to the customer level and the warehouse plans;
- **closed**: nothing, ever (a closed shop orders nothing).

share = weight ÷ Σ weights of the segment × SKU, so the customer forecasts of a
segment × SKU sum to its forecast: renormalising over the customers that can order
moves the demand of those that get nothing onto them, the total does not shrink.
When every eligible weight is zero (nobody in the segment bought the SKU recently)
the forecast is split equally among the eligible customers (``basis =
"equal_split"``); a segment × SKU whose customers are all closed gets no customer
rows and is counted by the caller.

The weights are added in customer order whatever the row order of the inputs, so the
shares are the same to the last digit on every run.
"""

from __future__ import annotations

import pandas as pd

ELIGIBLE_ESTABLISHED = ("active", "at_risk")
ELIGIBLE_NEW = ("new",)
# Only where a segment has no eligible (new / active / at_risk) customer.
FALLBACK_CHURNED = ("churned",)
SHARE_COLUMNS = ["segment_id", "sku", "customer_id", "share", "basis"]


def customer_shares(recent: pd.DataFrame, customers: pd.DataFrame, series: pd.DataFrame) -> pd.DataFrame:
    """Shares of each eligible customer in each segment × SKU of ``series``.

    ``recent``: customer_id, sku, qty (the customer's demand over the share window);
    ``customers``: customer_id, segment_id, lifecycle_state on the origin;
    ``series``: segment_id, sku to split. Returns :data:`SHARE_COLUMNS`, shares of
    one segment × SKU summing to 1, ``basis`` one of own_history / peer_average /
    equal_split / churned_only (the module docstring has the rules).
    """
    people = customers[["customer_id", "segment_id", "lifecycle_state"]]
    established = people[people["lifecycle_state"].isin(ELIGIBLE_ESTABLISHED)]
    newcomers = people[people["lifecycle_state"].isin(ELIGIBLE_NEW)]
    wanted = series[["segment_id", "sku"]].drop_duplicates()
    with_eligible = set(established["segment_id"]) | set(newcomers["segment_id"])
    churned = people[people["lifecycle_state"].isin(FALLBACK_CHURNED) & ~people["segment_id"].isin(with_eligible)]

    ordered = recent.sort_values(["customer_id", "sku", "qty"], kind="mergesort")
    bought = ordered.groupby(["customer_id", "sku"], as_index=False)["qty"].sum()
    bought = bought[bought["qty"] > 0]
    own = bought.merge(established[["customer_id", "segment_id"]], on="customer_id")
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

    # Segments with nobody eligible: their churned customers, by own recent demand,
    # else equally.
    lapsed = bought.merge(churned[["customer_id", "segment_id"]], on="customer_id")
    lapsed = lapsed.merge(wanted, on=["segment_id", "sku"]).assign(basis="churned_only")
    lapsed["weight"] = lapsed["qty"].astype(float)
    left = uncovered.merge(lapsed[["segment_id", "sku"]].drop_duplicates(), how="left", indicator=True)
    left = left[left["_merge"] == "left_only"][["segment_id", "sku"]]
    lapsed_equal = left.merge(churned[["customer_id", "segment_id"]], on="segment_id")
    lapsed_equal = lapsed_equal.assign(weight=1.0, basis="churned_only")

    columns = ["segment_id", "sku", "customer_id", "weight", "basis"]
    shares = pd.concat(
        [weighted, equal[columns], lapsed[columns], lapsed_equal[columns]],
        ignore_index=True,
    )
    shares = shares.sort_values(["segment_id", "sku", "customer_id"], kind="mergesort", ignore_index=True)
    totals = shares.groupby(["segment_id", "sku"])["weight"].transform("sum")
    shares["share"] = shares["weight"] / totals
    return shares[SHARE_COLUMNS]
