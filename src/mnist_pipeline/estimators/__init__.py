"""One module per estimator name of params.yaml (``models.<m>.estimator``), each defining
``SPEC``, a ``registry.EstimatorSpec``. dvc.yaml makes a model's train and evaluate stages
depend on its estimator's module alone. ``check_rules``: our estimators' parameter checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Integral, Real
from typing import Any

Rule = tuple[str, Callable[[Any], bool]]
"""What a parameter must be, in words, and the test of a value."""


def _number(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def integer(low: int) -> Rule:
    """An integer of at least ``low``."""
    return f"an integer >= {low}", lambda v: _number(v, Integral) and v >= low


def number(low: float, high: float | None = None, *, low_in: bool = True) -> Rule:
    """A number above ``low`` (or equal where ``low_in``), below ``high`` where given."""
    above = f">= {low}" if low_in else f"> {low}"
    words = f"a number {above}" + (f" and < {high}" if high is not None else "")
    return (
        words,
        lambda v: (
            _number(v, Real) and (v >= low if low_in else v > low) and (high is None or v < high)
        ),
    )


def one_of(*options: str) -> Rule:
    """One of the strings ``options``."""
    return f"one of {', '.join(options)}", lambda v: isinstance(v, str) and v in options


def check_rules(estimator: Any, rules: Mapping[str, Rule], key_prefix: str = "") -> None:
    """Refuse the first parameter of ``estimator`` that its rule does not accept, as
    ``EstimatorParamError`` "<key_prefix>.<name>: expected ..., got ..." (scikit-learn's own
    parameter validation is private API)."""
    from mnist_pipeline.plumbing.registry import EstimatorParamError

    for name, (expected, accepts) in rules.items():
        value = getattr(estimator, name)
        if not accepts(value):
            key = f"{key_prefix}.{name}" if key_prefix else name
            raise EstimatorParamError(f"{key}: expected {expected}, got {value!r}")
