"""The ``knn`` estimator: params.yaml's ``k`` is scikit-learn's ``n_neighbors``, and what
scikit-learn would refuse only in fit() or predict() is refused when the model is built or
its training data is read."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_pipeline.registry import EstimatorParamError, build_estimator
from mnist_pipeline.training import check_training_data


def test_precomputed_distances_are_refused():
    with pytest.raises(EstimatorParamError) as err:
        build_estimator("knn", {"metric": "precomputed"}, key_prefix="models.knn")
    assert str(err.value) == (
        "models.knn.metric: expected a metric of feature rows, got 'precomputed' "
        "(the stages pass features, not distances)"
    )


def test_a_metric_its_algorithm_cannot_compute_is_refused_with_the_ones_it_can():
    with pytest.raises(EstimatorParamError) as err:
        build_estimator(
            "knn", {"algorithm": "kd_tree", "metric": "cosine"}, key_prefix="models.knn"
        )
    message = str(err.value)
    assert message.startswith(
        "models.knn.metric: expected one of the metrics algorithm kd_tree supports (chebyshev, "
    )
    assert message.endswith("got 'cosine'")


def test_k_above_the_training_rows_is_refused_under_the_key_written():
    labels = np.arange(10) % 2
    for params, key in (({"k": 11}, "k"), ({"n_neighbors": 11}, "n_neighbors")):
        estimator = build_estimator("knn", params, key_prefix="models.knn")
        with pytest.raises(EstimatorParamError) as err:
            check_training_data(
                "knn", estimator, params, labels, key_prefix="models.knn", source="train.npz"
            )
        assert str(err.value) == (
            f"models.knn.{key}: expected at most the 10 training rows of train.npz, got 11"
        )


def test_k_equal_to_the_training_rows_is_accepted():
    estimator = build_estimator("knn", {"k": 10}, key_prefix="models.knn")
    check_training_data(
        "knn", estimator, {"k": 10}, np.arange(10) % 2, key_prefix="models.knn", source="t"
    )
