"""Confidence intervals, McNemar's test, Holm's adjustment and the test's power, checked by hand
and against SciPy and statsmodels as the references."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binom, binomtest, norm
from statsmodels.stats.multitest import multipletests

from mnist_pipeline.significance import (
    detectable_difference,
    holm_adjusted,
    mcnemar_critical,
    mcnemar_exact,
    mcnemar_power,
    wilson_interval,
)


@pytest.mark.parametrize(("correct", "total"), [(9708, 10000), (0, 10), (10, 10), (1, 3)])
def test_wilson_interval_matches_scipy_binomtest(correct: int, total: int) -> None:
    expected = binomtest(correct, total).proportion_ci(0.95, method="wilson")
    low, high = wilson_interval(correct, total)
    assert low == pytest.approx(expected.low, abs=1e-12)
    assert high == pytest.approx(expected.high, abs=1e-12)


def test_wilson_interval_at_97_percent_of_10000_is_about_a_third_of_a_point() -> None:
    low, high = wilson_interval(9700, 10000)
    assert (low, high) == pytest.approx((0.96647, 0.97317), abs=1e-5)
    assert (high - low) / 2 == pytest.approx(0.0033, abs=1e-4)


def test_wilson_interval_refuses_an_empty_sample() -> None:
    with pytest.raises(ValueError, match="total > 0"):
        wilson_interval(0, 0)


@pytest.mark.parametrize(("only_a", "only_b"), [(0, 1), (3, 9), (40, 61), (250, 251), (7, 0)])
def test_mcnemar_exact_matches_scipy_two_sided_binomial_test(only_a: int, only_b: int) -> None:
    expected = binomtest(only_a, only_a + only_b, 0.5, alternative="two-sided").pvalue
    assert mcnemar_exact(only_a, only_b) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_exact_without_discordant_items_is_one() -> None:
    assert mcnemar_exact(0, 0) == 1.0


def test_holm_adjustment_by_hand() -> None:
    """Sorted 0.01, 0.03, 0.04, 0.5 become 4 x 0.01, 3 x 0.03, max(0.09, 2 x 0.04), 1 x 0.5."""
    assert holm_adjusted([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])


@pytest.mark.parametrize(
    "p_values",
    [
        [0.01, 0.04, 0.03, 0.5],
        [0.004, 1.0, 1.0, 0.777, 0.904, 1.0, 1.0, 1.0, 1.0, 1.0],
        [5.1e-07, 0.02, 0.02, 0.049, 0.3],
        [0.2],
        [0.6, 0.7, 0.9],
    ],
)
def test_holm_adjustment_matches_statsmodels_multipletests(p_values: list[float]) -> None:
    reject, expected, *_ = multipletests(p_values, alpha=0.05, method="holm")
    adjusted = holm_adjusted(p_values)
    assert adjusted == pytest.approx(list(expected), rel=1e-12)
    assert [p < 0.05 for p in adjusted] == list(reject)


def test_mcnemar_critical_is_the_largest_significant_split() -> None:
    # 6 items: 0 against 6 gives p = 2/64 < 0.05, 1 against 5 gives 14/64; 5 items: 2/32.
    assert (mcnemar_critical(6), mcnemar_critical(5), mcnemar_critical(0)) == (0, -1, -1)
    for n in (6, 17, 112, 1000):
        k = mcnemar_critical(n)
        assert mcnemar_exact(k, n - k) < 0.05 <= mcnemar_exact(k + 1, n - k - 1)


@pytest.mark.parametrize(("n", "share"), [(6, 0.9), (40, 0.7), (112, 0.63), (1500, 0.54)])
def test_mcnemar_power_matches_scipys_binomial_over_its_rejection_region(n, share) -> None:
    region = [x for x in range(n + 1) if binomtest(x, n, 0.5).pvalue < 0.05]
    assert mcnemar_power(n, share) == pytest.approx(binom.pmf(region, n, share).sum(), rel=1e-9)


def test_detectable_difference_by_hand_for_six_disagreements() -> None:
    """Only 0 against 6 is significant: power s**6 + (1 - s)**6 = 0.8 at s = 0.8**(1/6) (the
    second term is 2e-9), so the difference is 6 * (2s - 1) images out of 100."""
    share = 0.8 ** (1 / 6)
    assert detectable_difference(6, 100) == pytest.approx(6 * (2 * share - 1) / 100, rel=1e-6)


@pytest.mark.parametrize("n", [6, 40, 112, 600])
def test_detectable_difference_has_80_percent_power_by_scipy(n: int) -> None:
    total = 10_000
    difference = detectable_difference(n, total)
    share = (1 + difference * total / n) / 2
    region = [x for x in range(n + 1) if binomtest(x, n, 0.5).pvalue < 0.05]
    assert binom.pmf(region, n, share).sum() == pytest.approx(0.8, abs=1e-9)


def test_detectable_difference_is_near_connors_normal_approximation() -> None:
    """Connor (1987): n = (z_a sqrt(psi) + z_b sqrt(psi - d^2))^2 / d^2 for disagreement rate
    psi; solved for d at 10,000 images and 1.12% disagreement (the pca.n 40 vs 60 knn)."""
    total, rate = 10_000, 0.0112
    z_a, z_b = norm.ppf(0.975), norm.ppf(0.8)

    def needed(d: float) -> float:
        return (z_a * math.sqrt(rate) + z_b * math.sqrt(rate - d * d)) ** 2 / d**2

    low, high = 1e-6, rate
    while high - low > 1e-12:
        low, high = (
            ((low + high) / 2, high)
            if needed((low + high) / 2) > total
            else (low, (low + high) / 2)
        )
    assert detectable_difference(round(rate * total), total) == pytest.approx(high, rel=0.05)


def test_detectable_difference_is_none_when_no_split_can_be_significant() -> None:
    assert detectable_difference(0, 10_000) is None
    assert detectable_difference(5, 10_000) is None
