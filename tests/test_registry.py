"""The estimator table (one module per name, read without scikit-learn) and its refusals by key."""

import sys
import textwrap

import pytest
from conftest import REPO, build_estimator, run_tool
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from mnist_pipeline.estimators import (
    EstimatorParamError,
    estimator_names,
    estimator_spec,
    fit_error,
)
from mnist_pipeline.params import load_params

ESTIMATORS_DIR = REPO / "src/mnist_pipeline/estimators"


def test_names_are_the_modules_of_the_estimators_package():
    modules = sorted(p.stem for p in ESTIMATORS_DIR.glob("*.py") if p.stem != "__init__")
    assert estimator_names() == tuple(modules)
    assert {"cosine_1nn", "gradient_descent", "knn", "svc"} <= set(modules)


def test_reading_the_names_and_the_params_imports_no_scikit_learn():
    code = textwrap.dedent("""
        import sys
        from mnist_pipeline.params import load_params
        from mnist_pipeline.estimators import estimator_names
        load_params("params.yaml")
        assert "knn" in estimator_names()
        imported = sorted(m for m in sys.modules if m.split(".")[0] == "sklearn")
        assert not imported, imported[:5]
    """)
    run_tool(sys.executable, "-c", code, cwd=REPO, env={"PYTHONPATH": str(REPO / "src")})


def test_unknown_name_lists_the_known_ones_under_its_key():
    with pytest.raises(EstimatorParamError) as err:
        estimator_spec("forest", key_prefix="models.trees")
    assert str(err.value) == (
        "models.trees.estimator: expected one of cnn, cosine_1nn, dummy, extra_trees, "
        "gradient_descent, knn, logistic_regression, mlp, one_vs_one_svc, sgd, svc, got 'forest'"
    )


def test_spec_is_the_one_its_module_declares():
    spec = estimator_spec("svc")
    assert spec.estimator_class is SVC and spec.name == "svc"
    assert spec.blas_threads is None and not spec.learns_in_steps
    assert estimator_spec("mlp").blas_threads == 1 and estimator_spec("mlp").learns_in_steps


def test_alias_k_becomes_n_neighbors_and_a_yaml_list_a_tuple_of_layer_sizes():
    knn = build_estimator("knn", {"k": 4, "weights": "distance"}, "m")
    assert isinstance(knn, KNeighborsClassifier)
    assert (knn.n_neighbors, knn.weights) == (4, "distance")
    assert build_estimator("mlp", {"hidden_layer_sizes": [200]}, "m").hidden_layer_sizes == (200,)


@pytest.mark.parametrize("name", estimator_names())
def test_every_registered_estimator_builds_with_defaults(name):
    estimator = build_estimator(name, {}, f"models.{name}")
    assert type(estimator) is estimator_spec(name).estimator_class
    assert estimator.get_params()


def test_every_shipped_model_builds():
    for model in load_params(REPO / "params.yaml").models.values():
        build_estimator(model.estimator, model.params, model.key)


def test_a_fit_error_of_no_parameter_is_not_put_on_a_key():  # keyed ones: test_train
    error = ValueError("X has 3 features")
    assert fit_error(error, estimator_spec("knn"), {"k": 0}, "models.knn") is None


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("cosine_1nn", {"block_rows": 0}, "block_rows: input should be greater than 0, got 0"),
        ("gradient_descent", {"learning_rate": -1.0}, "learning_rate: input should be greater"),
        ("cnn", {"device": "tpu"}, "device: expected one of auto, cpu, cuda, got 'tpu'"),
        ("cnn", {"channels": [8, 0]}, "channels[1]: input should be greater than 0, got 0"),
        ("cnn", {"warmup": 1.5}, "warmup: input should be less than 1, got 1.5"),
        ("one_vs_one_svc", {"kernel": "precomputed"}, "kernel: expected one of linear, poly,"),
        ("one_vs_one_svc", {"gamma": -1}, "gamma: expected scale, auto or a number >= 0, got -1"),
    ],
)
def test_our_estimators_refuse_bad_values_when_built_and_when_fitted(name, params, message):
    with pytest.raises(EstimatorParamError) as built:
        build_estimator(name, params)
    assert str(built.value).startswith(f"models.m.{message}")
    estimator = estimator_spec(name).estimator_class(**params)
    with pytest.raises(EstimatorParamError) as fitted:
        estimator.fit([[0.0], [1.0]], [0, 1])
    assert str(fitted.value).startswith(message)


def test_unknown_parameter_lists_the_accepted_ones():
    with pytest.raises(EstimatorParamError) as err:
        build_estimator("svc", {"c": 10}, "models.svm")
    assert str(err.value).startswith(
        "models.svm.c: not a parameter of SVC (estimator 'svc'); "
        "expected one of: C, break_ties, cache_size,"
    )
