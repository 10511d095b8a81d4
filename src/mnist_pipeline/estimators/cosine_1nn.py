"""``cosine_1nn``: the nearest-neighbour notebook's 1-NN by cosine similarity, as float32 matrix
products in bounded blocks.

Ours, not ``KNeighborsClassifier(n_neighbors=1, metric="cosine")``: that one builds and sorts
a distance matrix per chunk, slower and bigger. ``CosineRows`` is the prediction in NumPy alone;
``CosineNearestNeighbor``, the scikit-learn estimator on it, is defined on first use, so that
importing this module (the params check) imports no scikit-learn.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from mnist_pipeline.estimators import EstimatorSpec, check_rules, integer

RULES = {"block_rows": integer(1)}


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean length in float32 (all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, np.float32(1e-12)))


class CosineRows:
    """A fitted 1-NN: the training rows at unit length (``unit_rows_``, float32), the index of
    each one's label in ``classes_`` (``labels_``), and ``block_rows``.

    ``predict`` gives each row the label of the training row with the largest dot product with
    its own unit row, i.e. the largest cosine similarity (ties go to the first such training
    row), ``block_rows`` rows at a time as one float32 matrix product into a reused buffer
    (``block_rows`` x n_train floats: 100 MB for 512 x 50,000): the whole n_test x n_train
    matrix never exists."""

    unit_rows_: np.ndarray
    labels_: np.ndarray
    classes_: np.ndarray
    block_rows: int

    def nearest(self, x: np.ndarray) -> np.ndarray:
        """Index of each row's nearest training row (largest cosine similarity)."""
        queries = unit_rows(x)
        train = self.unit_rows_
        if queries.ndim != 2 or queries.shape[1] != train.shape[1]:
            raise ValueError(f"expected rows of {train.shape[1]} features, got {queries.shape}")
        block = max(1, min(int(self.block_rows), len(queries)))
        buffer = np.empty((block, len(train)), dtype=np.float32)
        nearest = np.empty(len(queries), dtype=np.intp)
        for start in range(0, len(queries), block):
            rows = queries[start : start + block]
            similarities = buffer[: len(rows)]
            np.matmul(rows, train.T, out=similarities)
            np.argmax(similarities, axis=1, out=nearest[start : start + len(rows)])
        return nearest

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Per row and class (n_rows x n_classes), the largest cosine similarity to a training
        row of that class: the nearest row's class scores highest, and the gap to the next
        class is the 1-NN's margin (``predict`` does not use it). A tie between classes goes
        to the class ``predict`` answers (its score raised by one float32 step). For two
        classes, as scikit-learn's classifiers, one column: the second's score less the
        first's."""
        queries = unit_rows(x)
        if queries.ndim != 2 or queries.shape[1] != self.unit_rows_.shape[1]:
            raise ValueError(
                f"expected rows of {self.unit_rows_.shape[1]} features, got {queries.shape}"
            )
        scores = np.empty((len(queries), len(self.classes_)), dtype=np.float32)
        members = [self.labels_ == c for c in range(len(self.classes_))]
        for start in range(0, len(queries), max(1, int(self.block_rows))):
            rows = queries[start : start + int(self.block_rows)]
            similarities = rows @ self.unit_rows_.T
            block = scores[start : start + len(rows)]
            for c, member in enumerate(members):
                block[:, c] = similarities[:, member].max(axis=1)
            winner = self.labels_[np.argmax(similarities, axis=1)]
            tied = np.flatnonzero(np.argmax(block, axis=1) != winner)
            block[tied, winner[tied]] = np.nextafter(block[tied, winner[tied]], np.float32(2))
        return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The label of each row's nearest training row."""
        nearest = self.nearest(x)
        return self.classes_[self.labels_[nearest]]


@functools.cache
def _estimator_class() -> type:
    """``CosineNearestNeighbor``, defined on its first use: it imports scikit-learn."""
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data

    class CosineNearestNeighbor(ClassifierMixin, BaseEstimator, CosineRows):
        """1-nearest neighbour by cosine similarity: the nearest-neighbour notebook's
        classifier, predicting as ``CosineRows``. Its predictions are those of
        ``KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")``, which
        builds a distance matrix per chunk and sorts it: slower and bigger."""

        def __init__(self, block_rows: int = 512) -> None:
            self.block_rows = block_rows

        def fit(self, x: np.ndarray, y: np.ndarray) -> CosineNearestNeighbor:
            """Keep the training rows, scaled to unit length, and their labels."""
            check_rules(self, RULES)
            x, y = validate_data(self, x, y)
            check_classification_targets(y)
            self.classes_, self.labels_ = np.unique(y, return_inverse=True)
            self.unit_rows_ = unit_rows(x)
            return self

        def nearest(self, x: np.ndarray) -> np.ndarray:
            """Index of each row's nearest training row, after scikit-learn's input checks."""
            check_is_fitted(self)
            return super().nearest(validate_data(self, x, reset=False))

        def decision_function(self, x: np.ndarray) -> np.ndarray:
            """``CosineRows.decision_function``, after scikit-learn's input checks."""
            check_is_fitted(self)
            return super().decision_function(validate_data(self, x, reset=False))

    CosineNearestNeighbor.__qualname__ = CosineNearestNeighbor.__name__  # found by skops
    return CosineNearestNeighbor


def __getattr__(name: str) -> Any:
    """``CosineNearestNeighbor`` (PEP 562: this module's attribute, built on first use)."""
    if name == "CosineNearestNeighbor":
        return _estimator_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


SPEC = EstimatorSpec(
    f"{__name__}.CosineNearestNeighbor",
    check_params=lambda estimator, key: check_rules(estimator, RULES, key),
)
