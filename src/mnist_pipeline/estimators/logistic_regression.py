"""``logistic_regression``: scikit-learn's ``LogisticRegression``."""

from __future__ import annotations

from sklearn.linear_model import LogisticRegression

from mnist_pipeline.plumbing.registry import EstimatorSpec

SPEC = EstimatorSpec(LogisticRegression, "logistic regression", blas_threads=1)
