"""``dummy``: scikit-learn's ``DummyClassifier``."""

from __future__ import annotations

from sklearn.dummy import DummyClassifier

from mnist_pipeline.plumbing.registry import EstimatorSpec

SPEC = EstimatorSpec(DummyClassifier, "a baseline that ignores its input")
