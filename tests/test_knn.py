"""The ``knn`` estimator: params.yaml's ``k`` is scikit-learn's ``n_neighbors``, and what
scikit-learn would refuse only in fit() or predict() is refused when the model is built or
its training data is read."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_pipeline.plumbing.registry import EstimatorParamError, build_estimator, estimator_spec
from mnist_pipeline.stages.train import check_training_data


def test_k_above_the_training_rows_is_refused_under_the_key_written():
    labels = np.arange(10) % 2
    for params, key in (({"k": 11}, "k"), ({"n_neighbors": 11}, "n_neighbors")):
        estimator = build_estimator(estimator_spec("knn"), params, key_prefix="models.knn")
        with pytest.raises(EstimatorParamError) as err:
            check_training_data(
                estimator_spec("knn"),
                estimator,
                params,
                labels,
                key_prefix="models.knn",
                source="train.npz",
            )
        assert str(err.value) == (
            f"models.knn.{key}: expected at most the 10 training rows of train.npz, got 11"
        )


def test_k_equal_to_the_training_rows_is_accepted():
    estimator = build_estimator(estimator_spec("knn"), {"k": 10}, key_prefix="models.knn")
    check_training_data(
        estimator_spec("knn"),
        estimator,
        {"k": 10},
        np.arange(10) % 2,
        key_prefix="models.knn",
        source="t",
    )
