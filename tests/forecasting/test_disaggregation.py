"""Top-down split to customer × SKU: shares by recent demand, lifecycle-aware."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from restock.forecasting.disaggregation import customer_shares


def _customers(rows):
    return pd.DataFrame(rows, columns=["customer_id", "segment_id", "lifecycle_state"])


def test_shares_follow_recent_demand_and_lifecycle_by_hand():
    customers = _customers(
        [
            ("a", "S1", "active"),
            ("b", "S1", "at_risk"),
            ("c", "S1", "churned"),
            ("d", "S1", "closed"),
            ("n", "S1", "new"),
            ("z", "S2", "active"),
        ]
    )
    recent = pd.DataFrame(
        {"customer_id": ["a", "b", "c", "d", "z"], "sku": ["K"] * 5, "qty": [30.0, 10.0, 50.0, 5.0, 7.0]}
    )
    series = pd.DataFrame({"segment_id": ["S1", "S2"], "sku": ["K", "K"]})
    shares = customer_shares(recent, customers, series).set_index(["segment_id", "customer_id"])
    # S1: established a (30) and b (10); c churned and d closed get nothing; the new
    # shop n starts at the peer average 40 / 2 established = 20 -> weights 30, 10, 20.
    assert shares.loc[("S1", "a"), "share"] == pytest.approx(30 / 60)
    assert shares.loc[("S1", "b"), "share"] == pytest.approx(10 / 60)
    assert shares.loc[("S1", "n"), "share"] == pytest.approx(20 / 60)
    assert shares.loc[("S1", "n"), "basis"] == "peer_average"
    assert ("S1", "c") not in shares.index and ("S1", "d") not in shares.index
    assert shares.loc[("S2", "z"), "share"] == pytest.approx(1.0)


def test_no_recent_buyer_splits_equally_and_no_eligible_customer_gives_no_rows():
    customers = _customers([("a", "S1", "active"), ("b", "S1", "new"), ("c", "S2", "churned")])
    recent = pd.DataFrame({"customer_id": ["a"], "sku": ["OTHER"], "qty": [5.0]})
    series = pd.DataFrame({"segment_id": ["S1", "S2"], "sku": ["K", "K"]})
    shares = customer_shares(recent, customers, series)
    s1 = shares[shares["segment_id"] == "S1"]
    assert sorted(s1["customer_id"]) == ["a", "b"]
    np.testing.assert_allclose(s1["share"], [0.5, 0.5])
    assert set(s1["basis"]) == {"equal_split"}
    assert shares[shares["segment_id"] == "S2"].empty


def test_shares_sum_to_one_per_segment_and_sku_on_random_data():
    rng = np.random.default_rng(7)
    states = rng.choice(["active", "at_risk", "new", "churned", "closed"], 300, p=[0.6, 0.1, 0.1, 0.1, 0.1])
    customers = _customers([(f"c{i}", f"S{i % 7}", states[i]) for i in range(300)])
    recent = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in rng.integers(0, 300, 2000)],
            "sku": [f"K{k}" for k in rng.integers(0, 20, 2000)],
            "qty": rng.gamma(1.0, 5.0, 2000).round(),
        }
    )
    series = pd.DataFrame([(f"S{s}", f"K{k}") for s in range(7) for k in range(22)], columns=["segment_id", "sku"])
    shares = customer_shares(recent, customers, series)
    totals = shares.groupby(["segment_id", "sku"])["share"].sum()
    np.testing.assert_allclose(totals.to_numpy(), 1.0)
    assert len(totals) == len(series), "every segment x SKU with an eligible customer is covered"
    excluded = set(customers.loc[customers["lifecycle_state"].isin(["churned", "closed"]), "customer_id"])
    assert not excluded & set(shares["customer_id"])


def test_shares_are_the_same_to_the_last_digit_whatever_the_row_order():
    rng = np.random.default_rng(12)
    states = rng.choice(["active", "at_risk", "new"], 200, p=[0.7, 0.1, 0.2])
    customers = _customers([(f"c{i:03d}", f"S{i % 3}", states[i]) for i in range(200)])
    # several rows per customer x SKU (e.g. weeks), cartons with 3 decimals as the marts hold them
    recent = pd.DataFrame(
        {
            "customer_id": [f"c{i:03d}" for i in rng.integers(0, 200, 3000)],
            "sku": [f"K{k}" for k in rng.integers(0, 4, 3000)],
            "qty": rng.integers(1, 100_000, 3000) / 1000,
        }
    )
    series = pd.DataFrame([(f"S{s}", f"K{k}") for s in range(3) for k in range(5)], columns=["segment_id", "sku"])
    first = customer_shares(recent, customers, series)
    for seed in range(5):
        state = np.random.RandomState(seed)
        again = customer_shares(
            recent.sample(frac=1.0, random_state=state).reset_index(drop=True),
            customers.sample(frac=1.0, random_state=state).reset_index(drop=True),
            series.sample(frac=1.0, random_state=state).reset_index(drop=True),
        )
        pd.testing.assert_frame_equal(again, first, check_exact=True)
