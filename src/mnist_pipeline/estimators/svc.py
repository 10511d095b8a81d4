"""``svc``: scikit-learn's ``SVC``."""

from __future__ import annotations

from sklearn.svm import SVC

from mnist_pipeline.plumbing.registry import EstimatorSpec

SPEC = EstimatorSpec(SVC, "support vector classifier")
