"""The estimator table: each name ``models.<m>.estimator`` may take is a module of this package
whose ``SPEC`` says what it builds, listed without importing it (checking params.yaml imports no
scikit-learn). dvc.yaml makes a model's stages depend on its module."""

import functools
import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from numbers import Integral, Real
from typing import Any


class EstimatorParamError(ValueError):
    """An estimator name or parameter the pipeline refuses, named by its params.yaml key."""


Rule = tuple[str, Callable[[Any], bool]]
"""What a parameter of our own estimators must be, in words, and the test of a value."""


@dataclass(frozen=True)
class EstimatorSpec:
    """What an estimator name builds: ``estimator`` (the class or its dotted path), ``aliases``
    (``k`` -> ``n_neighbors``), ``blas_threads`` (1 where a second thread costs more than it
    computes), and its ``rules`` and ``check_*`` hooks, which raise ``EstimatorParamError``."""

    estimator: type | str
    aliases: Mapping[str, str] = field(default_factory=dict)
    blas_threads: int | None = None
    # fit(X, y, validation=, log=) calls log(step, loss=, val_acc=) after each step
    learns_in_steps: bool = False
    rules: Mapping[str, Rule] = field(default_factory=dict)  # train's check_rules
    check_params: Callable[[Any, str], None] | None = None  # (estimator, key_prefix)
    # (estimator, params, n_rows, key_prefix, source)
    check_training_data: Callable[[Any, Mapping[str, Any], int, str, str], None] | None = None
    name: str = ""

    @property
    def estimator_class(self) -> type:
        """The class the name builds."""
        if isinstance(self.estimator, type):
            return self.estimator
        return pkgutil.resolve_name(self.estimator)

    def params_key(self, own: str, params: Mapping[str, Any]) -> str:
        """params.yaml's key for the estimator's parameter ``own``: its alias where written."""
        return next((a for a, n in self.aliases.items() if n == own and a in params), own)


@functools.cache
def estimator_names() -> tuple[str, ...]:
    """The estimator names params.yaml may use: the modules of this package."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name[0] != "_"))


def estimator_spec(name: str, *, key_prefix: str | None = None) -> EstimatorSpec:
    """The ``SPEC`` of the module ``name``; an unknown name lists the known ones."""
    if name not in (names := estimator_names()):
        where = f"{key_prefix}.estimator" if key_prefix else "estimator"
        raise EstimatorParamError(f"{where}: expected one of {', '.join(names)}, got {name!r}")
    return replace(importlib.import_module(f"{__name__}.{name}").SPEC, name=name)


def fit_error(
    err: Exception, spec: EstimatorSpec, params: Mapping[str, Any], key_prefix: str
) -> EstimatorParamError | None:
    """scikit-learn's refusal of a value in ``fit`` ("The 'C' parameter of SVC must be ...")
    named by its params.yaml key; None for any other error."""
    if (found := re.match(r"The '(\w+)' parameter of ", str(err))) is None:
        return None
    return EstimatorParamError(f"{key_prefix}.{spec.params_key(found[1], params)}: {err}")


def _number(value: Any, kind: type) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def integer(low: int) -> Rule:
    """An integer of at least ``low``."""
    return f"an integer >= {low}", lambda v: _number(v, Integral) and v >= low


def number(low: float, high: float | None = None, *, low_in: bool = True) -> Rule:
    """A number above ``low`` (or equal where ``low_in``), below ``high`` where given."""
    words = f"a number {'>=' if low_in else '>'} {low}" + ("" if high is None else f" and < {high}")

    def accepts(v: Any) -> bool:
        return _number(v, Real) and (v >= low if low_in else v > low) and (high is None or v < high)

    return words, accepts


def one_of(*options: str) -> Rule:
    """One of the strings ``options``."""
    return f"one of {', '.join(options)}", lambda v: isinstance(v, str) and v in options


def check_rules(estimator: Any, rules: Mapping[str, Rule], key_prefix: str = "") -> None:
    """Refuse the first parameter its rule does not accept: "<key_prefix>.<name>: expected
    ..., got ..." (scikit-learn's own parameter validation is private API)."""
    for name, (expected, accepts) in rules.items():
        if not accepts(value := getattr(estimator, name)):
            key = f"{key_prefix}.{name}" if key_prefix else name
            raise EstimatorParamError(f"{key}: expected {expected}, got {value!r}")
