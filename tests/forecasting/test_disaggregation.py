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


def test_no_recent_buyer_splits_equally_churned_only_segments_keep_their_forecast():
    customers = _customers(
        [
            ("a", "S1", "active"),
            ("b", "S1", "new"),
            ("c", "S2", "churned"),
            ("d", "S2", "churned"),
            ("e", "S2", "closed"),
            ("f", "S3", "churned"),
            ("g", "S4", "closed"),
        ]
    )
    recent = pd.DataFrame({"customer_id": ["a", "c", "e"], "sku": ["OTHER", "K", "K"], "qty": [5.0, 4.0, 9.0]})
    series = pd.DataFrame({"segment_id": ["S1", "S2", "S3", "S4"], "sku": ["K", "K", "K", "K"]})
    shares = customer_shares(recent, customers, series)
    s1 = shares[shares["segment_id"] == "S1"]
    assert sorted(s1["customer_id"]) == ["a", "b"]
    np.testing.assert_allclose(s1["share"], [0.5, 0.5])
    assert set(s1["basis"]) == {"equal_split"}
    # S2 has nobody new, active or at_risk: its churned customers carry the forecast by
    # their own recent demand (c bought 4, d nothing); the closed e gets nothing.
    s2 = shares[shares["segment_id"] == "S2"].set_index("customer_id")
    assert s2["share"].to_dict() == {"c": 1.0} and set(s2["basis"]) == {"churned_only"}
    # S3: one churned customer without recent demand: equally, i.e. all of it
    s3 = shares[shares["segment_id"] == "S3"].set_index("customer_id")
    assert s3["share"].to_dict() == {"f": 1.0} and set(s3["basis"]) == {"churned_only"}
    # S4: only a closed shop -> no customer rows (the caller counts it)
    assert shares[shares["segment_id"] == "S4"].empty


def test_a_closed_shop_gets_nothing_and_customer_forecasts_sum_to_the_segment_forecast():
    # S: a (active, bought 30), b (at_risk, 10), c (churned, 60: a big buyer that
    # stopped), d (closed, 100), n (new). Segment forecast 123.4 for h1 and 7.7 for h2.
    customers = _customers(
        [("a", "S", "active"), ("b", "S", "at_risk"), ("c", "S", "churned"), ("d", "S", "closed"), ("n", "S", "new")]
    )
    recent = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "sku": "K", "qty": [30.0, 10.0, 60.0, 100.0]})
    shares = customer_shares(recent, customers, pd.DataFrame({"segment_id": ["S"], "sku": ["K"]}))
    by_customer = shares.set_index("customer_id")["share"]
    # weights a 30, b 10, n = 40 / 2 established = 20: total 60; c and d none
    assert by_customer.to_dict() == pytest.approx({"a": 0.5, "b": 1 / 6, "n": 1 / 3})
    forecast = pd.Series({1: 123.4, 2: 7.7})
    for horizon, value in forecast.items():
        per_customer = value * by_customer
        assert abs(per_customer.sum() - value) < 1e-9, horizon
        assert per_customer["a"] == pytest.approx(value / 2)


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
    # every segment has eligible customers here: churned and closed ones get nothing
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
