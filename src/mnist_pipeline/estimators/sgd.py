"""``sgd``: scikit-learn's ``SGDClassifier``."""

from __future__ import annotations

from sklearn.linear_model import SGDClassifier

from mnist_pipeline.plumbing.registry import EstimatorSpec

SPEC = EstimatorSpec(SGDClassifier, "linear model fitted by SGD", blas_threads=1)
