"""``sgd``: scikit-learn's ``SGDClassifier``."""

from mnist_pipeline.estimators import EstimatorSpec

SPEC = EstimatorSpec("sklearn.linear_model.SGDClassifier", blas_threads=1)
