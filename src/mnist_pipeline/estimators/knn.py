"""``knn``: scikit-learn's k-nearest neighbours, ``k`` in params.yaml for ``n_neighbors``."""

from collections.abc import Mapping
from typing import Any

from sklearn.neighbors import VALID_METRICS, KNeighborsClassifier

from mnist_pipeline.estimators import EstimatorParamError, EstimatorSpec


def check_metric(estimator: KNeighborsClassifier, key_prefix: str) -> None:
    """A metric of feature rows that ``algorithm`` supports (scikit-learn checks it in fit)."""
    metric, algorithm = estimator.metric, estimator.algorithm
    if metric == "precomputed":
        raise EstimatorParamError(
            f"{key_prefix}.metric: expected a metric of feature rows, got "
            "'precomputed' (the stages pass features, not distances)"
        )
    if algorithm != "auto" and algorithm not in VALID_METRICS:
        return  # fit() names the algorithm
    lists = VALID_METRICS.values() if algorithm == "auto" else [VALID_METRICS[algorithm]]
    valid = sorted({m for names in lists for m in names if isinstance(m, str)})
    if metric not in valid:
        raise EstimatorParamError(
            f"{key_prefix}.metric: expected one of the metrics algorithm "
            f"{algorithm} supports ({', '.join(valid)}), got {metric!r}"
        )


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
    aliases={"k": "n_neighbors"},
    check_params=check_metric,
    check_training_data=check_neighbours,
)
