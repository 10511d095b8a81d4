"""The IDX notebook's gradient-descent logistic regression: its loss, gradient and updates."""

import numpy as np
import pytest
from conftest import FILE_NAMES, REPO, SHIPPED_MNIST
from sklearn.metrics import log_loss
from sklearn.utils.estimator_checks import parametrize_with_checks

from mnist_pipeline.data import read_idx
from mnist_pipeline.estimators.gradient_descent import (
    GradientDescentLogisticRegression,
    cross_entropy,
    gradient,
    sigmoid,
    with_bias,
)

NOTEBOOK_LOSSES = {
    0: 0.69314718055994529,
    1: 0.80017553516096085,
    2: 0.55723828104553574,
    3: 0.32973175390660292,
    19: 0.11547894406452017,
    20: 0.11384310912932417,
    175: 0.07005631044904065,
    195: 0.06895031073787411,
}
"""The losses the IDX notebook printed: "is it a 4" on all 60,000 raw training images."""


@pytest.fixture
def tiny() -> tuple[np.ndarray, np.ndarray]:
    """Forty rows of five uint8 'pixels' and 0/1 labels that depend on them."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(40, 5), dtype=np.uint8)
    y = (x[:, 0].astype(int) + rng.integers(-60, 60, size=40) > 128).astype(np.uint8)
    return x, y


def test_bias_column_of_ones_comes_first_and_data_is_float64():
    xb = with_bias(np.array([[0, 255], [7, 9]], dtype=np.uint8))
    assert xb.dtype == np.float64
    np.testing.assert_array_equal(xb, [[1.0, 0.0, 255.0], [1.0, 7.0, 9.0]])


def test_loss_is_scikit_learns_log_loss(tiny):
    x, y = tiny
    h = sigmoid(with_bias(x) @ np.linspace(-0.01, 0.01, 6))
    assert cross_entropy(y, h) == pytest.approx(log_loss(y, h), rel=1e-12)


def test_gradient_matches_finite_differences(tiny):
    x, y = tiny
    xb = with_bias(x) / 255  # scaled so that a step of 1e-6 stays in the linear regime
    w = np.linspace(-0.5, 0.5, xb.shape[1])
    analytic = gradient(xb, y, sigmoid(xb @ w))
    loss = lambda w: cross_entropy(y, sigmoid(xb @ w))  # noqa: E731
    numeric = [(loss(w + 1e-6 * e) - loss(w - 1e-6 * e)) / 2e-6 for e in np.eye(len(w))]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_loss_curve_starts_at_log_2_and_has_one_entry_per_update_plus_one(tiny):
    model = GradientDescentLogisticRegression(max_iter=7).fit(*tiny)
    assert len(model.loss_curve_) == 8 and model.n_iter_ == 7
    assert model.loss_curve_[0] == pytest.approx(np.log(2), abs=1e-15)


def test_weights_follow_the_update_rule_by_hand(tiny):
    x, y = tiny
    model = GradientDescentLogisticRegression(learning_rate=1e-4, max_iter=2).fit(x, y)
    xb, w = with_bias(x), np.zeros(6)
    for _ in range(2):
        w = w - 1e-4 * (xb.T @ (1 / (1 + np.exp(-xb @ w)) - y) / len(y))
    np.testing.assert_array_equal(model.coef_, w)


def test_predictions_are_the_class_with_positive_decision_function(tiny):
    x, y = tiny
    model = GradientDescentLogisticRegression(learning_rate=1e-4, max_iter=50).fit(x, y * 4)
    proba = model.predict_proba(x)
    np.testing.assert_array_equal(model.classes_, [0, 4])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(x), np.where(model.decision_function(x) > 0, 4, 0))
    np.testing.assert_array_equal(model.predict(x), np.where(proba[:, 1] > 0.5, 4, 0))
    assert model.score(x, y * 4) == pytest.approx(0.925)


def test_labels_of_more_or_fewer_than_two_classes_are_refused(tiny):
    with pytest.raises(ValueError):  # scikit-learn's check_classification_targets
        GradientDescentLogisticRegression().fit(tiny[0], np.arange(40) % 3)
    with pytest.raises(ValueError, match=r"expected labels of two classes, got 1 class: \[4\]"):
        GradientDescentLogisticRegression().fit(tiny[0], np.full(40, 4))


@parametrize_with_checks([GradientDescentLogisticRegression(max_iter=20)])
def test_passes_scikit_learns_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow
def test_loss_per_iteration_is_the_notebooks_on_full_mnist():
    images = read_idx(SHIPPED_MNIST / FILE_NAMES["train_images"]).reshape(60000, -1)
    is_4 = (read_idx(SHIPPED_MNIST / FILE_NAMES["train_labels"]) == 4).astype(np.uint8)
    model = GradientDescentLogisticRegression(learning_rate=0.00001, max_iter=200)
    losses = model.fit(images, is_4).loss_curve_
    assert len(losses) == 201
    for iteration, expected in NOTEBOOK_LOSSES.items():
        assert losses[iteration] == pytest.approx(expected, abs=1e-12), iteration


def test_committed_history_csv_holds_the_notebooks_losses():
    """metrics/gd_4/history.csv as committed: epoch i is the loss after i updates."""
    lines = (REPO / "metrics/gd_4/history.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss" and len(lines) == 1 + 201
    rows = {int(epoch): float(loss) for epoch, loss in (line.split(",") for line in lines[1:])}
    for iteration, expected in NOTEBOOK_LOSSES.items():
        assert rows[iteration] == pytest.approx(expected, abs=1e-12), iteration
