"""How sure a measured accuracy is, whether two models' accuracies really differ, how many
comparisons a verdict must allow for, and how large a difference the paired test could see.

Every answer is exact or closed-form and needs no SciPy: the tests check them against
``scipy.stats`` (``binomtest``, ``binom``) and ``statsmodels`` (``multipletests``) as
independent references.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction

Z_95 = 1.959963984540054
"""The standard normal quantile of 0.975: a two-sided 95% interval."""
LEVEL = 0.05
"""The significance level of every verdict."""
POWER = 0.8
"""The power at which a difference counts as detectable."""


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


def holm_adjusted(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of a family of p-values, in the order given.

    With the m p-values sorted, the i-th smallest (from 1) becomes ``(m - i + 1) * p``, at
    most 1 and at least the adjusted value before it. A verdict "adjusted p < 0.05" then errs
    on any member of the family with probability at most 0.05, whatever the number compared."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def mcnemar_critical(discordant: int, level: float = LEVEL) -> int:
    """The largest k for which a split of ``discordant`` items into k and ``discordant - k``
    is significant (``mcnemar_exact(k, discordant - k) < level``); -1 if none is, as with
    5 or fewer discordant items at 5%."""
    # p < level, with p = 2 * tail / 2**n and level = num / den exactly: integers only.
    num, den = Fraction(level).as_integer_ratio()
    scale = num * 2**discordant
    tail, term, critical = 0, 1, -1
    for k in range(discordant // 2 + 1):
        tail += term
        if 2 * tail * den >= scale:
            break
        critical = k
        term = term * (discordant - k) // (k + 1)
    return critical


def _rejection_probability(n: int, critical: int, share: float) -> float:
    """P[X <= critical] + P[X >= n - critical] for X ~ Bin(n, share), with critical < n / 2:
    the probability that the exact McNemar test of n discordant items rejects."""
    if critical < 0:
        return 0.0
    if share in (0.0, 1.0):
        return 1.0
    log_p, log_q, log_n = math.log(share), math.log1p(-share), math.lgamma(n + 1)
    terms = []
    for i in range(critical + 1):
        log_comb = log_n - math.lgamma(i + 1) - math.lgamma(n - i + 1)
        terms.append(math.exp(log_comb + i * log_p + (n - i) * log_q))
        terms.append(math.exp(log_comb + (n - i) * log_p + i * log_q))
    return math.fsum(terms)


def mcnemar_power(discordant: int, share: float, level: float = LEVEL) -> float:
    """The probability that the exact McNemar test finds p < ``level`` when each of
    ``discordant`` items favours B with probability ``share`` (the rest favour A)."""
    return _rejection_probability(discordant, mcnemar_critical(discordant, level), share)


def detectable_difference(
    discordant: int, total: int, power: float = POWER, level: float = LEVEL
) -> float | None:
    """The smallest difference of accuracy (a proportion of ``total`` items) that the exact
    McNemar test at ``level`` finds with probability ``power``, given ``discordant`` items on
    which the two models disagree about being right: ``discordant * (2s - 1) / total`` for
    the smallest share ``s`` of them favouring one side that gives that power. None when no
    split of so few items can be significant. More disagreements leave more room for noise,
    so they need a larger difference."""
    if not 0 <= discordant <= total or total <= 0:
        raise ValueError(f"expected 0 <= discordant <= total, got {discordant} of {total}")
    critical = mcnemar_critical(discordant, level)
    if critical < 0:
        return None
    low, high = 0.5, 1.0
    while high - low > 1e-12:
        middle = (low + high) / 2
        if _rejection_probability(discordant, critical, middle) < power:
            low = middle
        else:
            high = middle
    return discordant * (2 * high - 1) / total
