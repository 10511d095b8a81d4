"""``extra_trees``: scikit-learn's ``ExtraTreesClassifier``."""

from mnist_pipeline.estimators import EstimatorSpec

SPEC = EstimatorSpec("sklearn.ensemble.ExtraTreesClassifier")
