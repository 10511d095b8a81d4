"""The model registry: estimator names in ``params.yaml`` -> scikit-learn estimators.

Classes are named by import path and imported only when a model is built, so that reading
the registry (as the params loader does) costs no scikit-learn import.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EstimatorSpec:
    class_path: str
    description: str
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Short names accepted in params.yaml for scikit-learn's own (``k`` -> ``n_neighbors``)."""


ESTIMATORS: dict[str, EstimatorSpec] = {
    "knn": EstimatorSpec(
        "sklearn.neighbors.KNeighborsClassifier",
        "k-nearest neighbours (metric: cosine, algorithm: brute = blocked matrix product)",
        aliases={"k": "n_neighbors"},
    ),
    "svc": EstimatorSpec("sklearn.svm.SVC", "support vector classifier"),
    "mlp": EstimatorSpec("sklearn.neural_network.MLPClassifier", "multi-layer perceptron"),
    "logistic_regression": EstimatorSpec(
        "sklearn.linear_model.LogisticRegression", "logistic regression"
    ),
    "sgd": EstimatorSpec("sklearn.linear_model.SGDClassifier", "linear model fitted by SGD"),
    "dummy": EstimatorSpec("sklearn.dummy.DummyClassifier", "a baseline that ignores its input"),
    "extra_trees": EstimatorSpec(
        "sklearn.ensemble.ExtraTreesClassifier", "extremely randomised trees"
    ),
}


class EstimatorParamError(ValueError):
    """An estimator parameter scikit-learn refuses, named by its params.yaml key."""


def _estimator_class(name: str) -> type:
    module_name, _, class_name = ESTIMATORS[name].class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


def sklearn_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Translate params.yaml names to scikit-learn's (lists become tuples for layer sizes)."""
    aliases = ESTIMATORS[name].aliases
    translated = {}
    for key, value in params.items():
        translated[aliases.get(key, key)] = tuple(value) if isinstance(value, list) else value
    return translated


def build_estimator(name: str, params: Mapping[str, Any], *, key_prefix: str) -> Any:
    """Build and validate an unfitted estimator before any training starts.

    ``key_prefix`` (``models.svm``) names where the parameters came from, so a refusal reads
    ``models.svm.C: ...`` rather than scikit-learn's message alone.
    """
    from sklearn.utils._param_validation import InvalidParameterError

    cls = _estimator_class(name)
    translated = sklearn_params(name, params)
    reverse = {v: k for k, v in ESTIMATORS[name].aliases.items()}
    accepted = cls().get_params()
    unknown = sorted(reverse.get(k, k) for k in translated if k not in accepted)
    if unknown:
        allowed = sorted(set(accepted) | set(ESTIMATORS[name].aliases))
        raise EstimatorParamError(
            f"{key_prefix}.{unknown[0]}: not a parameter of {cls.__name__} "
            f"(estimator '{name}'); expected one of: {', '.join(allowed)}"
        )
    estimator = cls(**translated)
    try:
        # scikit-learn checks parameter values only in fit(); check them now, before the data
        # is loaded and hours are spent.
        estimator._validate_params()
    except InvalidParameterError as err:
        bad = next((k for k in translated if f"'{k}'" in str(err)), None)
        where = f"{key_prefix}.{reverse.get(bad, bad)}" if bad else key_prefix
        raise EstimatorParamError(f"{where}: {err}") from None
    return estimator


def task_labels(digits: np.ndarray, target: int | None) -> np.ndarray:
    """The labels a model learns: the digits, or for a detector 1 where the digit is ``target``."""
    return digits if target is None else (digits == target).astype(np.uint8)


def class_names(target: int | None) -> list[str]:
    """Names of the label values ``task_labels`` produces, for tables and plots."""
    return [str(d) for d in range(10)] if target is None else [f"not_{target}", str(target)]
