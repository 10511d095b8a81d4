"""The model registry builds scikit-learn estimators and refuses bad parameters by key."""

from __future__ import annotations

import pytest
from conftest import REPO
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from mnist_pipeline.params import load_params
from mnist_pipeline.registry import (
    ESTIMATORS,
    EstimatorParamError,
    build_estimator,
)


def test_alias_k_becomes_n_neighbors():
    estimator = build_estimator("knn", {"k": 4, "weights": "distance"}, key_prefix="models.knn")
    assert isinstance(estimator, KNeighborsClassifier)
    assert (estimator.n_neighbors, estimator.weights) == (4, "distance")


def test_yaml_list_becomes_a_tuple_of_layer_sizes():
    estimator = build_estimator("mlp", {"hidden_layer_sizes": [200]}, key_prefix="models.mlp")
    assert estimator.hidden_layer_sizes == (200,)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_every_registered_estimator_builds_with_defaults(name):
    assert build_estimator(name, {}, key_prefix=f"models.{name}").get_params()


def test_every_shipped_model_builds():
    for model in load_params(REPO / "params.yaml").models.values():
        build_estimator(model.estimator, model.params, key_prefix=model.key)


def test_value_scikit_learn_rejects_is_named_by_its_key():
    with pytest.raises(EstimatorParamError) as err:
        build_estimator("svc", {"C": -1}, key_prefix="models.svm")
    assert str(err.value) == (
        "models.svm.C: The 'C' parameter of SVC must be a float in the "
        "range (0.0, inf]. Got -1 instead."
    )


def test_alias_is_named_as_written_in_params():
    with pytest.raises(EstimatorParamError) as err:
        build_estimator("knn", {"k": 0}, key_prefix="models.knn")
    assert str(err.value).startswith(
        "models.knn.k: The 'n_neighbors' parameter of KNeighborsClassifier must be"
    )


def test_unknown_parameter_lists_the_accepted_ones():
    with pytest.raises(EstimatorParamError) as err:
        build_estimator("svc", {"c": 10}, key_prefix="models.svm")
    message = str(err.value)
    assert message.startswith(
        "models.svm.c: not a parameter of SVC (estimator 'svc'); "
        "expected one of: C, break_ties, cache_size,"
    )
    assert isinstance(build_estimator("svc", {"C": 10}, key_prefix="m"), SVC)
