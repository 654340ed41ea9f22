"""Coherent forecasts over total / SKU / segment × SKU: hand-checked numbers, MinT = textbook projection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from restock.forecasting.reconciliation import (
    BOTTOM_UP,
    DEFAULT_METHODS,
    MINT_WLS,
    OLS,
    TOP_DOWN,
    BacktestOrigin,
    choose_method,
    coherence_error,
    hierarchy,
    historical_proportions,
    reconcile,
    shift_bounds,
)

# The 2 SKU × 2 segment case. Bottom order (S1,A), (S2,A), (S1,B), (S2,B); aggregates
# total, A, B. Base forecasts (one horizon): total 10, A 4, B 5, bottom 1, 2, 3, 4.
BASE_AGG = np.array([[10.0], [4.0], [5.0]])
BASE_BOTTOM = np.array([[1.0], [2.0], [3.0], [4.0]])


def _small():
    bottom = pd.DataFrame({"segment_id": ["S1", "S2", "S1", "S2"], "sku": ["A", "A", "B", "B"]})
    return hierarchy(bottom, [(), ("sku",)])


def _grid(n_sku, n_seg, extra_grouping=False):
    frame = pd.DataFrame(
        [(f"S{s}", f"K{k:03d}") for k in range(n_sku) for s in range(n_seg)], columns=["segment_id", "sku"]
    )
    groupings = [(), ("sku",), ("segment_id",)] if extra_grouping else [(), ("sku",)]
    return hierarchy(frame, groupings)


def _all_methods(h, base_agg, base_bottom, variances):
    proportions = np.full(h.n_bottom, 1.0 / h.n_bottom)
    return {
        m: reconcile(h, base_agg, base_bottom, m, variances=variances, proportions=proportions) for m in DEFAULT_METHODS
    }


def test_hierarchy_keys_and_matrix():
    h = _small()
    assert h.aggregates.to_dict("list") == {"level": ["total", "sku", "sku"], "key": ["all", "A", "B"]}
    np.testing.assert_array_equal(h.matrix.toarray(), [[1, 1, 1, 1], [1, 1, 0, 0], [0, 0, 1, 1]])
    assert h.total_row == 0 and h.levels == ("total", "sku") and h.bottom_level == "segment_id/sku"
    assert (h.n_agg, h.n_bottom) == (3, 4)
    # bottom row order is the caller's; keys sorted within a grouping; two-column groupings joined by "/"
    frame = pd.DataFrame({"segment_id": ["S2", "S1", "S1"], "sku": ["B", "B", "A"], "wh": ["W1", "W1", "W2"]})
    g = hierarchy(frame, {"everything": (), "by_wh_sku": ("wh", "sku")}, key_columns=["segment_id", "sku"])
    assert g.aggregates["key"].tolist() == ["all", "W1/B", "W2/A"]
    np.testing.assert_array_equal(g.matrix.toarray(), [[1, 1, 1], [1, 1, 0], [0, 0, 1]])
    assert g.total_row == 0 and g.bottom["segment_id"].tolist() == ["S2", "S1", "S1"]
    # a categorical column with an unused category adds no empty aggregate
    cat = frame.assign(sku=pd.Categorical(frame["sku"], categories=["Z", "B", "A"]))
    c = hierarchy(cat, [(), ("sku",)], key_columns=["segment_id", "sku"])
    assert c.aggregates["key"].tolist() == ["all", "B", "A"]  # category order
    np.testing.assert_array_equal(c.matrix.toarray(), [[1, 1, 1], [1, 1, 0], [0, 0, 1]])


def test_hierarchy_rejects_bad_input_naming_it():
    ok = pd.DataFrame({"segment_id": ["S1", "S2"], "sku": ["A", "A"]})
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['warehouse'\]"):
        hierarchy(ok, [(), ("warehouse",)])
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['segment'\]"):
        hierarchy(ok, [()], key_columns=["segment", "sku"])
    dup = pd.DataFrame({"segment_id": ["S1", "S2", "S1"], "sku": ["A", "A", "A"]})
    with pytest.raises(ValueError, match=r"duplicate bottom keys .*\['S1', 'A'\] at rows \[0, 2\]"):
        hierarchy(dup, [()])
    with pytest.raises(ValueError, match=r"column 'sku' is empty at row\(s\) \[1\]"):
        hierarchy(pd.DataFrame({"segment_id": ["S1", "S2"], "sku": ["A", None]}), [()])
    with pytest.raises(ValueError, match=r"not the string 'sku'"):
        hierarchy(ok, [(), "sku"])
    with pytest.raises(ValueError, match="listed twice"):
        hierarchy(ok, [(), ("sku",), ("sku",)])
    with pytest.raises(ValueError, match="no rows"):
        hierarchy(ok.iloc[:0], [()])


def test_bottom_up_and_top_down_by_hand():
    h = _small()
    up = reconcile(h, BASE_AGG, BASE_BOTTOM, BOTTOM_UP)
    np.testing.assert_array_equal(up.bottom, BASE_BOTTOM)
    np.testing.assert_array_equal(up.agg, [[10.0], [3.0], [7.0]])  # 1+2+3+4, 1+2, 3+4
    # top-down: total 10 × proportions (0.1, 0.3, 0.2, 0.4) -> 1, 3, 2, 4; A = 4, B = 6
    down = reconcile(h, BASE_AGG, BASE_BOTTOM, TOP_DOWN, proportions=[0.1, 0.3, 0.2, 0.4])
    np.testing.assert_allclose(down.bottom, [[1.0], [3.0], [2.0], [4.0]], atol=1e-12)
    np.testing.assert_allclose(down.agg, [[10.0], [4.0], [6.0]], atol=1e-12)


def test_ols_by_hand():
    """C ŷ = agg − A·bottom = (10 − 10, 4 − 3, 5 − 7) = (0, 1, −2); C Cᵀ = I + A Aᵀ =
    [[5,2,2],[2,3,0],[2,0,3]]. Solving gives λ = (2/7, 1/7, −6/7); the bottom moves by
    Aᵀλ: +3/7 for SKU A's series, −4/7 for B's -> 10/7, 17/7, 17/7, 24/7; aggregates
    total 68/7, A 27/7, B 41/7."""
    result = reconcile(_small(), BASE_AGG, BASE_BOTTOM, OLS)
    np.testing.assert_allclose(result.bottom[:, 0], np.array([10, 17, 17, 24]) / 7, atol=1e-12)
    np.testing.assert_allclose(result.agg[:, 0], np.array([68, 27, 41]) / 7, atol=1e-12)
    assert result.clipped == 0


def test_mint_wls_trusts_low_variance_series():
    h = _small()
    # A tiny variance on the SKU A aggregate: it keeps its base forecast 4.
    tiny_a = reconcile(h, BASE_AGG, BASE_BOTTOM, MINT_WLS, variances=[1, 1e-10, 1, 1, 1, 1, 1])
    assert tiny_a.agg[1, 0] == pytest.approx(4.0, abs=1e-8)
    assert abs(reconcile(h, BASE_AGG, BASE_BOTTOM, OLS).agg[1, 0] - 4.0) > 0.1  # OLS moves it
    # A variance of 0 (or NaN) is floored (sd 0.1 % of its forecast): still nearly kept.
    floored = reconcile(h, BASE_AGG, BASE_BOTTOM, MINT_WLS, variances=[1, 0.0, 1, 1, 1, 1, np.nan])
    assert floored.agg[1, 0] == pytest.approx(4.0, abs=1e-4)
    assert floored.bottom[3, 0] == pytest.approx(4.0, abs=1e-4)  # the NaN variance, floored alike
    # Very noisy bottom: the aggregates are reconciled among themselves (total = A + B,
    # unit weights: incoherence 10 − 9 = 1 split in thirds -> 29/3, 13/3, 16/3) and each
    # SKU's change is split equally over its two series: A (1, 2) + 2/3 each, B (3, 4) − 5/6 each.
    noisy = reconcile(h, BASE_AGG, BASE_BOTTOM, MINT_WLS, variances=[1, 1, 1, 1e9, 1e9, 1e9, 1e9])
    np.testing.assert_allclose(noisy.agg[:, 0], [29 / 3, 13 / 3, 16 / 3], atol=1e-6)
    np.testing.assert_allclose(noisy.bottom[:, 0], [5 / 3, 8 / 3, 13 / 6, 19 / 6], atol=1e-6)
    # Very noisy aggregates: bottom-up.
    trusted_bottom = reconcile(h, BASE_AGG, BASE_BOTTOM, MINT_WLS, variances=[1e9, 1e9, 1e9, 1, 1, 1, 1])
    np.testing.assert_allclose(trusted_bottom.bottom, BASE_BOTTOM, atol=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_mint_wls_equals_textbook_projection(seed):
    """Constraint form ŷ − W Cᵀ(C W Cᵀ)⁻¹C ŷ = S (Sᵀ W⁻¹ S)⁻¹ Sᵀ W⁻¹ ŷ (dense), grouped hierarchy."""
    rng = np.random.default_rng(seed)
    h = _grid(int(rng.integers(2, 6)), int(rng.integers(2, 5)), extra_grouping=True)
    horizons = 3
    truth = rng.uniform(50, 100, (h.n_bottom, horizons))
    base_bottom = truth + rng.normal(0, 3, truth.shape)
    base_agg = h.matrix @ truth + rng.normal(0, 5, (h.n_agg, horizons))
    variances = rng.uniform(0.5, 20, h.n_agg + h.n_bottom)
    result = reconcile(h, base_agg, base_bottom, MINT_WLS, variances=variances)
    assert result.clipped == 0
    s = np.vstack([h.matrix.toarray(), np.eye(h.n_bottom)])
    w_inv = np.diag(1 / variances)
    textbook = s @ np.linalg.solve(s.T @ w_inv @ s, s.T @ w_inv @ np.vstack([base_agg, base_bottom]))
    np.testing.assert_allclose(np.vstack([result.agg, result.bottom]), textbook, rtol=0, atol=1e-9)
    ols = reconcile(h, base_agg, base_bottom, OLS)
    textbook_ols = s @ np.linalg.solve(s.T @ s, s.T @ np.vstack([base_agg, base_bottom]))
    np.testing.assert_allclose(np.vstack([ols.agg, ols.bottom]), textbook_ols, rtol=0, atol=1e-9)


def test_clipping_by_hand():
    """Base total 10, A 0, B 5, bottom 0, 2, 3, 4. OLS: C ŷ = (1, −2, −2), λ = (11/7, −12/7,
    −12/7), every bottom series moves by −1/7 -> (−1/7, 13/7, 20/7, 27/7). The −1/7 is
    clipped to 0 and the aggregates summed again: A 13/7, B 47/7, total 60/7 (60/7, not the
    unclipped 59/7: clipping raises the aggregates above it)."""
    result = reconcile(_small(), [[10.0], [0.0], [5.0]], [[0.0], [2.0], [3.0], [4.0]], OLS)
    assert result.clipped == 1
    np.testing.assert_allclose(result.bottom[:, 0], np.array([0, 13, 20, 27]) / 7, atol=1e-12)
    np.testing.assert_allclose(result.agg[:, 0], np.array([60, 13, 47]) / 7, atol=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_every_method_is_coherent_and_non_negative(seed):
    rng = np.random.default_rng(100 + seed)
    h = _grid(int(rng.integers(1, 9)), int(rng.integers(1, 7)), extra_grouping=bool(seed % 2))
    horizons = int(rng.integers(1, 9))
    # intermittent bottom, biased aggregates: OLS / MinT push many bottom cells below 0
    base_bottom = rng.poisson(1.0, (h.n_bottom, horizons)).astype(float)
    base_agg = (h.matrix @ base_bottom) * rng.uniform(0.2, 1.8, (h.n_agg, horizons))
    variances = rng.uniform(0, 10, h.n_agg + h.n_bottom)
    for method, result in _all_methods(h, base_agg, base_bottom, variances).items():
        assert coherence_error(h, result.agg, result.bottom) <= 1e-9, method
        assert (result.bottom >= 0).all(), method
        assert result.agg.shape == (h.n_agg, horizons) and result.bottom.shape == (h.n_bottom, horizons)


def test_clipping_happens_in_random_cases_and_stays_coherent():
    clipped = 0
    for seed in range(8):
        rng = np.random.default_rng(100 + seed)
        h = _grid(6, 5)
        base_bottom = rng.poisson(1.0, (h.n_bottom, 4)).astype(float)
        base_agg = (h.matrix @ base_bottom) * rng.uniform(0.2, 1.8, (h.n_agg, 4))
        result = reconcile(h, base_agg, base_bottom, OLS)
        assert coherence_error(h, result.agg, result.bottom) <= 1e-9
        clipped += result.clipped
    assert clipped > 0


def test_demo_sized_hierarchy():
    """150 SKUs × 22 segments, 8 horizons: coherent, MinT between the base aggregates and bottom-up."""
    rng = np.random.default_rng(7)
    h = _grid(150, 22)
    assert (h.n_agg, h.n_bottom) == (151, 3300)
    truth = rng.gamma(2.0, 3.0, (h.n_bottom, 1)) * np.ones((1, 8))
    base_bottom = np.maximum(truth + rng.normal(0, 2, truth.shape), 0)
    base_agg = (h.matrix @ truth) * rng.normal(1, 0.02, (h.n_agg, 8))
    variances = np.r_[np.full(h.n_agg, 30.0), np.full(h.n_bottom, 4.0)]
    result = reconcile(h, base_agg, base_bottom, MINT_WLS, variances=variances)
    assert coherence_error(h, result.agg, result.bottom) <= 1e-9
    truth_agg = h.matrix @ truth
    bottom_up_error = np.abs(h.matrix @ base_bottom - truth_agg).sum()
    assert np.abs(result.agg - truth_agg).sum() < bottom_up_error


def test_reconcile_rejects_bad_input_naming_it():
    h = _small()
    with pytest.raises(ValueError, match=r"base_agg must be 3 series × horizons"):
        reconcile(h, [10.0, 4.0, 5.0], BASE_BOTTOM, BOTTOM_UP)
    with pytest.raises(ValueError, match=r"base_bottom has NaN .* row 2 \(segment_id=S1, sku=B\)"):
        reconcile(h, BASE_AGG, [[1.0], [2.0], [np.nan], [4.0]], BOTTOM_UP)
    with pytest.raises(ValueError, match=r"base_agg has NaN .* row 1 \(sku=A\)"):
        reconcile(h, [[10.0], [np.inf], [5.0]], BASE_BOTTOM, BOTTOM_UP)
    with pytest.raises(ValueError, match="horizons"):
        reconcile(h, np.ones((3, 2)), BASE_BOTTOM, BOTTOM_UP)
    with pytest.raises(ValueError, match="unknown reconciliation method 'mint_shrink'"):
        reconcile(h, BASE_AGG, BASE_BOTTOM, "mint_shrink")
    with pytest.raises(ValueError, match="needs proportions"):
        reconcile(h, BASE_AGG, BASE_BOTTOM, TOP_DOWN)
    with pytest.raises(ValueError, match="sum to 1, they sum to 0.9"):
        reconcile(h, BASE_AGG, BASE_BOTTOM, TOP_DOWN, proportions=[0.2, 0.2, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"≥ 0: -0.1 at bottom row 0"):
        reconcile(h, BASE_AGG, BASE_BOTTOM, TOP_DOWN, proportions=[-0.1, 0.3, 0.4, 0.4])
    with pytest.raises(ValueError, match="needs variances"):
        reconcile(h, BASE_AGG, BASE_BOTTOM, MINT_WLS)
    with pytest.raises(ValueError, match=r"one value per series .*7"):
        reconcile(h, BASE_AGG, BASE_BOTTOM, MINT_WLS, variances=np.ones(4))
    no_total = hierarchy(h.bottom, [("sku",)])
    with pytest.raises(ValueError, match=r"top_down needs a total"):
        reconcile(no_total, np.ones((2, 1)), BASE_BOTTOM, TOP_DOWN, proportions=np.full(4, 0.25))


def test_historical_proportions_average_of_weekly_shares():
    # weeks with demand: (1/4, 3/4) and (6/8, 2/8) -> (0.5, 0.5); the empty week is skipped.
    # (The proportion of sums would give 7/12, 5/12.)
    np.testing.assert_allclose(historical_proportions([[1, 0, 6], [3, 0, 2]]), [0.5, 0.5])
    np.testing.assert_allclose(historical_proportions(np.zeros((4, 3))), np.full(4, 0.25))
    shares = historical_proportions(np.random.default_rng(1).poisson(0.7, (30, 20)))
    assert shares.sum() == pytest.approx(1.0, abs=1e-12) and (shares >= 0).all()
    with pytest.raises(ValueError, match=r"-1 at series 1, week 0"):
        historical_proportions([[1, 2], [-1, 0]])
    with pytest.raises(ValueError, match="n_bottom × T"):
        historical_proportions([1, 2, 3])


def test_shift_bounds_moves_intervals_and_clips():
    point = np.array([10.0, 10.0, 10.0, 10.0])
    lower = np.array([6.0, 6.0, 6.0, 12.0])  # the last base lower is above its point
    upper = np.array([15.0, 15.0, 15.0, 15.0])
    new = np.array([7.0, 2.0, 20.0, 10.0])
    low, high = shift_bounds(point, lower, upper, new)
    np.testing.assert_allclose(low, [3.0, 0.0, 16.0, 10.0])  # 6 − 8 = −2 -> 0; 12 -> point 10
    np.testing.assert_allclose(high, [12.0, 7.0, 25.0, 15.0])
    assert (low <= new).all() and (new <= high).all() and (low >= 0).all()
    with pytest.raises(ValueError, match="upper has shape"):
        shift_bounds(point, lower, upper[:2], new)
    with pytest.raises(ValueError, match="negative"):
        shift_bounds(point, lower, upper, -new)


def _origin(h, actual_bottom, base_bottom, base_agg, *, actual_agg=None, variances=None, proportions=None, label=""):
    return BacktestOrigin(
        hierarchy=h,
        base_agg=base_agg,
        base_bottom=base_bottom,
        actual_agg=h.matrix @ actual_bottom if actual_agg is None else actual_agg,
        actual_bottom=actual_bottom,
        variances=np.ones(h.n_agg + h.n_bottom) if variances is None else variances,
        proportions=np.full(h.n_bottom, 1.0 / h.n_bottom) if proportions is None else proportions,
        label=label,
    )


def test_choose_method_bottom_up_when_bottom_is_perfect_and_aggregates_biased():
    rng = np.random.default_rng(3)
    past = []
    for n_sku in (3, 4, 4):  # series appear between origins: each record has its own hierarchy
        h = _grid(n_sku, 2)
        actual = rng.gamma(2.0, 5.0, (h.n_bottom, 4))
        past.append(_origin(h, actual, actual.copy(), 1.3 * (h.matrix @ actual)))
    choice = choose_method(past)
    assert choice.method == BOTTOM_UP
    assert choice.scores[BOTTOM_UP] == 0.0
    assert all(choice.scores[m] > 0.01 for m in (TOP_DOWN, OLS, MINT_WLS))
    assert set(choice.level_wape[OLS]) == {"total", "sku", "segment_id/sku"}
    assert "bottom_up" in choice.reason and "3 origin(s)" in choice.reason


def test_choose_method_top_down_or_mint_when_aggregates_are_right_and_bottom_noisy():
    rng = np.random.default_rng(4)
    h = _grid(5, 3)
    shares = rng.dirichlet(np.ones(h.n_bottom))
    past_fixed_shares, past_noisy = [], []
    variances = np.r_[np.full(h.n_agg, 1e-4), np.full(h.n_bottom, 25.0)]
    for _ in range(3):
        totals = rng.uniform(200, 300, 4)
        actual = shares[:, None] * totals[None, :]  # fixed shares: top-down with them is exact
        base_bottom = np.maximum(actual + rng.normal(0, 5, actual.shape), 0)
        base_agg = h.matrix @ actual
        past_fixed_shares.append(_origin(h, actual, base_bottom, base_agg, proportions=shares))
        past_noisy.append(_origin(h, actual, base_bottom, base_agg, variances=variances))
    choice = choose_method(past_fixed_shares)
    assert choice.method == TOP_DOWN and choice.scores[TOP_DOWN] == pytest.approx(0.0, abs=1e-12)
    # equal (wrong) proportions: MinT, which trusts the exact aggregates, beats bottom-up
    noisy = choose_method(past_noisy)
    assert noisy.method == MINT_WLS
    assert noisy.scores[MINT_WLS] < noisy.scores[OLS] < noisy.scores[BOTTOM_UP]


def test_choose_method_ties_and_empty_history():
    h = _small()
    actual = np.array([[1.0, 2.0], [2.0, 0.0], [3.0, 1.0], [4.0, 5.0]])
    perfect = [_origin(h, actual, actual.copy(), h.matrix @ actual)]  # coherent and exact
    assert choose_method(perfect).method == BOTTOM_UP  # bottom_up, ols, mint_wls all score 0
    assert choose_method(perfect, methods=(OLS, BOTTOM_UP)).method == OLS
    empty = choose_method([])
    assert (empty.method, empty.scores) == (BOTTOM_UP, {}) and "no past origin" in empty.reason
    zeros = np.zeros((4, 2))
    silent = choose_method([_origin(h, zeros, zeros + 1.0, np.ones((3, 2)))])
    assert (silent.method, silent.scores) == (BOTTOM_UP, {}) and "no demand" in silent.reason


def test_choose_method_level_wape_by_hand():
    """One origin, one horizon, actual bottom 1, 2, 3, 4 (A 3, B 7, total 10); bottom-up of
    base bottom 2, 2, 3, 4: bottom WAPE 1/10, SKU WAPE 1/10, total 1/10 -> score 0.1.
    actual_agg may differ from A·actual_bottom (demand of a new series): total 12 here, so the
    total's WAPE is |11 − 12| / 12."""
    h = _small()
    actual = BASE_BOTTOM
    record = _origin(h, actual, [[2.0], [2.0], [3.0], [4.0]], BASE_AGG, actual_agg=[[12.0], [3.0], [7.0]])
    choice = choose_method([record], methods=(BOTTOM_UP,))
    assert choice.level_wape[BOTTOM_UP] == pytest.approx({"total": 1 / 12, "sku": 1 / 10, "segment_id/sku": 1 / 10})
    assert choice.scores[BOTTOM_UP] == pytest.approx((1 / 12 + 0.1 + 0.1) / 3)


def test_choose_method_rejects_bad_records():
    h = _small()
    actual = BASE_BOTTOM
    no_variances = BacktestOrigin(
        h, BASE_AGG, BASE_BOTTOM, h.matrix @ actual, actual, proportions=np.full(4, 0.25), label="2024-W10"
    )
    with pytest.raises(ValueError, match="origin 2024-W10, method mint_wls: mint_wls needs variances"):
        choose_method([no_variances])
    short = _origin(h, actual, BASE_BOTTOM, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"origin #0: .* same horizons"):
        choose_method([short])
    with pytest.raises(ValueError, match="methods must be distinct"):
        choose_method([], methods=(OLS, OLS))
    with pytest.raises(ValueError, match="methods must be distinct, among"):
        choose_method([], methods=("mint_shrink",))
