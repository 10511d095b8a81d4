"""The parallel one-vs-one SVC is scikit-learn's SVC, whatever its threads and blocks."""

import numpy as np
import pytest
from sklearn.preprocessing import normalize
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from mnist_pipeline.estimators.one_vs_one_svc import OneVsOneSVC


@pytest.fixture(scope="module")
def pixels(mnist_slice) -> dict[str, np.ndarray]:
    """Unit-length pixel rows of the real-MNIST slice (the SVM's kind of input)."""
    return {
        "x_train": normalize(mnist_slice["train_images"].reshape(1200, -1).astype(np.float64)),
        "y_train": mnist_slice["train_labels"],
        "x_test": normalize(mnist_slice["test_images"].reshape(300, -1).astype(np.float64)),
    }


@pytest.fixture(scope="module")
def both(pixels) -> tuple[OneVsOneSVC, SVC]:
    x, y = pixels["x_train"], pixels["y_train"]
    return OneVsOneSVC(C=10).fit(x, y), SVC(C=10).fit(x, y)


def test_has_the_support_vectors_of_svc(both):
    ours, svc = both
    np.testing.assert_array_equal(ours.support_, np.sort(svc.support_))
    np.testing.assert_array_equal(ours.n_support_, svc.n_support_)


def test_has_the_intercepts_of_svc_positive_for_each_pairs_second_class(both):
    ours, svc = both
    np.testing.assert_allclose(ours.intercept_, -svc.intercept_, rtol=0, atol=1e-12)


def test_predicts_what_svc_predicts_on_digits(both, pixels):
    ours, svc = both
    np.testing.assert_array_equal(ours.predict(pixels["x_test"]), svc.predict(pixels["x_test"]))


def test_decision_function_is_svcs_one_vs_rest(both, pixels):
    ours, svc = both
    decisions = ours.decision_function(pixels["x_test"])
    assert decisions.shape == (300, 10)
    np.testing.assert_allclose(decisions, svc.decision_function(pixels["x_test"]), atol=1e-9)


@pytest.mark.parametrize("kernel", ["linear", "poly", "rbf", "sigmoid"])
def test_two_classes_give_svcs_decision_values_for_every_kernel(pixels, kernel):
    x, y, test = pixels["x_train"][:400], pixels["y_train"][:400] == 5, pixels["x_test"]
    ours = OneVsOneSVC(kernel=kernel, gamma="auto", coef0=0.5).fit(x, y)
    svc = SVC(kernel=kernel, gamma="auto", coef0=0.5).fit(x, y)
    np.testing.assert_allclose(ours.decision_function(test), svc.decision_function(test), atol=1e-9)
    np.testing.assert_array_equal(ours.predict(test), svc.predict(test))


def test_threads_do_not_change_the_model(both, pixels):
    reference, _ = both
    ours = OneVsOneSVC(C=10, n_jobs=1).fit(pixels["x_train"], pixels["y_train"])
    np.testing.assert_array_equal(ours.support_, reference.support_)
    np.testing.assert_array_equal(ours.pair_coef_, reference.pair_coef_)
    np.testing.assert_array_equal(ours.intercept_, reference.intercept_)


def test_blocks_change_decision_values_only_by_rounding(both, pixels):
    reference, _ = both
    blocked = OneVsOneSVC(C=10, block_rows=7).fit(pixels["x_train"], pixels["y_train"])
    test = pixels["x_test"]
    np.testing.assert_allclose(
        blocked.pair_decisions(test), reference.pair_decisions(test), rtol=0, atol=1e-12
    )
    np.testing.assert_array_equal(blocked.predict(test), reference.predict(test))


@parametrize_with_checks([OneVsOneSVC(n_jobs=2, block_rows=7)])
def test_is_a_scikit_learn_classifier(estimator, check):
    check(estimator)
