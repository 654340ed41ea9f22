"""Croston, SBA, TSB and ADIDA on hand-computed series, edge cases and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from restock.forecasting.intermittent import (
    IntermittentForecast,
    adida,
    croston,
    sba,
    select_alpha,
    tsb,
)

NAN = np.nan
METHODS = (croston, sba, tsb, adida)


def test_croston_by_hand():
    # y = [0, 0, 3, 0, 5, 0, 0, 4], alpha 0.1.
    # init at first demand (t=2): z = 3, p = 2 + 1 = 3 -> rate 1.0; fitted NaN for t <= 2
    # t=4: y=5, q = 4-2 = 2: z = 3 + 0.1*(5-3) = 3.2, p = 3 + 0.1*(2-3) = 2.9
    # t=7: y=4, q = 7-4 = 3: z = 3.2 + 0.1*(4-3.2) = 3.28, p = 2.9 + 0.1*(3-2.9) = 2.91
    result = croston([0, 0, 3, 0, 5, 0, 0, 4], h=3, alpha=0.1)
    np.testing.assert_allclose(result.point, [3.28 / 2.91] * 3)
    np.testing.assert_allclose(result.fitted, [NAN, NAN, NAN, 1.0, 1.0, 3.2 / 2.9, 3.2 / 2.9, 3.2 / 2.9])
    assert result.method == "croston"
    assert result.params == {"alpha": 0.1}


def test_sba_by_hand():
    # SBA = Croston * (1 - 0.1/2) = 3.28/2.91 * 0.95
    result = sba([0, 0, 3, 0, 5, 0, 0, 4], h=2, alpha=0.1)
    np.testing.assert_allclose(result.point, [3.28 / 2.91 * 0.95] * 2)
    np.testing.assert_allclose(result.fitted[3], 0.95)


def test_tsb_by_hand():
    # y = [0, 2, 0, 4], alpha_size = alpha_probability = 0.5
    # init at t=1: z = 2, d = 1/(1+1) = 0.5
    # t=2: fitted 0.5*2 = 1.0; no demand: d = 0.5 + 0.5*(0-0.5) = 0.25
    # t=3: fitted 0.25*2 = 0.5; demand: d = 0.25 + 0.5*(1-0.25) = 0.625, z = 2 + 0.5*(4-2) = 3
    # point = 0.625 * 3 = 1.875
    result = tsb([0, 2, 0, 4], h=2, alpha_size=0.5, alpha_probability=0.5)
    np.testing.assert_allclose(result.point, [1.875, 1.875])
    np.testing.assert_allclose(result.fitted, [NAN, NAN, 1.0, 0.5])


def test_adida_by_hand():
    # y = [9 | 2 0 | 1 3 | 0 0 | 6 0], k = 2: 9 % 2 = 1 oldest period dropped
    # bucket totals 2, 4, 0, 6; SES alpha 0.5, level starts at 2
    # j=1: forecast 2, L = 2 + 0.5*(4-2) = 3
    # j=2: forecast 3, L = 3 + 0.5*(0-3) = 1.5
    # j=3: forecast 1.5, L = 1.5 + 0.5*(6-1.5) = 3.75 -> per period 3.75/2 = 1.875
    result = adida([9, 2, 0, 1, 3, 0, 0, 6, 0], h=4, alpha=0.5, bucket_size=2)
    np.testing.assert_allclose(result.point, [1.875] * 4)
    np.testing.assert_allclose(result.fitted, [NAN, NAN, NAN, 1.0, 1.0, 1.5, 1.5, 0.75, 0.75])
    assert result.params == {"alpha": 0.5, "bucket_size": 2}


def test_adida_default_bucket_is_rounded_adi():
    # demands at t = 1, 4, 8: intervals 3, 4 -> ADI 3.5 -> rounded half up to 4
    assert adida([0, 3, 0, 0, 2, 0, 0, 0, 4]).params["bucket_size"] == 4
    # one demand: ADI = series length -> a single bucket of the whole series (5/5 = 1)
    result = adida([0, 0, 5, 0, 0])
    assert result.params["bucket_size"] == 5
    np.testing.assert_allclose(result.point, [1.0])


@pytest.mark.parametrize("method", METHODS)
def test_all_zeros_forecast_zero(method):
    result = method(np.zeros(6), h=3)
    np.testing.assert_array_equal(result.point, [0.0, 0.0, 0.0])
    assert result.fitted.shape == (6,)


@pytest.mark.parametrize("method", (croston, sba, tsb))
def test_fitted_is_nan_until_first_demand(method):
    result = method([0, 0, 0, 7, 0, 1])
    assert np.isnan(result.fitted[:4]).all()
    assert np.isfinite(result.fitted[4:]).all()


def test_single_non_zero():
    # z = 6, p = 2 + 1 = 3 -> 2 per period; Croston's rate ignores trailing zeros
    result = croston([0, 0, 6, 0])
    np.testing.assert_allclose(result.point, [2.0])
    np.testing.assert_allclose(result.fitted, [NAN, NAN, NAN, 2.0])
    # TSB: d = 1/3 then one zero: d = 1/3 * 0.9 = 0.3; point = 0.3 * 6 = 1.8
    np.testing.assert_allclose(tsb([0, 0, 6, 0]).point, [1.8])
    # a series of one period
    np.testing.assert_allclose(croston([4]).point, [4.0])


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    "bad, message",
    [
        ([1.0, np.nan, 2.0], "NaN"),
        ([1.0, -1.0, 2.0], "non-negative"),
        ([1.0, np.inf], "infinite"),
        ([], "empty"),
        ([[1.0, 2.0]], "1-D"),
    ],
)
def test_invalid_demand_raises(method, bad, message):
    with pytest.raises(ValueError, match=message):
        method(bad)


@pytest.mark.parametrize("method", METHODS)
def test_invalid_horizon_raises(method):
    with pytest.raises(ValueError, match="horizon"):
        method([1, 0, 2], h=0)


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.5, np.nan])
def test_invalid_alpha_raises(alpha):
    with pytest.raises(ValueError, match="alpha"):
        croston([1, 0, 2], alpha=alpha)
    with pytest.raises(ValueError, match="alpha_probability"):
        tsb([1, 0, 2], alpha_probability=alpha)


def test_adida_bucket_size_checks():
    with pytest.raises(ValueError, match="exceeds"):
        adida([1, 0, 2], bucket_size=4)
    with pytest.raises(ValueError, match="positive integer"):
        adida([1, 0, 2], bucket_size=0)


def test_result_is_read_only():
    result = croston([1, 0, 2])
    assert isinstance(result, IntermittentForecast)
    with pytest.raises(ValueError):
        result.point[0] = 99.0


def test_select_alpha_follows_a_level_shift():
    # demand 1 per week, then 10 per week: the fastest-adapting alpha wins on MSE
    y = [1.0] * 20 + [10.0] * 20
    assert select_alpha(y, grid=(0.05, 0.1, 0.3)) == 0.3
    assert select_alpha(y, tsb, parameter="alpha_size", grid=(0.05, 0.3), loss="mae") == 0.3


def test_select_alpha_fallback_and_ties():
    assert select_alpha(np.zeros(8), fallback=0.12) == 0.12  # nothing to score
    # one demand: every alpha gives the same fitted values -> earliest grid value
    assert select_alpha([0, 5, 0, 0], grid=(0.2, 0.1)) == 0.2


demand_series = st.lists(st.one_of(st.just(0), st.integers(min_value=0, max_value=60)), min_size=1, max_size=60).map(
    lambda values: np.array(values, dtype=float)
)
alphas = st.floats(min_value=0.01, max_value=1.0)


@settings(deadline=None)
@given(y=demand_series, alpha=alphas, h=st.integers(min_value=1, max_value=5))
def test_forecasts_are_finite_non_negative_and_bounded(y, alpha, h):
    for result in (
        croston(y, h, alpha),
        sba(y, h, alpha),
        tsb(y, h, alpha, alpha),
        adida(y, h, alpha),
    ):
        assert result.point.shape == (h,)
        assert np.isfinite(result.point).all()
        assert (result.point >= 0).all()
        assert (result.point <= y.max() + 1e-9).all()  # a rate never exceeds the largest order
        assert result.fitted.shape == y.shape
        finite = result.fitted[np.isfinite(result.fitted)]
        assert (finite >= 0).all() and (finite <= y.max() + 1e-9).all()


@settings(deadline=None)
@given(y=demand_series, alpha=alphas)
def test_sba_is_croston_times_one_minus_half_alpha(y, alpha):
    expected, actual = croston(y, 3, alpha), sba(y, 3, alpha)
    np.testing.assert_array_equal(actual.point, expected.point * (1 - alpha / 2))
    np.testing.assert_array_equal(actual.fitted, expected.fitted * (1 - alpha / 2))


@settings(deadline=None)
@given(y=demand_series, alpha_probability=st.floats(min_value=0.05, max_value=1.0))
def test_tsb_decays_to_zero_after_a_long_run_of_zeros(y, alpha_probability):
    run = 300
    dying = np.concatenate((y, np.zeros(run)))
    point = tsb(dying, alpha_probability=alpha_probability).point[0]
    # probability <= (1 - alpha_p)^300 <= 0.95^300 ~ 2e-7, size <= max order
    assert point <= y.max() * (1 - alpha_probability) ** run + 1e-12
    assert point <= 1e-6 * max(y.max(), 1.0)
    # Croston, by contrast, keeps its last rate: trailing zeros are not intervals yet
    np.testing.assert_allclose(croston(dying).point, croston(y).point)
