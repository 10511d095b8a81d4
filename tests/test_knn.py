"""knn: ``k`` above the training rows, which scikit-learn refuses only in predict(), stops train."""

import numpy as np
import pytest
from conftest import build_estimator

from mnist_pipeline.estimators import EstimatorParamError, estimator_spec


def test_k_above_the_training_rows_is_refused_under_the_key_written():
    labels = np.arange(10) % 2
    for params, key in (({"k": 11}, "k"), ({"n_neighbors": 11}, "n_neighbors")):
        estimator = build_estimator("knn", params, "models.knn")
        with pytest.raises(EstimatorParamError) as err:
            estimator_spec("knn").check_training_data(
                estimator, params, len(labels), "models.knn", "train.npz"
            )
        assert str(err.value) == (
            f"models.knn.{key}: expected at most the 10 training rows of train.npz, got 11"
        )


def test_k_equal_to_the_training_rows_is_accepted():
    estimator = build_estimator("knn", {"k": 10}, "models.knn")
    estimator_spec("knn").check_training_data(estimator, {"k": 10}, 10, "models.knn", "t")


def test_a_knn_on_few_components_saves_and_loads_with_its_kd_tree(tmp_path):
    """On 10 PCA components scikit-learn searches with a KD-tree: its model file must load."""
    from mnist_pipeline.plumbing.model_files import load_model, save_model

    rows = np.random.default_rng(0).normal(size=(200, 10))
    labels = np.arange(200) % 3
    knn = build_estimator("knn", {"k": 4}, "models.knn")
    knn.fit(rows, labels)
    assert knn._fit_method == "kd_tree"
    save_model(knn, tmp_path / "model.skops")
    assert (load_model(tmp_path / "model.skops").predict(rows) == knn.predict(rows)).all()
