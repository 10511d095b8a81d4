"""``knn``: scikit-learn's k-nearest neighbours, ``k`` in params.yaml for ``n_neighbors``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sklearn.neighbors import VALID_METRICS, KNeighborsClassifier

from mnist_pipeline.plumbing.registry import EstimatorParamError, EstimatorSpec


def check_metric(estimator: KNeighborsClassifier, key_prefix: str) -> None:
    """The metric must be computed from feature rows and be one its ``algorithm`` supports:
    scikit-learn finds out only in fit() or predict()."""
    metric = estimator.metric
    if metric == "precomputed":
        raise EstimatorParamError(
            f"{key_prefix}.metric: expected a metric of feature rows, got "
            "'precomputed' (the stages pass features, not distances)"
        )
    try:
        estimator._check_algorithm_metric()
    except ValueError:
        valid = ", ".join(
            sorted(m for m in VALID_METRICS.get(estimator.algorithm, ()) if isinstance(m, str))
        )
        raise EstimatorParamError(
            f"{key_prefix}.metric: expected one of the metrics algorithm "
            f"{estimator.algorithm} supports ({valid}), got {metric!r}"
        ) from None


def check_neighbours(
    estimator: KNeighborsClassifier,
    params: Mapping[str, Any],
    n_rows: int,
    key_prefix: str,
    source: str,
) -> None:
    """No more neighbours than training rows."""
    if estimator.n_neighbors is not None and estimator.n_neighbors > n_rows:
        raise EstimatorParamError(
            f"{key_prefix}.{SPEC.params_key('n_neighbors', params)}: expected at most the "
            f"{n_rows} training rows of {source}, got {estimator.n_neighbors}"
        )


SPEC = EstimatorSpec(
    KNeighborsClassifier,
    "k-nearest neighbours",
    aliases={"k": "n_neighbors"},
    check_params=check_metric,
    check_training_data=check_neighbours,
)
