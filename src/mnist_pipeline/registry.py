"""The model registry: estimator names in ``params.yaml`` -> scikit-learn estimators.

Classes are named by import path and imported only when a model is built, so that reading
the registry (as the params loader does) costs no scikit-learn import. The one estimator
defined here, ``CosineNearestNeighbor``, needs no scikit-learn at all; the IDX notebook's
``GradientDescentLogisticRegression`` has a module of its own (``gradient_descent``).
"""

from __future__ import annotations

import contextlib
import importlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class EstimatorSpec:
    class_path: str
    description: str
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Short names accepted in params.yaml for scikit-learn's own (``k`` -> ``n_neighbors``)."""
    threaded_predict: bool = False
    """``predict`` handles each row on its own in compiled code that releases the GIL (libsvm),
    so ``predict_rows`` may split the rows over one thread per core: the same predictions."""
    blas_threads: int | None = None
    """Threads BLAS may use while the model is fitted or scored (None: BLAS's default, one per
    core). 1 for estimators that multiply many small or skinny matrices (mini-batches of 64
    rows, 10 classes): there a second thread costs more in synchronisation than it computes,
    and on a busy machine much more (a 3 s fit took 20 s), and the fitted numbers then do not
    depend on the machine's number of cores."""


ESTIMATORS: dict[str, EstimatorSpec] = {
    "knn": EstimatorSpec(
        "sklearn.neighbors.KNeighborsClassifier",
        "k-nearest neighbours (metric: cosine, algorithm: brute = blocked matrix product)",
        aliases={"k": "n_neighbors"},
    ),
    "cosine_1nn": EstimatorSpec(
        "mnist_pipeline.registry.CosineNearestNeighbor",
        "1-nearest neighbour by cosine similarity: float32 matrix products in bounded blocks",
    ),
    "svc": EstimatorSpec("sklearn.svm.SVC", "support vector classifier", threaded_predict=True),
    "mlp": EstimatorSpec(
        "sklearn.neural_network.MLPClassifier", "multi-layer perceptron", blas_threads=1
    ),
    "logistic_regression": EstimatorSpec(
        "sklearn.linear_model.LogisticRegression", "logistic regression", blas_threads=1
    ),
    "sgd": EstimatorSpec(
        "sklearn.linear_model.SGDClassifier", "linear model fitted by SGD", blas_threads=1
    ),
    "dummy": EstimatorSpec("sklearn.dummy.DummyClassifier", "a baseline that ignores its input"),
    "gradient_descent": EstimatorSpec(
        "mnist_pipeline.gradient_descent.GradientDescentLogisticRegression",
        "binary logistic regression by full-batch gradient descent (IDX notebook, from scratch)",
        blas_threads=1,
    ),
    "extra_trees": EstimatorSpec(
        "sklearn.ensemble.ExtraTreesClassifier", "extremely randomised trees"
    ),
}


class EstimatorParamError(ValueError):
    """An estimator parameter scikit-learn refuses, named by its params.yaml key."""


def _estimator_class(name: str) -> type:
    module_name, _, class_name = ESTIMATORS[name].class_path.rpartition(".")
    return getattr(importlib.import_module(module_name), class_name)


def sklearn_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Translate params.yaml names to scikit-learn's (lists become tuples for layer sizes)."""
    aliases = ESTIMATORS[name].aliases
    translated = {}
    for key, value in params.items():
        translated[aliases.get(key, key)] = tuple(value) if isinstance(value, list) else value
    return translated


def build_estimator(name: str, params: Mapping[str, Any], *, key_prefix: str) -> Any:
    """Build and validate an unfitted estimator before any training starts.

    ``key_prefix`` (``models.svm``) names where the parameters came from, so a refusal reads
    ``models.svm.C: ...`` rather than scikit-learn's message alone.
    """
    cls = _estimator_class(name)
    for alias, own in ESTIMATORS[name].aliases.items():
        if alias in params and own in params:
            raise EstimatorParamError(
                f"{key_prefix}.{alias}: expected one of {alias} and {own} "
                "(the same parameter), got both"
            )
    translated = sklearn_params(name, params)
    reverse = {v: k for k, v in ESTIMATORS[name].aliases.items()}
    accepted = cls().get_params()
    unknown = sorted(reverse.get(k, k) for k in translated if k not in accepted)
    if unknown:
        allowed = sorted(set(accepted) | set(ESTIMATORS[name].aliases))
        raise EstimatorParamError(
            f"{key_prefix}.{unknown[0]}: not a parameter of {cls.__name__} "
            f"(estimator '{name}'); expected one of: {', '.join(allowed)}"
        )
    estimator = cls(**translated)
    try:
        # scikit-learn checks parameter values only in fit(); check them now, before the data
        # is loaded and hours are spent.
        estimator._validate_params()
    except (ValueError, TypeError) as err:  # scikit-learn's InvalidParameterError is both
        bad = next((k for k in translated if f"'{k}'" in str(err)), None)
        where = f"{key_prefix}.{reverse.get(bad, bad)}" if bad else key_prefix
        raise EstimatorParamError(f"{where}: {err}") from None
    if hasattr(estimator, "_check_algorithm_metric"):
        _check_neighbors_metric(estimator, key_prefix)
    return estimator


def _check_neighbors_metric(estimator: Any, key_prefix: str) -> None:
    """A nearest-neighbours metric must be computed from feature rows and be one its
    ``algorithm`` supports: scikit-learn finds out only in fit() or predict()."""
    metric = estimator.metric
    if metric == "precomputed":
        raise EstimatorParamError(
            f"{key_prefix}.metric: expected a metric of feature rows, got "
            "'precomputed' (the stages pass features, not distances)"
        )
    try:
        estimator._check_algorithm_metric()
    except ValueError:
        from sklearn.neighbors import VALID_METRICS

        valid = ", ".join(
            sorted(m for m in VALID_METRICS.get(estimator.algorithm, ()) if isinstance(m, str))
        )
        raise EstimatorParamError(
            f"{key_prefix}.metric: expected one of the metrics algorithm "
            f"{estimator.algorithm} supports ({valid}), got {metric!r}"
        ) from None


def check_training_data(
    estimator: Any,
    params: Mapping[str, Any],
    labels: np.ndarray,
    *,
    key_prefix: str,
    source: str,
) -> None:
    """Refuse, before fitting, what the training data makes impossible: fewer than two
    classes, or more neighbours than training rows (``source`` names the data's file)."""
    classes = np.unique(labels)
    if len(classes) < 2:
        found = ", ".join(map(str, classes)) or "none"
        raise EstimatorParamError(
            f"{source}: expected training labels of at least 2 classes "
            f"for {key_prefix}, got only class {found}"
        )
    neighbours = estimator.get_params().get("n_neighbors")
    if isinstance(neighbours, int) and neighbours > len(labels):
        key = "k" if "k" in params else "n_neighbors"
        raise EstimatorParamError(
            f"{key_prefix}.{key}: expected at most the {len(labels)} "
            f"training rows of {source}, got {neighbours}"
        )


@contextlib.contextmanager
def blas_threads(name: str) -> Iterator[None]:
    """Within the block, BLAS uses the estimator's ``blas_threads`` (see ``EstimatorSpec``)."""
    limit = ESTIMATORS[name].blas_threads
    if limit is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit, user_api="blas"):
        yield


def predict_rows(name: str, estimator: Any, x: np.ndarray) -> np.ndarray:
    """``estimator.predict(x)``; for estimators registered with ``threaded_predict`` (SVC:
    libsvm predicts row by row without the GIL), one slice of ``x`` per core in threads, which
    gives the same predictions in about half the time on two cores."""
    workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    workers = min(workers or 1, len(x))
    if not ESTIMATORS[name].threaded_predict or workers < 2:
        return estimator.predict(x)
    from concurrent.futures import ThreadPoolExecutor

    slices = np.array_split(x, workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return np.concatenate(list(pool.map(estimator.predict, slices)))


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit Euclidean length in float32 (all-zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, np.float32(1e-12)))


class CosineNearestNeighbor:
    """1-nearest neighbour by cosine similarity: the nearest-neighbour notebook's classifier.

    ``fit`` keeps the training rows scaled to unit length (float32); ``predict`` gives each row
    the label of the training row with the largest dot product with its own unit row, i.e. the
    largest cosine similarity (ties go to the first such training row). The similarities are
    computed ``block_rows`` rows at a time as one float32 matrix product into a reused buffer
    (``block_rows`` x n_train floats: 100 MB for 512 x 50,000), so memory stays bounded and
    the whole n_test x n_train matrix never exists. Its predictions are those of
    ``KNeighborsClassifier(n_neighbors=1, metric="cosine", algorithm="brute")`` (a test checks
    it on real digits; on the full MNIST both give 97.08% on pixels and 97.03% on PCA-60).

    Why not scikit-learn's own: on the full MNIST (50,000 training rows, val and test to
    predict; ``benchmarks/results.json``, two cores) its cosine brute force builds a distance
    matrix per chunk and partially sorts it: 1.7x this class's time on pixels, 9x on PCA-60,
    and 1.9 GB of memory; ``metric="euclidean"`` on unit rows finds the same neighbours through
    a float64 pairwise-distance reduction: 2.2x and 3x. They would make the ``evaluate@nearest``
    stage about 2x and 2.5x the bare float32 product it needs; with this class it takes 1.1x,
    and it imports no scikit-learn (0.8 s of start-up saved in each of its stages).
    """

    def __init__(self, block_rows: int = 512) -> None:
        self.block_rows = block_rows

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"block_rows": self.block_rows}

    def set_params(self, **params: Any) -> CosineNearestNeighbor:
        for key, value in params.items():
            if key not in self.get_params():
                raise ValueError(f"Invalid parameter {key!r} for {type(self).__name__}")
            setattr(self, key, value)
        return self

    def _validate_params(self) -> None:
        """Worded as scikit-learn words its own checks (``build_estimator`` names the key)."""
        value = self.block_rows
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(
                f"The 'block_rows' parameter of {type(self).__name__} must be an "
                f"int in the range [1, inf). Got {value!r} instead."
            )

    def fit(self, x: np.ndarray, y: np.ndarray) -> CosineNearestNeighbor:
        self._validate_params()
        x = np.asarray(x)
        y = np.asarray(y)
        if x.ndim != 2 or len(x) == 0 or len(x) != len(y):
            raise ValueError(
                f"expected a non-empty 2-D X with one label per row, got X of "
                f"shape {x.shape} and {len(y)} labels"
            )
        self.classes_, self.labels_ = np.unique(y, return_inverse=True)
        self.unit_rows_ = unit_rows(x)
        self.n_features_in_ = x.shape[1]
        return self

    def nearest(self, x: np.ndarray) -> np.ndarray:
        """Index of each row's nearest training row (largest cosine similarity)."""
        if not hasattr(self, "unit_rows_"):
            raise ValueError(f"this {type(self).__name__} is not fitted yet: call fit first")
        x = np.asarray(x)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"expected rows of {self.n_features_in_} features, got shape {x.shape}"
            )
        queries = unit_rows(x)
        train = self.unit_rows_
        block = max(1, min(int(self.block_rows), len(queries)))
        buffer = np.empty((block, len(train)), dtype=np.float32)
        nearest = np.empty(len(queries), dtype=np.intp)
        for start in range(0, len(queries), block):
            rows = queries[start : start + block]
            similarities = buffer[: len(rows)]
            np.matmul(rows, train.T, out=similarities)
            np.argmax(similarities, axis=1, out=nearest[start : start + len(rows)])
        return nearest

    def predict(self, x: np.ndarray) -> np.ndarray:
        nearest = self.nearest(x)
        return self.classes_[self.labels_[nearest]]
