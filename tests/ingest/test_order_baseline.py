"""The per-customer order-quantity baseline of the orders outlier check."""

from __future__ import annotations

import pandas as pd
import pytest

from restock.ingest.order_baseline import quantity_baseline


def test_a_customer_with_enough_lines_is_judged_on_its_own_lines():
    history = pd.DataFrame(
        {
            "customer_id": ["C1"] * 20 + ["C2"] * 3,
            "quantity": ["8", "10", "12", "9"] * 5 + ["1", "2", "3"],
            "status": "confirmed",
        }
    )
    tiers = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "tier": ["12", None, "3"]})
    baseline = quantity_baseline(history, tiers)
    assert baseline.loc["C1", "basis"] == "customer" and baseline.loc["C1", "std"] >= 1.0
    assert baseline.loc["C1", "mean"] == pytest.approx(9.75) and baseline.loc["C1", "n"] == 20
    # Few lines and no tier: its own figures, the std floored so one more carton is no outlier.
    assert baseline.loc["C2", "basis"] == "customer" and baseline.loc["C2", "std"] == 1.0
    assert "C3" not in baseline.index  # no line, and no line in its tier either


def test_a_new_customer_gets_its_tiers_figures_and_cancelled_lines_are_left_out():
    history = pd.DataFrame(
        {
            "customer_id": ["C1"] * 10 + ["C4", "C1"],
            "quantity": ["10"] * 10 + ["40", "500"],
            "status": ["confirmed"] * 11 + [" Cancelled "],
        }
    )
    tiers = pd.DataFrame({"customer_id": ["C1", "C4"], "tier": [2, 2]})
    baseline = quantity_baseline(history, tiers)
    assert baseline.loc["C1", ["mean", "n", "basis"]].tolist() == [10.0, 10, "customer"]
    assert baseline.loc["C4", ["mean", "n", "basis"]].tolist() == [pytest.approx(140 / 11), 11, "tier"]
    assert quantity_baseline(history, tiers, include_cancelled=True).loc["C1", "n"] == 11
