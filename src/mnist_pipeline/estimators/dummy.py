"""``dummy``: scikit-learn's ``DummyClassifier``."""

from mnist_pipeline.estimators import EstimatorSpec

SPEC = EstimatorSpec("sklearn.dummy.DummyClassifier")
