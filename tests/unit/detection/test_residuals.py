"""Residual helpers: EWMA kernel, causal smoothing, side split and tail scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from forecaster.detection.errors import side_errors, smooth_errors, smoothing_kernel
from forecaster.detection.scores.tail import tail_scores

NAN = math.nan


def noisy_errors(n: int, seed: int = 0, nan_share: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(seed)
    errors = np.abs(rng.normal(size=n)) * rng.uniform(0.5, 3.0)
    errors[rng.random(n) < nan_share] = np.nan
    errors[:7] = np.nan  # warm-up without predictions
    return errors


def test_kernel_is_truncated_normalised_ewma_newest_last() -> None:
    # span 3 -> alpha 0.5: raw weights 0.125, 0.25, 0.5 -> / 0.875
    assert_allclose(smoothing_kernel(3, 3), [1 / 7, 2 / 7, 4 / 7], rtol=1e-15)
    kernel = smoothing_kernel(10, 50)
    assert kernel.shape == (50,)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-15)
    assert np.all(np.diff(kernel) > 0)
    assert kernel[-1] / kernel[-2] == pytest.approx(1 / (1 - 2 / 11))


def test_kernel_of_length_one_is_identity() -> None:
    assert_array_equal(smoothing_kernel(5, 1), [1.0])
    assert_array_equal(smooth_errors([1.0, 2.0, NAN, 4.0], 5, 1), [1.0, 2.0, NAN, 4.0])


@pytest.mark.parametrize(("span", "length"), [(0, 3), (3, 0)])
def test_kernel_rejects_bad_parameters(span: int, length: int) -> None:
    with pytest.raises(ValueError, match=r"span|length"):
        smoothing_kernel(span, length)


def test_smoothing_hand_computed() -> None:
    # weights 1/7, 2/7, 4/7 over [t-2, t-1, t]; before the array start counts as missing
    smoothed = smooth_errors([7.0, 0.0, 7.0, 14.0], span=3, length=3)
    assert_allclose(smoothed, [7.0, 7 / 3, 5.0, 10.0], rtol=1e-14)


def test_smoothing_skips_nan_and_needs_half_the_weight() -> None:
    # [nan, nan, 7]: weight 4/7 >= 1/2 -> 7; [7, nan, nan]: 1/7 -> NaN;
    # [7, 7, nan]: 3/7 -> NaN; [nan, 7, 14]: (2 + 8) / (6/7)
    smoothed = smooth_errors([NAN, NAN, 7.0, NAN, NAN, 7.0, 7.0, NAN, 7.0, 14.0], 3, 3)
    expected = [NAN, NAN, 7.0, NAN, NAN, 7.0, 7.0, NAN, 7.0, 70 / 6]
    assert_allclose(smoothed, expected, rtol=1e-14)


def test_smoothing_is_causal_and_finite_support() -> None:
    errors = noisy_errors(300, seed=3)
    smoothed = smooth_errors(errors, 10, 20)
    changed = errors.copy()
    changed[150] = 1e6
    after = smooth_errors(changed, 10, 20)
    assert_array_equal(after[:150], smoothed[:150])  # nothing earlier moves
    assert_array_equal(after[170:], smoothed[170:])  # and nothing after the kernel length
    assert np.all(after[150:170] != smoothed[150:170])


@pytest.mark.parametrize("cut", [1, 3, 17, 64, 1001, 4000])
def test_smoothing_is_bit_identical_with_less_history(cut: int) -> None:
    length = 50
    errors = noisy_errors(5000, seed=1)
    full = smooth_errors(errors, 10, length)
    part = smooth_errors(errors[cut:], 10, length)
    assert_array_equal(part[length - 1 :], full[cut + length - 1 :])


def test_smoothing_rejects_negative_infinite_and_2d_input() -> None:
    with pytest.raises(ValueError, match="nonnegative"):
        smooth_errors([1.0, -0.5], 3, 2)
    with pytest.raises(ValueError, match="infinite"):
        smooth_errors([1.0, math.inf], 3, 2)
    with pytest.raises(ValueError, match="1-D"):
        smooth_errors(np.ones((2, 2)), 3, 2)


def test_side_errors_split_and_keep_nan() -> None:
    high, low = side_errors([1.5, -2.0, 0.0, NAN, -0.0])
    assert_array_equal(high, [1.5, 0.0, 0.0, NAN, 0.0])
    assert_array_equal(low, [0.0, 2.0, 0.0, NAN, 0.0])
    assert not np.any(np.signbit(high[np.isfinite(high)]))
    assert not np.any(np.signbit(low[np.isfinite(low)]))


def test_tail_scores_hand_computed() -> None:
    # t=2: previous [1, 3] -> mean 2, std 1, z = -1 -> 0
    # t=3: previous [1, 3, 1] -> mean 5/3, std sqrt(8/9), z = sqrt(2) -> 2/3
    # t=4: previous [1, 3, 1, 3] -> mean 2, std 1, z = 3 -> 9/10
    scores = tail_scores([1.0, 3.0, 1.0, 3.0, 5.0], window=4, min_history=2)
    expected = [NAN, NAN, 0.0, 2 / 3, 0.9]
    assert_allclose(scores, expected, rtol=1e-12)


def test_tail_scores_use_only_the_window_and_skip_nan() -> None:
    # window 3 at t=5 sees [3, nan, 1]: mean 2, std 1, z = (4 - 2) / 1
    scores = tail_scores([100.0, 100.0, 3.0, NAN, 1.0, 4.0, NAN], window=3, min_history=2)
    assert scores[5] == pytest.approx(0.8, rel=1e-12)
    assert math.isnan(scores[6])  # no error, no score
    # t=4 sees [100, 3, nan]: two finite values, enough for min_history 2
    assert scores[4] == 0.0
    assert math.isnan(tail_scores([1.0, NAN, NAN, 5.0], window=2, min_history=1)[3])


def test_tail_scores_constant_history() -> None:
    scores = tail_scores([2.0] * 10 + [2.0], window=10, min_history=5)
    assert scores[10] == 0.0
    for larger in (3.0, 2.0 + 1e-6):
        assert tail_scores([2.0] * 10 + [larger], window=10, min_history=5)[10] > 0.99999
    zeros = tail_scores([0.0] * 6 + [0.0, 1e-3], window=6, min_history=5)
    assert zeros[6] == 0.0
    assert zeros[7] == 1.0


def test_tail_scores_are_in_unit_interval_and_high_for_a_spike() -> None:
    errors = smooth_errors(noisy_errors(3000, seed=5), 10, 50)
    errors[2000:2005] += 20.0
    scores = tail_scores(errors, window=500, min_history=100)
    finite = scores[np.isfinite(scores)]
    assert finite.size > 2500
    assert np.all((finite >= 0.0) & (finite <= 1.0))
    assert scores[2002] > 0.99
    assert scores[2002] > np.quantile(finite, 0.99)
    assert np.all(np.isnan(scores[:100]))


@pytest.mark.parametrize("cut", [1, 5, 333, 1500])
def test_tail_scores_are_bit_identical_with_less_history(cut: int) -> None:
    window = 400
    errors = smooth_errors(noisy_errors(4000, seed=2, nan_share=0.1), 10, 50)
    full = tail_scores(errors, window, 50)
    part = tail_scores(errors[cut:], window, 50)
    assert_array_equal(part[window:], full[cut + window :])


@pytest.mark.parametrize("start", [0, 1, 399, 400, 2500, 3960, 3999, 4000])
def test_tail_scores_from_a_start_are_bit_identical_and_skip_earlier_points(start: int) -> None:
    errors = smooth_errors(noisy_errors(4000, seed=3, nan_share=0.1), 10, 50)
    full = tail_scores(errors, 400, 50)
    part = tail_scores(errors, 400, 50, start=start)
    assert_array_equal(part[start:], full[start:])
    assert np.all(np.isnan(part[:start]))
    with pytest.raises(ValueError, match="start"):
        tail_scores(errors, 400, 50, start=4001)


@pytest.mark.parametrize(("window", "min_history"), [(0, 1), (5, 0), (5, 6)])
def test_tail_scores_reject_bad_parameters(window: int, min_history: int) -> None:
    with pytest.raises(ValueError, match=r"window|min_history"):
        tail_scores([1.0, 2.0], window, min_history)


def test_the_likelihood_of_a_recent_mean_under_the_history() -> None:
    from forecaster.detection.scores.likelihood import LikelihoodScorer

    rng = np.random.default_rng(4)
    errors = np.abs(rng.normal(0, 1, 400))
    errors[300:310] += 6.0  # a burst: its recent mean is improbable
    scorer = LikelihoodScorer(window=200, short=5, min_history=50)
    scores = scorer.score(errors)
    assert np.isnan(scores[:50]).all()  # too little history
    assert scores[305] > 0.999 and np.nanmedian(scores[100:290]) < 0.9
    # A lone large error moves a mean of 5 less than a sustained burst.
    lone = errors.copy()
    lone[300:310] = errors[290:300]
    lone[305] += 6.0
    assert scorer.score(lone)[305] < scores[309]
