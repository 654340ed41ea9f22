"""The assembly of the segmentation tables: amounts exact to the cent and every value
the same to the last digit whatever the order of the rows read (issue 12, point 11)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

from restock.config import load_config
from restock.segmentation.tables import build_product_classes
from restock.settings import PROJECT_ROOT

AS_OF = date(2024, 7, 7)  # a Sunday: the week of 07-01 is complete
RULES = load_config(PROJECT_ROOT / "restock.yaml").product_classes


def _weekly(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    last = date(2024, 7, 1)
    rows = []
    for k in range(30):
        for w in range(RULES.window_weeks):
            if rng.random() < 0.7:
                cents = int(rng.integers(1, 5_000_000))
                rows.append((f"K{k:02d}", last - timedelta(weeks=w), float(rng.integers(1, 400)), cents))
    return pd.DataFrame(rows, columns=["sku", "week_start", "qty", "cents"])


def test_product_classes_are_exact_and_independent_of_the_row_order():
    weekly = _weekly(3)
    weekly["value"] = weekly["cents"] / 100
    skus = sorted(set(weekly["sku"])) + ["K99"]  # one SKU without demand
    first = build_product_classes(weekly.drop(columns="cents"), skus, AS_OF, RULES)
    for seed in range(5):
        shuffled = weekly.sample(frac=1.0, random_state=np.random.RandomState(seed)).drop(columns="cents")
        again = build_product_classes(shuffled.reset_index(drop=True), skus, AS_OF, RULES)
        pd.testing.assert_frame_equal(again, first, check_exact=True)
    exact = weekly.groupby("sku")["cents"].sum()
    by_sku = first.set_index("sku")
    assert by_sku.loc["K99", "total_value"] == 0.0 and by_sku.loc["K99", "value_share"] == 0.0
    for sku, cents in exact.items():
        assert by_sku.loc[sku, "total_value"] == float(Decimal(int(cents)) / 100), sku
    assert abs(first["value_share"].sum() - 1.0) < 1e-12
