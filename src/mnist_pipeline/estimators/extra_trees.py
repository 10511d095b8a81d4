"""``extra_trees``: scikit-learn's ``ExtraTreesClassifier``."""

from __future__ import annotations

from sklearn.ensemble import ExtraTreesClassifier

from mnist_pipeline.plumbing.registry import EstimatorSpec

SPEC = EstimatorSpec(ExtraTreesClassifier, "extremely randomised trees")
