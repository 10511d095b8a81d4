"""``cosine_1nn``: the notebook's 1-NN by cosine similarity, float32 matrix products in blocks.
Ours: ``KNeighborsClassifier(n_neighbors=1, metric="cosine")`` predicts the same but builds and
sorts a distance matrix per chunk, slower and bigger."""

from __future__ import annotations

import numpy as np
from pydantic import PositiveInt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from mnist_pipeline.estimators import EstimatorSpec, check_values


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean length in float32 (all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, np.float32(1e-12)))


class CosineNearestNeighbor(ClassifierMixin, BaseEstimator):
    """1-nearest neighbour by cosine similarity: each row gets the label of the training row
    whose unit row has the largest dot product with its own (ties to the first such row),
    ``block_rows`` rows at a time into a reused buffer (100 MB for 512 x 50,000 rows)."""

    def __init__(self, block_rows: PositiveInt = 512) -> None:
        self.block_rows = block_rows

    def fit(self, x: np.ndarray, y: np.ndarray) -> CosineNearestNeighbor:
        """Keep the training rows, scaled to unit length, and their labels."""
        check_values(self)
        x, y = validate_data(self, x, y)
        check_classification_targets(y)
        self.classes_, self.labels_ = np.unique(y, return_inverse=True)
        self.unit_rows_ = unit_rows(x)
        return self

    def _queries(self, x: np.ndarray) -> np.ndarray:
        check_is_fitted(self)
        return unit_rows(validate_data(self, x, reset=False))

    def nearest(self, x: np.ndarray) -> np.ndarray:
        """Index of each row's nearest training row (largest cosine similarity)."""
        queries, train = self._queries(x), self.unit_rows_
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
        """Per row and class, the largest cosine similarity to a training row of that class (a
        tie goes to the class ``predict`` answers, raised one float32 step); for two classes, as
        scikit-learn's classifiers, one column: the second's score less the first's."""
        queries = self._queries(x)
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
        nearest = self.nearest(x)  # first: it checks that the model is fitted
        return self.classes_[self.labels_[nearest]]


SPEC = EstimatorSpec(CosineNearestNeighbor)
