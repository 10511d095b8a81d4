"""``gradient_descent``: the IDX notebook's binary logistic regression from scratch, kept exactly
so that each iteration's loss is the notebook's to about 1e-16: a bias column of ones before the
float64 pixels, zero weights, full-batch gradient descent on the mean binary cross-entropy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import NonNegativeInt, PositiveFloat
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from mnist_pipeline.estimators import EstimatorSpec, check_values


def with_bias(x: np.ndarray) -> np.ndarray:
    """``x`` as float64 with a column of ones in front (one cast, one contiguous array)."""
    x = np.asarray(x)
    out = np.empty((x.shape[0], x.shape[1] + 1), dtype=np.float64)
    out[:, 0] = 1.0
    out[:, 1:] = x
    return out


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, written as ``1 / (1 + exp(-z))`` as the notebook did."""
    return 1 / (1 + np.exp(-z))


def cross_entropy(y: np.ndarray, h: np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities ``h`` for 0/1 labels ``y``."""
    return float(-np.mean(y * np.log(h) + (1 - y) * np.log(1 - h)))


def gradient(xb: np.ndarray, y: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Gradient of ``cross_entropy`` with respect to the weights: ``X.T @ (h - y) / m``."""
    return xb.T @ (h - y) / len(y)


class GradientDescentLogisticRegression(ClassifierMixin, BaseEstimator):
    """Binary logistic regression by full-batch gradient descent; the larger label is the
    positive class. ``coef_``: bias first; ``loss_curve_``: the loss before the first update
    (log 2) and after each of the ``max_iter`` updates."""

    loss_curve_start = 0  # history.csv's epoch of loss_curve_[0], the loss before any update
    loss_curve_digits = 15  # history.csv's decimals: enough to compare with the notebook's

    def __init__(self, learning_rate: PositiveFloat = 1e-5, max_iter: NonNegativeInt = 200) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        validation: tuple[np.ndarray, np.ndarray] | None = None,
        log: Callable[..., None] | None = None,
    ) -> GradientDescentLogisticRegression:
        """Run ``max_iter`` updates from zero weights, calling ``log(iteration, loss=...)`` (and
        ``val_acc=`` on ``validation`` (rows, labels), where it has rows) at each loss."""
        check_values(self)
        x, y = validate_data(self, x, y)
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if kind != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {kind}."
            )
        self.classes_ = np.unique(y)
        if len(self.classes_) != 2:
            raise ValueError(
                f"expected labels of two classes, got 1 class: {self.classes_.tolist()}"
            )
        xb = with_bias(x)
        target = (y == self.classes_[1]).astype(np.float64)
        weights = np.zeros(xb.shape[1])
        losses = []
        self.val_accuracy_ = []
        for step in range(self.max_iter + 1):
            h = sigmoid(xb @ weights)
            losses.append(cross_entropy(target, h))
            metrics = {"loss": losses[-1]}
            if validation is not None and len(validation[1]):
                self.coef_ = weights
                accuracy = float(np.mean(self.predict(validation[0]) == validation[1]))
                self.val_accuracy_.append(accuracy)
                metrics["val_acc"] = accuracy
            if log is not None:
                log(step, **metrics)
            if step < self.max_iter:
                weights = weights - self.learning_rate * gradient(xb, target, h)
        self.coef_ = weights
        self.loss_curve_ = losses
        self.n_iter_ = self.max_iter
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """``X @ w`` with the bias: positive where the positive class is the more likely."""
        check_is_fitted(self)
        return with_bias(validate_data(self, x, reset=False)) @ self.coef_

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probabilities of ``classes_[0]`` and ``classes_[1]``, one row per sample."""
        h = sigmoid(self.decision_function(x))
        return np.column_stack([1 - h, h])

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The positive class where ``X @ w`` is above 0, as scikit-learn's linear classifiers
        decide (not the probability above 0.5: ``sigmoid`` rounds tiny values to 0.5)."""
        positive = self.decision_function(x) > 0
        return self.classes_[positive.astype(np.intp)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


SPEC = EstimatorSpec(GradientDescentLogisticRegression, blas_threads=1, learns_in_steps=True)
