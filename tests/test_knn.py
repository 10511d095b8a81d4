"""The ``knn`` estimator: params.yaml's ``k`` is scikit-learn's ``n_neighbors``, and more
neighbours than training rows, which scikit-learn refuses only in predict(), is refused when
train reads its data."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_pipeline.estimators import EstimatorParamError, build_estimator, estimator_spec


def test_k_above_the_training_rows_is_refused_under_the_key_written():
    labels = np.arange(10) % 2
    for params, key in (({"k": 11}, "k"), ({"n_neighbors": 11}, "n_neighbors")):
        estimator = build_estimator(estimator_spec("knn"), params, key_prefix="models.knn")
        with pytest.raises(EstimatorParamError) as err:
            estimator_spec("knn").check_training_data(
                estimator, params, len(labels), "models.knn", "train.npz"
            )
        assert str(err.value) == (
            f"models.knn.{key}: expected at most the 10 training rows of train.npz, got 11"
        )


def test_k_equal_to_the_training_rows_is_accepted():
    estimator = build_estimator(estimator_spec("knn"), {"k": 10}, key_prefix="models.knn")
    estimator_spec("knn").check_training_data(estimator, {"k": 10}, 10, "models.knn", "t")
