"""Confidence intervals and McNemar's test, checked against SciPy as the reference."""

from __future__ import annotations

import pytest
from scipy.stats import binomtest

from mnist_pipeline.significance import mcnemar_exact, wilson_interval


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
