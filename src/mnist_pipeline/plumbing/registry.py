"""The estimator table: each name ``models.<m>.estimator`` may take in params.yaml is a module of
``mnist_pipeline.estimators`` whose ``SPEC`` says what it builds. The names are listed without
importing the modules, so that checking params.yaml imports no scikit-learn."""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any


class EstimatorParamError(ValueError):
    """An estimator name or parameter the pipeline refuses, named by its params.yaml key."""


@dataclass(frozen=True)
class EstimatorSpec:
    """What an estimator name of params.yaml builds, declared by its module as ``SPEC``."""

    estimator: type | Callable[[], type]
    """The class, or a function returning it (a module that imports scikit-learn late)."""
    description: str
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Short names params.yaml may use for scikit-learn's own (``k`` -> ``n_neighbors``)."""
    blas_threads: int | None = None
    """BLAS threads while fitting and scoring (None: BLAS's default). 1 where a second thread
    costs more than it computes (small matrices), which also makes the sums machine-free."""
    learns_in_steps: bool = False
    """``fit(X, y, validation=..., log=...)`` calls ``log(step, loss=..., val_acc=...)`` after
    each step: the train stage's live metrics (dvclive) and history.csv."""
    check_params: Callable[[Any, str], None] | None = None
    """``check_params(estimator, key_prefix)`` raises ``EstimatorParamError`` for a bad value."""
    check_training_data: Callable[[Any, Mapping[str, Any], int, str, str], None] | None = None
    """``(estimator, params, n_rows, key_prefix, source)``: refuses what ``n_rows`` rule out."""
    name: str = ""

    @property
    def estimator_class(self) -> type:
        """The class the name builds."""
        return self.estimator if isinstance(self.estimator, type) else self.estimator()

    def params_key(self, own: str, params: Mapping[str, Any]) -> str:
        """params.yaml's key for the estimator's parameter ``own``: its alias where written."""
        for alias, name in self.aliases.items():
            if name == own and alias in params:
                return alias
        return own


@functools.cache
def estimator_names() -> tuple[str, ...]:
    """The estimator names params.yaml may use: the modules of ``mnist_pipeline.estimators``."""
    from mnist_pipeline import estimators

    found = pkgutil.iter_modules(estimators.__path__)
    return tuple(sorted(m.name for m in found if not m.name.startswith("_")))


def estimator_spec(name: str, *, key_prefix: str | None = None) -> EstimatorSpec:
    """The ``SPEC`` of ``mnist_pipeline.estimators.<name>``; an unknown name is an
    ``EstimatorParamError`` listing the known ones."""
    names = estimator_names()
    if name not in names:
        where = f"{key_prefix}.estimator" if key_prefix else "estimator"
        raise EstimatorParamError(f"{where}: expected one of {', '.join(names)}, got {name!r}")
    return replace(importlib.import_module(f"mnist_pipeline.estimators.{name}").SPEC, name=name)


def build_estimator(spec: EstimatorSpec, params: Mapping[str, Any], *, key_prefix: str) -> Any:
    """An unfitted estimator of ``spec`` with ``params`` (aliases resolved, YAML lists as
    tuples); an unknown key or a value the spec's own check refuses is an
    ``EstimatorParamError`` naming ``<key_prefix>.<key>``. scikit-learn checks its own
    estimators' values in ``fit`` (see ``fit_error``)."""
    cls = spec.estimator_class
    for alias, own in spec.aliases.items():
        if alias in params and own in params:
            raise EstimatorParamError(
                f"{key_prefix}.{alias}: expected one of {alias} and {own} "
                "(the same parameter), got both"
            )
    translated = {
        spec.aliases.get(key, key): tuple(value) if isinstance(value, list) else value
        for key, value in params.items()
    }
    accepted = cls().get_params()
    unknown = sorted(spec.params_key(k, params) for k in translated if k not in accepted)
    if unknown:
        allowed = sorted(set(accepted) | set(spec.aliases))
        raise EstimatorParamError(
            f"{key_prefix}.{unknown[0]}: not a parameter of {cls.__name__} "
            f"(estimator '{spec.name}'); expected one of: {', '.join(allowed)}"
        )
    estimator = cls(**translated)
    if spec.check_params is not None:
        spec.check_params(estimator, key_prefix)
    return estimator


def fit_error(
    err: Exception, spec: EstimatorSpec, params: Mapping[str, Any], key_prefix: str
) -> EstimatorParamError | None:
    """scikit-learn's refusal of a parameter value in ``fit`` ("The 'C' parameter of SVC must
    be ...") named by its params.yaml key; None for any other error."""
    found = re.match(r"The '(\w+)' parameter of ", str(err))
    if found is None:
        return None
    return EstimatorParamError(f"{key_prefix}.{spec.params_key(found[1], params)}: {err}")
