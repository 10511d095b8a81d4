"""``one_vs_one_svc``: scikit-learn's ``SVC``, its one-vs-one pairs fitted in parallel threads.
Ours because it is faster: 0.34-0.75 of SVC's fit time on two cores, where
``OneVsOneClassifier(SVC())`` took 0.96 and broke ties unlike libsvm (docs/models.md)."""

from __future__ import annotations

import dataclasses
import itertools
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Annotated, Any, Literal

import numpy as np
from joblib import cpu_count
from pydantic import PositiveFloat, PositiveInt
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.svm import SVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from tqdm import tqdm

from mnist_pipeline.estimators import EstimatorSpec, check_values
from mnist_pipeline.params import rule


def _is_gamma(value: Any) -> bool:
    return value in ("scale", "auto") or (not isinstance(value, str) and value >= 0)


@dataclasses.dataclass(eq=False, repr=False)  # sklearn's repr, identity equality
class OneVsOneSVC(ClassifierMixin, BaseEstimator):
    """``SVC`` with each pair of classes its own ``SVC`` fit in ``n_jobs`` threads (libsvm frees
    the GIL), ``gamma`` resolved once on all rows; predicts per ``block_rows`` and votes as libsvm.
    ``pair_coef_`` is n_support x n_pairs, pairs in the order (0, 1), (0, 2), ..., (1, 2), ..."""

    C: PositiveFloat = 1.0
    kernel: Literal["linear", "poly", "rbf", "sigmoid"] = "rbf"
    degree: int = 3
    gamma: Annotated[str | float, rule("scale, auto or a number >= 0", _is_gamma)] = "scale"
    coef0: float = 0.0
    shrinking: bool = True
    tol: float = 1e-3
    cache_size: float = 200
    max_iter: int = -1
    n_jobs: PositiveInt | None = None
    block_rows: PositiveInt = 1024

    def _resolved_gamma(self, x: np.ndarray) -> float:
        """``gamma`` as a number, from all the training rows as ``SVC`` resolves it."""
        if self.gamma == "scale":
            variance = x.var()
            return 1.0 / (x.shape[1] * variance) if variance != 0 else 1.0
        if self.gamma == "auto":
            return 1.0 / x.shape[1]
        return float(self.gamma)

    def fit(self, x: np.ndarray, y: np.ndarray) -> OneVsOneSVC:
        """Fit one binary ``SVC`` per pair of classes, ``n_jobs`` pairs at a time (default: one
        per available core), largest pairs first; a progress bar on a terminal."""
        check_values(self)  # ours; each pair's SVC checks the others
        x, y = validate_data(self, x, y, dtype=np.float64, order="C")
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"The number of classes has to be greater than one; got {len(self.classes_)} class"
            )
        self.gamma_ = self._resolved_gamma(x)
        pair_params = self.get_params() | {"gamma": self.gamma_}  # the rest are SVC's own
        del pair_params["n_jobs"], pair_params["block_rows"]
        pairs = self._pairs()
        counts = np.bincount(labels)

        def fit_pair(pair: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, float, int]:
            rows = np.flatnonzero((labels == pair[0]) | (labels == pair[1]))
            svc = SVC(**pair_params).fit(x[rows], labels[rows])
            return rows[svc.support_], svc.dual_coef_[0], svc.intercept_[0], svc.n_iter_[0]

        largest_first = sorted(pairs, key=lambda pair: -counts[list(pair)].sum())
        workers = min(self.n_jobs or cpu_count(), len(pairs))
        by_pair = {}
        with ThreadPoolExecutor(max_workers=workers) as pool:
            running = {pool.submit(fit_pair, pair): pair for pair in largest_first}
            done = as_completed(running)
            for future in tqdm(done, "one_vs_one_svc: pairs", len(pairs), False, disable=None):
                by_pair[running[future]] = future.result()
        supports, coefs, intercepts, iterations = zip(*(by_pair[p] for p in pairs), strict=True)
        self.support_ = np.unique(np.concatenate(supports))
        self.support_vectors_ = x[self.support_]
        self.n_support_ = np.bincount(labels[self.support_], minlength=len(self.classes_))
        self.pair_coef_ = np.zeros((len(self.support_), len(pairs)))
        for p, (support, coef) in enumerate(zip(supports, coefs, strict=True)):
            self.pair_coef_[np.searchsorted(self.support_, support), p] = coef
        self.intercept_ = np.array(intercepts)
        self.n_iter_ = np.array(iterations)
        return self

    def pair_decisions(self, x: np.ndarray) -> np.ndarray:
        """Each pair's decision value per row (n_rows x n_pairs): positive for the pair's
        second class, as a binary ``SVC``'s ``decision_function``."""
        check_is_fitted(self)
        x = validate_data(self, x, reset=False, dtype=np.float64, order="C")
        decisions = np.empty((len(x), len(self.intercept_)))
        kernel = {"metric": self.kernel, "filter_params": True, "gamma": self.gamma_}
        kernel |= {"degree": self.degree, "coef0": self.coef0}
        for start in range(0, len(x), self.block_rows):
            block = slice(start, start + self.block_rows)
            values = pairwise_kernels(x[block], self.support_vectors_, **kernel)
            np.matmul(values, self.pair_coef_, out=decisions[block])
        return decisions + self.intercept_

    def _pairs(self) -> list[tuple[int, int]]:
        """The pairs of class indices, in libsvm's order."""
        return list(itertools.combinations(range(len(self.classes_)), 2))

    def _votes(self, for_second: np.ndarray) -> np.ndarray:
        """Votes per row and class, each pair voting for its second class where ``for_second``
        (n_rows x n_pairs) holds, else for its first."""
        votes = np.zeros((len(for_second), len(self.classes_)), dtype=np.intp)
        for p, (first, second) in enumerate(self._pairs()):
            votes[:, second] += for_second[:, p]
            votes[:, first] += ~for_second[:, p]
        return votes

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The class with the most pairwise votes; ties go to the first class (libsvm's rule:
        a pair votes for its first class only where its decision value is negative)."""
        votes = self._votes(self.pair_decisions(x) >= 0)
        return self.classes_[np.argmax(votes, axis=1)]

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """``SVC``'s ``decision_function``: for two classes the pair's decision value (positive
        for ``classes_[1]``); otherwise one column per class, its votes plus its summed
        confidence squashed into (-1/3, 1/3)."""
        decisions = self.pair_decisions(x)
        if len(self.classes_) == 2:
            return decisions[:, 0]
        votes = self._votes(decisions > 0)
        confidence = np.zeros(votes.shape)
        for p, (first, second) in enumerate(self._pairs()):
            confidence[:, second] += decisions[:, p]
            confidence[:, first] -= decisions[:, p]
        return votes + confidence / (3 * (np.abs(confidence) + 1))


SPEC = EstimatorSpec(OneVsOneSVC)
