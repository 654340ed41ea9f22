"""Top-down split to customer × SKU: shares by recent demand, lifecycle-aware."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from restock.forecasting.disaggregation import RATIO_WINDOW_WEEKS, customer_shares, interval_ratios, min_ratio_weeks


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


# --------------------------------------------------------------------------- interval ratios

LAST = date(2025, 6, 30)  # a Monday: the last week of the ratio window


def _weekly(values: dict[tuple[str, str], list[float]], last: date = LAST) -> pd.DataFrame:
    """customer × SKU → weekly demand, oldest week first, ending with ``last``."""
    rows = [
        (customer, sku, last - timedelta(weeks=len(ys) - 1 - t), y)
        for (customer, sku), ys in values.items()
        for t, y in enumerate(ys)
        if y  # weeks without an order have no row: they count as 0
    ]
    return pd.DataFrame(rows, columns=["customer_id", "sku", "week_start", "qty"])


def test_interval_ratios_by_hand():
    assert min_ratio_weeks(0.8) == 9 and min_ratio_weeks(0.9) == 19
    weekly = _weekly(
        {
            # weekly buyer 1..9 (mean 5): positions 0.1 * 10 = 1 and 0.9 * 10 = 9, the
            # smallest and the largest week: 1 / 5 and 9 / 5
            ("w", "K"): [0.0] + [3.0, 1.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
            # 6 weeks of 10 without an order, then 3, 6, 6, 9 (mean 2.4): the lower
            # quantile is 0, so the upper one is the 80 % quantile, position 8.8:
            # between the 8th and 9th smallest (6 and 6) -> 6 / 2.4 = 2.5
            ("i", "K"): [0.0, 3.0, 0.0, 0.0, 6.0, 0.0, 0.0, 6.0, 0.0, 9.0],
            # 9 of 10 weeks without an order: the 80 % quantile is 0 -> [0, forecast]
            ("e", "K"): [0.0] * 9 + [20.0],
            # 8 weeks only: too few for own ratios
            ("s", "K"): [0.0, 0.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0, 7.0, 8.0],
        }
    )
    firsts = pd.DataFrame(
        {"customer_id": ["w", "s"], "first_week": [LAST - timedelta(weeks=8), LAST - timedelta(weeks=7)]}
    )
    ratios = interval_ratios(weekly, LAST, window_weeks=10, level=0.8, first_weeks=firsts)
    own = ratios.own.set_index("customer_id")
    assert own.loc["w", "n_weeks"] == 9  # its first order week is the 2nd of the window
    assert own.loc["w", "lower_ratio"] == pytest.approx(1 / 5) and own.loc["w", "upper_ratio"] == pytest.approx(9 / 5)
    assert own.loc["i", "lower_ratio"] == 0.0 and own.loc["i", "upper_ratio"] == pytest.approx(2.5)
    assert own.loc["e", "lower_ratio"] == 0.0 and own.loc["e", "upper_ratio"] == 1.0
    assert "s" not in own.index and ratios.pooled.empty  # no pool given


def test_new_customers_take_the_pooled_ratios_of_their_segment_and_none_stay_null():
    customers = _customers(
        [("a", "S", "active"), ("b", "S", "active"), ("n", "S", "new"), ("x", "T", "active"), ("y", "T", "new")]
    )
    weekly = _weekly(
        {
            ("a", "K"): [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0],  # mean 5.5
            ("b", "K"): [0.0, 0.0, 0.0, 0.0, 11.0, 0.0, 0.0, 0.0, 0.0, 11.0],  # mean 2.2
            ("n", "K"): [0.0] * 8 + [4.0, 4.0],  # its 2 weeks: too few
            ("x", "K"): [0.0] * 9 + [1.0],  # T: x bought in the last week only
        }
    )
    firsts = pd.DataFrame({"customer_id": ["n"], "first_week": [LAST - timedelta(weeks=1)]})
    recent = weekly.groupby(["customer_id", "sku"], as_index=False)["qty"].sum()
    series = pd.DataFrame({"segment_id": ["S", "T", "T"], "sku": ["K", "K", "Z"]})
    shares = customer_shares(recent, customers, series, weekly, last_week=LAST, window_weeks=10, first_weeks=firsts)
    got = shares.set_index(["segment_id", "sku", "customer_id"])
    # a: own ratios, 1/5.5 .. 10/5.5 (positions 1.1 and 9.9 on 10 weeks)
    assert got.loc[("S", "K", "a"), "lower_ratio"] == pytest.approx((1 + 0.1) / 5.5)
    assert got.loc[("S", "K", "a"), "upper_ratio"] == pytest.approx((9 + 0.9) / 5.5)
    # n is new (peer average share): the pooled ratios of S x K, over a's and b's 20
    # normalised weeks: 8 zeros (b), a's 1..10 / 5.5 and b's two 5.0 -> 10 % quantile
    # (position 2.1) is 0, 80 % quantile at position 16.8 of the sorted 20.
    pool = np.sort(np.r_[np.arange(1.0, 11.0) / 5.5, np.zeros(8), 5.0, 5.0])
    assert got.loc[("S", "K", "n"), "basis"] == "peer_average"
    assert got.loc[("S", "K", "n"), "lower_ratio"] == 0.0
    assert got.loc[("S", "K", "n"), "upper_ratio"] == pytest.approx(pool[15] + 0.8 * (pool[16] - pool[15]))
    # T x K: x has own ratios (9 weeks without an order: [0, forecast]); y is new and
    # takes T's pool (x's weeks only). T x Z: nobody bought it -> equal split, no pool:
    # null ratios (the customer rows keep the segment bound x share).
    assert got.loc[("T", "K", "x"), ["lower_ratio", "upper_ratio"]].tolist() == [0.0, 1.0]
    assert got.loc[("T", "K", "y"), ["lower_ratio", "upper_ratio"]].tolist() == [0.0, 1.0]
    assert got.loc[("T", "Z", "x"), "basis"] == "equal_split"
    assert got.xs(("T", "Z"))[["lower_ratio", "upper_ratio"]].isna().all().all()
    assert (shares["lower_ratio"].dropna() <= 1).all() and (shares["upper_ratio"].dropna() >= 1).all()
    # Without weekly demand every ratio is null (the segment bound x share applies).
    for none in (
        customer_shares(recent, customers, series),
        customer_shares(recent, customers, series, weekly.iloc[:0], last_week=LAST),
    ):
        assert none[["lower_ratio", "upper_ratio"]].isna().all().all()
        assert none[["lower_ratio", "upper_ratio"]].dtypes.tolist() == [np.float64, np.float64]  # NULL in DuckDB


def test_interval_ratios_refuse_bad_rows_naming_them():
    weekly = _weekly({("a", "K"): [1.0] * 10})
    with pytest.raises(
        ValueError,
        match=r"weekly row 0 \(customer 'a', sku 'K'\): column week_start 2025-04-28 is not one of the 5 week starts 2025-06-02..2025-06-30",
    ):
        interval_ratios(weekly, LAST, window_weeks=5)
    weekly.loc[3, "qty"] = np.nan
    with pytest.raises(ValueError, match=r"weekly row 3 .*column qty is 'nan', not a finite number"):
        interval_ratios(weekly, LAST, window_weeks=10)
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        interval_ratios(weekly, LAST, level=80)


def test_interval_ratios_are_the_same_to_the_last_digit_whatever_the_row_order():
    rng = np.random.default_rng(5)
    values = {
        (f"c{i:02d}", f"K{k}"): (rng.random(26) < 0.4) * rng.integers(1, 9000, 26) / 1000
        for i in range(40)
        for k in range(3)
    }
    weekly = _weekly(values)
    weekly = pd.concat([weekly, weekly.assign(qty=weekly["qty"] / 7)], ignore_index=True)  # two rows per week
    pool = pd.DataFrame(
        {"customer_id": [f"c{i:02d}" for i in range(40)], "segment_id": [f"S{i % 3}" for i in range(40)]}
    )
    first = interval_ratios(weekly, LAST, pool=pool)
    for seed in range(3):
        again = interval_ratios(
            weekly.sample(frac=1.0, random_state=seed), LAST, pool=pool.sample(frac=1.0, random_state=seed)
        )
        pd.testing.assert_frame_equal(again.own, first.own, check_exact=True)
        pd.testing.assert_frame_equal(again.pooled, first.pooled, check_exact=True)


def _simulated_customers(seed: int, history: int, future: int, per_period: int):
    """Customers ordering every k = 1, 2, 4, 8 weeks (gaps k − 1, k, k + 1 with
    probabilities 0.2, 0.6, 0.2; a random first week), order sizes negative binomial
    (shape 4) with mean k × the customer's weekly mean (gamma, mean 10)."""
    rng = np.random.default_rng(seed)
    truth = {}
    for k in (1, 2, 4, 8):
        for i in range(per_period):
            weekly_mean = rng.gamma(2.0, 5.0)
            if k == 1:
                times = list(range(history + future))
            else:
                t, times = int(rng.integers(0, k)), []
                while t < history + future:
                    times.append(t)
                    t += k + int(rng.choice([-1, 0, 1], p=[0.2, 0.6, 0.2]))
            y = np.zeros(history + future)
            y[times] = rng.negative_binomial(4.0, 4.0 / (4.0 + weekly_mean * k), len(times))
            truth[f"k{k}-{i:03d}"] = (k, weekly_mean, y)
    return truth


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_80_percent_customer_interval_covers_80_percent_of_future_weeks_on_simulated_customers(seed):
    """400 customers × 52 weeks of history and 26 future weeks, 100 each ordering every
    1, 2, 4 and 8 weeks, one segment per rhythm with a perfect segment forecast (the sum
    of its customers' weekly means): customer forecast = segment forecast × share (its
    last 13 weeks), interval = forecast × the ratios of its last 26 weeks.

    Weekly, 2- and 4-weekly buyers: 75-85 % of the future weeks inside. Every 8 weeks,
    7 in 8 weeks have no order: an interval of this form that holds 0 covers them all
    (87.5 %) and one that does not covers at most the 12.5 % order weeks, so 75-85 %
    cannot be reached; the interval is [0, forecast] and covers the weeks without an
    order (and no order: they are all above its forecast)."""
    history, future = 52, 26
    truth = _simulated_customers(seed, history, future, per_period=100)
    start = date(2024, 1, 1)
    last = start + timedelta(weeks=history - 1)
    weekly = pd.DataFrame(
        [
            (customer, "K", start + timedelta(weeks=t), y[t])
            for customer, (_, _, y) in truth.items()
            for t in range(history - RATIO_WINDOW_WEEKS, history)
            if y[t] > 0
        ],
        columns=["customer_id", "sku", "week_start", "qty"],
    )
    recent = weekly[weekly["week_start"] > last - timedelta(weeks=13)]
    recent = recent.groupby(["customer_id", "sku"], as_index=False)["qty"].sum()
    customers = _customers([(c, f"S{k}", "active") for c, (k, _, _) in truth.items()])
    series = pd.DataFrame({"segment_id": ["S1", "S2", "S4", "S8"], "sku": "K"})
    shares = customer_shares(recent, customers, series, weekly, last_week=last, level=0.8)
    assert set(shares["basis"]) == {"own_history"} and shares["lower_ratio"].notna().all()
    segment_forecast = {f"S{k}": sum(m for kk, m, _ in truth.values() if kk == k) for k in (1, 2, 4, 8)}
    inside: dict[int, list[np.ndarray]] = {1: [], 2: [], 4: [], 8: []}
    for row in shares.itertuples():
        k, _, y = truth[row.customer_id]
        point = segment_forecast[row.segment_id] * row.share
        actual = y[history:]
        inside[k].append((actual >= point * row.lower_ratio) & (actual <= point * row.upper_ratio))
    coverage = {k: float(np.concatenate(v).mean()) for k, v in inside.items()}
    for k in (1, 2, 4):
        assert 0.75 <= coverage[k] <= 0.85, (k, coverage)
    weeks_without_order = float(
        np.mean([(truth[c][2][history:] == 0).mean() for c in shares["customer_id"] if truth[c][0] == 8])
    )
    assert coverage[8] == pytest.approx(weeks_without_order, abs=0.01) and 0.85 < coverage[8] < 0.9, coverage
    everyone = float(np.concatenate([np.concatenate(v) for v in inside.values()]).mean())
    assert 0.75 <= everyone <= 0.85, everyone
