"""Measurements on the benchmark's copy after its cold run, each in a fresh interpreter
(``python -m bench.probes <probe> COPY [ARGS]`` prints one JSON line): ``bare_matmul``, the
float32 products ``evaluate@nearest`` needs and nothing else; ``svm_fit SIDE``, ``models.svm``
fitted and predicting as ``today`` (estimator ``svc``: scikit-learn's ``SVC``, predicting one
row slice per core) or as the ``pipeline`` fits it, each as its estimator's spec says."""

from __future__ import annotations

import hashlib
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from mnist_pipeline.estimators.cosine_1nn import unit_rows
from mnist_pipeline.labels import task_labels
from mnist_pipeline.plumbing.params import load_params
from mnist_pipeline.plumbing.registry import build_estimator, estimator_spec

SIDES = ("today", "pipeline")


def features(copy: Path, model: str, splits: tuple[str, ...]) -> dict:
    folder = copy / "stages" / load_params(copy / "params.yaml").model(model).features
    return {split: np.load(folder / f"{split}.npz") for split in splits}


def bare_matmul(copy: Path, block_rows: int = 512) -> dict:
    """Seconds of ``evaluate@nearest``'s matrix products alone."""
    data = features(copy, "nearest", ("train", "val", "test"))
    train = unit_rows(data["train"]["X"])
    queries = [unit_rows(data[split]["X"]) for split in ("val", "test")]
    buffer = np.empty((block_rows, len(train)), dtype=np.float32)
    started = time.perf_counter()
    for rows in queries:
        for start in range(0, len(rows), block_rows):
            block = rows[start : start + block_rows]
            np.matmul(block, train.T, out=buffer[: len(block)])
    return {"seconds": round(time.perf_counter() - started, 3)}


def svm_fit(copy: Path, side: str, model_name: str = "svm") -> dict:
    """Fit and predict seconds, test accuracy and a digest of the predictions."""
    model = load_params(copy / "params.yaml").model(model_name)
    if side not in SIDES:
        raise ValueError(f"svm_fit: side: expected one of {', '.join(SIDES)}, got {side!r}")
    spec = estimator_spec("svc" if side == "today" else model.estimator, key_prefix=model.key)
    estimator = build_estimator(spec, model.params, key_prefix=model.key)
    data = features(copy, model_name, ("train", "test"))
    y_train, y_test = (task_labels(data[s]["y"], model.target) for s in ("train", "test"))
    with warnings.catch_warnings(), threadpool_limits(spec.blas_threads, user_api="blas"):
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        estimator.fit(data["train"]["X"], y_train)
        fitted = time.perf_counter()
        predicted = estimator.predict(data["test"]["X"])
        done = time.perf_counter()
    predicted = np.asarray(predicted).astype(np.int64)
    return {
        "fit": round(fitted - started, 3),
        "predict": round(done - fitted, 3),
        "accuracy": round(float(np.mean(predicted == y_test)), 6),
        "sha256": hashlib.sha256(predicted.tobytes()).hexdigest(),
    }


if __name__ == "__main__":
    name, copy, *args = sys.argv[1:]  # the probe, the copy, the probe's own arguments
    probe = {"bare_matmul": bare_matmul, "svm_fit": svm_fit}[name]
    print(json.dumps(probe(Path(copy), *(int(a) if a.isdigit() else a for a in args))))
