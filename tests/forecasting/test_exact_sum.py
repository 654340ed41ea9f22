"""The warehouse sums of ``analytics.demand_forecasts`` (``tables._exact_sum``): the
same last digit whatever order the rows are stored and added in, equal to the exact sum
of the terms rounded to 1e-12, and a NaN, an infinity or a huge term summed as a plain
DOUBLE sum instead of failing the read (issue 13: they replaced a sum ordered by customer)."""

from __future__ import annotations

import math
from decimal import Decimal

import duckdb
import numpy as np
import pandas as pd

from restock.forecasting.tables import _exact_sum


def _sums(frame: pd.DataFrame) -> dict[int, float]:
    con = duckdb.connect()
    con.execute("set threads = 2")
    con.register("terms", frame)
    rows = con.execute(f"select g, {_exact_sum('x')} from terms group by g").fetchall()
    return dict(rows)


def test_the_sum_is_exact_and_the_same_in_any_order():
    rng = np.random.default_rng(7)
    # many groups of terms of very different sizes: a DOUBLE sum of them depends on the order
    groups = np.repeat(np.arange(40), 5_000)
    terms = rng.lognormal(0.0, 4.0, groups.size) * rng.choice([1e-6, 1.0, 1e6], groups.size)
    frame = pd.DataFrame({"g": groups, "x": terms})
    first = _sums(frame)
    for seed in range(4):
        shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        assert _sums(shuffled) == first  # to the last bit
    plain = frame.groupby("g")["x"].sum()
    order_matters = sum(
        frame.sample(frac=1.0, random_state=9).groupby("g")["x"].sum()[g] != plain[g] for g in plain.index
    )
    assert order_matters > 0, "the terms are not awkward enough to show an order-dependent DOUBLE sum"
    for g in (0, 17, 39):
        exact = sum(Decimal(float(x)).quantize(Decimal("1e-12")) for x in terms[groups == g])
        assert first[g] == float(exact)


def test_a_nan_an_infinity_or_a_huge_term_gives_the_plain_sum_not_an_error():
    con = duckdb.connect()
    # (a NaN of a registered pandas frame would arrive as NULL: the values are SQL's own)
    con.execute(
        """create table terms as select * from (values
               (1, 1.5::double), (1, 'nan'::double), (2, 2.0), (2, 'inf'::double),
               (3, 1.0), (3, 1e30), (4, 0.25), (4, 0.5), (5, null), (5, 3.0)) t(g, x)"""
    )
    sums = dict(con.execute(f"select g, {_exact_sum('x')} from terms group by g").fetchall())
    assert math.isnan(sums[1])
    assert sums[2] == math.inf
    assert sums[3] == 1e30 + 1.0
    assert sums[4] == 0.75
    assert sums[5] == 3.0  # NULL is no term, as in any SQL sum
