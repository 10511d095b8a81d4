"""Threads while a model is fitted or scored, as its estimator's ``SPEC`` asks (the caller
passes the spec's values): BLAS's thread count (``blas_threads``) and row-parallel prediction
(``threaded_predict``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np


@contextlib.contextmanager
def blas_threads(limit: int | None) -> Iterator[None]:
    """Within the block, BLAS uses ``limit`` threads (a spec's ``blas_threads``; None: BLAS's
    own default)."""
    if limit is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit, user_api="blas"):
        yield


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def predict_in_slices(estimator: Any, x: np.ndarray) -> np.ndarray:
    """``estimator.predict(x)`` on one slice of ``x`` per core, in threads, the slices'
    predictions joined: the same predictions in less time for an estimator whose ``predict``
    handles each row on its own in code that releases the GIL (libsvm)."""
    workers = min(available_cores(), len(x))
    if workers < 2:
        return estimator.predict(x)
    from concurrent.futures import ThreadPoolExecutor

    slices = np.array_split(x, workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return np.concatenate(list(pool.map(estimator.predict, slices)))


def predict_rows(estimator: Any, x: np.ndarray, *, threaded: bool) -> np.ndarray:
    """``estimator.predict(x)``; ``predict_in_slices`` if ``threaded`` (a spec's
    ``threaded_predict``)."""
    return predict_in_slices(estimator, x) if threaded else estimator.predict(x)
