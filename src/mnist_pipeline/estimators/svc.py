"""``svc``: scikit-learn's ``SVC``."""

from mnist_pipeline.estimators import EstimatorSpec

SPEC = EstimatorSpec("sklearn.svm.SVC")
