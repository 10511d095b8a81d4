"""``logistic_regression``: scikit-learn's ``LogisticRegression``."""

from mnist_pipeline.estimators import EstimatorSpec

SPEC = EstimatorSpec("sklearn.linear_model.LogisticRegression", blas_threads=1)
