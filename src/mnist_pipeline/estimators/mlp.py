"""``mlp``: scikit-learn's ``MLPClassifier``."""

from __future__ import annotations

from sklearn.neural_network import MLPClassifier

from mnist_pipeline.plumbing.registry import EstimatorSpec

SPEC = EstimatorSpec(MLPClassifier, "multi-layer perceptron", blas_threads=1)
