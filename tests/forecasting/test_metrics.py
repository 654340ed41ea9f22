"""Accuracy and bias metrics on hand-computed numbers, edge cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from restock.forecasting.metrics import (
    interval_coverage,
    is_out_of_control,
    mase,
    relative_bias,
    relative_bias_from_sums,
    rmsse,
    tracking_signal,
    tracking_signal_from_sums,
    wape,
    wape_from_sums,
)


def test_wape_by_hand():
    # |3-2| + |1-0| + |2-4| = 4; sum |y| = 6 -> 4/6
    assert wape([2, 0, 4], [3, 1, 2]) == pytest.approx(2 / 3)
    assert wape([2, 0, 4], [2, 0, 4]) == 0.0


def test_wape_is_nan_without_demand():
    assert math.isnan(wape([0, 0, 0], [1, 0, 2]))


def test_mase_by_hand():
    # in-sample naive errors |3-1|, |2-3|, |5-2| = 2, 1, 3 -> Q = 2
    # out-of-sample MAE = (|5-4| + |3-6|) / 2 = 2 -> MASE = 2 / 2 = 1
    assert mase([4, 6], [5, 3], insample=[1, 3, 2, 5]) == pytest.approx(1.0)


def test_mase_scale_comes_from_the_training_data_not_the_test_actuals():
    # in-sample naive errors on [0, 1, 0, 1, 0]: 1, 1, 1, 1 -> Q = 1
    # test MAE = (1 + 1 + 1) / 3 = 1 -> MASE = 1.
    # The known bug (naive differences of the test actuals: |20-10|, |30-20| = 10)
    # would give 0.1.
    insample = [0, 1, 0, 1, 0]
    assert mase([10, 20, 30], [9, 19, 31], insample) == pytest.approx(1.0)
    # Same errors on a flat test window: still 1 (the buggy scale would be 0 -> inf/NaN)
    assert mase([10, 10, 10], [9, 9, 11], insample) == pytest.approx(1.0)


def test_mase_seasonal_by_hand():
    # season 2 on [1, 5, 2, 7, 4, 7]: |2-1|, |7-5|, |4-2|, |7-7| = 1, 2, 2, 0 -> Q = 5/4
    # test MAE = (0 + 2) / 2 = 1 -> 1 / 1.25 = 0.8
    assert mase([3, 3], [3, 5], insample=[1, 5, 2, 7, 4, 7], season=2) == pytest.approx(0.8)


def test_mase_edge_cases():
    assert math.isnan(mase([1, 2], [1, 1], insample=[3, 3, 3]))  # constant history: Q = 0
    with pytest.raises(ValueError, match="more than season"):
        mase([1], [1], insample=[1, 2], season=2)
    with pytest.raises(ValueError, match="season"):
        mase([1], [1], insample=[1, 2, 3], season=0)


def test_rmsse_by_hand():
    # in-sample [0, 0, 2, 4, 1]: from the first non-zero -> [2, 4, 1]
    # squared naive errors (4-2)^2, (1-4)^2 = 4, 9 -> Q = 6.5
    # (counting the leading zeros would give (0 + 4 + 4 + 9) / 4 = 4.25 instead)
    # test MSE = ((3-1)^2 + 0^2) / 2 = 2 -> sqrt(2 / 6.5)
    assert rmsse([1, 2], [3, 2], insample=[0, 0, 2, 4, 1]) == pytest.approx(math.sqrt(2 / 6.5))


def test_rmsse_undefined_cases_are_nan():
    assert math.isnan(rmsse([1], [1], insample=[0, 0, 0]))  # never sold
    assert math.isnan(rmsse([1], [1], insample=[0, 0, 3]))  # no difference after the first sale
    assert math.isnan(rmsse([1], [2], insample=[0, 2, 2, 2]))  # Q = 0


def test_bias_sign_convention_positive_is_over_forecast():
    # errors = forecast - actual = 1, 1, 1; relative 3 / (2+0+4) = 0.5
    assert relative_bias([2, 0, 4], [3, 1, 5]) == pytest.approx(0.5)
    assert relative_bias([2, 0, 4], [1, 0, 3]) == pytest.approx(-2 / 6)
    assert math.isnan(relative_bias([0, 0], [1, 1]))


def test_tracking_signal_by_hand():
    # six errors of +1: sum 6 / MAD 1 = 6 -> out of control beyond 4
    assert tracking_signal([1] * 6) == pytest.approx(6.0)
    # 1 + 1 + 1 - 1 = 2; MAD = 1 -> 2
    assert tracking_signal([1, 1, 1, -1]) == pytest.approx(2.0)
    # alternating errors cancel: 0
    assert tracking_signal([2, -2, 2, -2]) == 0.0
    # a perfect forecast has no bias
    assert tracking_signal([0, 0, 0]) == 0.0


def test_is_out_of_control_threshold():
    assert not is_out_of_control(4.0, limit=4.0)  # strictly beyond the limit
    assert is_out_of_control(4.01, limit=4.0)
    assert is_out_of_control(-5.0, limit=4.0)
    assert not is_out_of_control(float("nan"), limit=4.0)
    assert is_out_of_control(2.5, limit=2.0)
    np.testing.assert_array_equal(is_out_of_control([3.0, -4.5, 6.0], limit=4.0), [False, True, True])
    with pytest.raises(ValueError, match="limit must be positive"):
        is_out_of_control(1.0, limit=0)


@pytest.mark.parametrize(
    "actual, forecast, message",
    [
        ([1, 2], [1], "lengths differ"),
        ([1, np.nan], [1, 2], "NaN"),
        ([], [], "empty"),
    ],
)
def test_invalid_inputs_raise(actual, forecast, message):
    with pytest.raises(ValueError, match=message):
        wape(actual, forecast)


pairs = st.integers(min_value=1, max_value=30).flatmap(
    lambda n: st.tuples(
        st.lists(st.floats(0, 1e4), min_size=n, max_size=n),
        st.lists(st.floats(0, 1e4), min_size=n, max_size=n),
    )
)


@settings(deadline=None)
@given(pair=pairs, scale=st.floats(min_value=1e-3, max_value=1e3))
def test_wape_is_scale_invariant(pair, scale):
    actual, forecast = (np.array(values) for values in pair)
    assume(actual.sum() > 1e-6)
    assert wape(actual * scale, forecast * scale) == pytest.approx(wape(actual, forecast), rel=1e-9)


@settings(deadline=None)
@given(pair=pairs)
def test_relative_bias_is_bounded_by_wape(pair):
    actual, forecast = (np.array(values) for values in pair)
    assume(actual.sum() > 1e-6)
    assert abs(relative_bias(actual, forecast)) <= wape(actual, forecast) * (1 + 1e-9)


@settings(deadline=None)
@given(errors=st.lists(st.floats(-1e4, 1e4), min_size=1, max_size=40))
def test_tracking_signal_is_bounded_by_the_number_of_periods(errors):
    assert abs(tracking_signal(errors)) <= len(errors) * (1 + 1e-9)


# --------------------------------------------------------------------------- from sums (many groups at once)


def test_the_sum_forms_are_the_scalar_metrics_of_each_group():
    rng = np.random.default_rng(3)
    groups = [rng.poisson(4, n).astype(float) for n in (1, 5, 13)] + [np.zeros(4)]
    forecasts = [g + rng.normal(0, 2, g.size) for g in groups[:-1]] + [np.zeros(4)]
    abs_error = np.array([np.abs(f - y).sum() for y, f in zip(groups, forecasts, strict=True)])
    error = np.array([(f - y).sum() for y, f in zip(groups, forecasts, strict=True)])
    abs_actual = np.array([np.abs(y).sum() for y in groups])
    n = np.array([y.size for y in groups])
    got_wape = wape_from_sums(abs_error, abs_actual)
    got_bias = relative_bias_from_sums(error, abs_actual)
    got_ts = tracking_signal_from_sums(error, abs_error, n)
    for i, (y, f) in enumerate(zip(groups, forecasts, strict=True)):
        np.testing.assert_equal(got_wape[i], wape(y, f))  # NaN where nothing was demanded
        np.testing.assert_equal(got_bias[i], relative_bias(y, f))
        assert got_ts[i] == pytest.approx(tracking_signal(f - y), rel=1e-15)
    assert got_ts[-1] == 0.0, "every error 0: no bias"


def test_the_sum_forms_refuse_what_the_scalar_ones_refuse():
    with pytest.raises(ValueError, match="at least 1 period"):
        tracking_signal_from_sums([1.0], [1.0], [0])
    with pytest.raises(ValueError, match="finite sums"):
        tracking_signal_from_sums([np.nan], [1.0], [2])
    with pytest.raises(ValueError, match="different shapes"):
        wape_from_sums([1.0, 2.0], [1.0])


def test_interval_coverage_by_hand():
    # 5 inside [4, 6], 6 on the upper bound (inside), 3 below, 7 above -> 2 of 4
    assert interval_coverage([5, 6, 3, 7], [4, 4, 4, 4], [6, 6, 6, 6]) == 0.5
    assert interval_coverage([0, 0], [0, 0], [0, 1]) == 1.0  # a zero week inside [0, 0]
    with pytest.raises(ValueError, match="lengths differ"):
        interval_coverage([1, 2], [0], [3, 3])
