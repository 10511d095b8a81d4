"""How sure a measured accuracy is, and whether two models' accuracies really differ.

Both answers are exact or closed-form and need no SciPy: the tests check them against
``scipy.stats`` (``binomtest``) as an independent reference.
"""

from __future__ import annotations

import math
from fractions import Fraction

Z_95 = 1.959963984540054
"""The standard normal quantile of 0.975: a two-sided 95% interval."""


def wilson_interval(correct: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``correct / total`` (95% by default).

    Unlike the normal approximation it stays inside [0, 1] and is asymmetric near 0 and 1,
    where a classifier's accuracy lives. ``total`` must be positive."""
    if total <= 0 or not 0 <= correct <= total:
        raise ValueError(f"expected 0 <= correct <= total and total > 0, got {correct}/{total}")
    p = correct / total
    z2 = z * z
    centre = (p + z2 / (2 * total)) / (1 + z2 / total)
    half = z / (1 + z2 / total) * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar p-value for paired predictions.

    ``only_a`` is the number of items model A got right and model B wrong, ``only_b`` the
    reverse; items both got right or both got wrong say nothing about which is better. Under
    the null hypothesis each discordant item is a fair coin, so the p-value is the two-sided
    binomial tail ``min(1, 2 * P[X <= min(only_a, only_b)])`` with ``X ~ Bin(only_a + only_b,
    1/2)``, summed in exact integer arithmetic. No discordant item gives 1."""
    if only_a < 0 or only_b < 0:
        raise ValueError(f"expected counts >= 0, got {only_a} and {only_b}")
    n = only_a + only_b
    if n == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return float(min(Fraction(1), Fraction(2 * tail, 2**n)))
