"""Scoring one trained model on the validation and test splits, and a k-fold cross-validation
on its training split for a model with ``cv`` (stage ``evaluate@<model>``)."""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mnist_pipeline.plumbing.files import atomic_dir, load_arrays, save_arrays, write_json, write_text
from mnist_pipeline.labels import check_classes, class_names, task_labels
from mnist_pipeline.plumbing.params import Dataset, Model
from mnist_pipeline.plumbing.progress import Progress
from mnist_pipeline.plumbing.registry import EstimatorSpec, build_estimator, estimator_spec
from mnist_pipeline.scoring import (
    confused_pairs_csv,
    confusion,
    cv_scores,
    per_class_csv,
    pr_curve_csv,
    precision_recall,
    predictions_csv,
    split_scores,
)
from mnist_pipeline.plumbing.threads import blas_threads, predict_rows

EVAL_SPLITS = ("val", "test")
log = logging.getLogger("evaluate")


def positive_scores(estimator: Any, x: np.ndarray) -> tuple[np.ndarray, str, float]:
    """A detector's score for the positive class, the name of the method that gave it, and the
    threshold above which ``predict`` says "positive": the decision function (> 0) where the
    estimator has one, else the probability of the positive class (> 0.5)."""
    if hasattr(estimator, "decision_function"):
        return estimator.decision_function(x), "decision_function", 0.0
    return estimator.predict_proba(x)[:, 1], "predict_proba", 0.5


def cross_validation(
    model: Model, spec: EstimatorSpec, features: Path, dataset: Dataset, kind: str
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """The gist's k-fold cross-validation of ``model`` (``model.cv`` folds, an estimator of
    ``spec``, of ``kind`` as ``evaluate`` found it) on the training split of ``features``, with
    scikit-learn's ``cv=model.cv`` folds (unshuffled and stratified for a classifier): what
    ``cross_val_predict`` does, one fold after another with progress on stderr; each fold's
    accuracy is that of its own predictions, what ``cross_val_score(..., scoring="accuracy")``
    would get by fitting the same k models again. Returns ``scores/cv.json``'s values, the
    labels and the cross-validated predictions, one per training image in order. The training
    labels must run over ``dataset.classes`` (``check_classes``)."""
    from sklearn.base import clone
    from sklearn.model_selection import check_cv

    data = load_arrays(features / "train.npz", ("X", "y"))
    check_classes({str(features / "train.npz"): data["y"]}, dataset.classes, dataset.key)
    y_true = task_labels(data["y"], model.target)
    estimator = build_estimator(spec, model.params, key_prefix=model.key)
    folds = list(check_cv(model.cv, y_true, classifier=True).split(data["X"], y_true))
    y_pred = np.empty_like(y_true)
    fold_accuracy = []
    with (
        blas_threads(spec.blas_threads),
        Progress(log, f"{model.name}: cross-validation fold", len(folds), unit="fold") as progress,
    ):
        for done, (train_rows, test_rows) in enumerate(folds, start=1):
            fitted = clone(estimator).fit(data["X"][train_rows], y_true[train_rows])
            y_pred[test_rows] = fitted.predict(data["X"][test_rows])
            fold_accuracy.append(float(np.mean(y_pred[test_rows] == y_true[test_rows])))
            progress.advance(done, f"accuracy {fold_accuracy[-1]:.4f}")
    matrix = confusion(y_true, y_pred, len(class_names(model.target, dataset.classes)))
    return cv_scores(fold_accuracy, matrix, kind), y_true, y_pred


def evaluate(
    model: Model,
    model_dir: Path,
    features: Path,
    metrics_dir: Path,
    out: Path,
    dataset: Dataset,
) -> None:
    """Predict every non-empty evaluation split and write, under ``metrics_dir``: ``scores/``
    (one JSON of fixed keys per split), ``predictions/test.csv``, ``per_class.csv``,
    ``confused_pairs.csv`` and ``pr_curve.csv`` (header only for a 10-class model); and under
    ``out`` the raw predictions, scores and curve that the pictures are drawn from. A model
    with ``cv`` also gets ``scores/cv.json`` and ``predictions/cv.csv``, from
    ``cross_validation`` on the training split. The labels must run over ``dataset.classes``
    (``check_classes``), which name the classes (label ``i`` first) in every table."""
    splits = {split: load_arrays(features / f"{split}.npz", ("X", "y")) for split in EVAL_SPLITS}
    check_classes(
        {str(features / f"{split}.npz"): data["y"] for split, data in splits.items()},
        dataset.classes,
        dataset.key,
    )
    spec = estimator_spec(model.estimator, key_prefix=model.key)
    with (model_dir / "model.pkl").open("rb") as fh:
        # Our own train stage's output, never a downloaded file.
        estimator = (spec.load_fitted or pickle.load)(fh)
    names = class_names(model.target, dataset.classes)
    kind = "classifier" if model.target is None else "detector"
    scores: dict[str, dict[str, float]] = {}
    matrices: dict[str, np.ndarray] = {}
    arrays: dict[str, np.ndarray] = {}
    labels: dict[str, np.ndarray] = {}
    curve = np.empty(0), np.empty(0), np.empty(0)
    started = time.perf_counter()
    for split, data in splits.items():
        if len(data["y"]) == 0:
            log.info("%s: no %s split in %s, not scored", model.name, split, features)
            continue
        y_true = labels[split] = task_labels(data["y"], model.target)
        ap = None
        with blas_threads(spec.blas_threads):
            y_pred = predict_rows(estimator, data["X"], threaded=spec.threaded_predict)
            if kind == "detector":
                score, score_kind, threshold = positive_scores(estimator, data["X"])
                *split_curve, ap = precision_recall(y_true, score)
                arrays[f"{split}_score"] = score.astype(np.float32)
                if split == "test":
                    curve = tuple(split_curve)
                    arrays.update(
                        score_kind=np.array(score_kind),
                        threshold=np.array(threshold),
                        curve_precision=curve[0],
                        curve_recall=curve[1],
                        test_ap=np.array(ap),
                    )
        matrices[split] = confusion(y_true, y_pred, len(names))
        scores[split] = split_scores(matrices[split], kind, split, ap)
        arrays[f"{split}_pred"] = y_pred
        log.info("%s: %s accuracy %.4f", model.name, split, scores[split]["acc"])
    predict_seconds = time.perf_counter() - started
    if "test" not in scores:
        raise ValueError(f"{features / 'test.npz'}: the test split is empty")
    cv_predictions = None
    if model.cv is not None:
        started = time.perf_counter()
        scores["cv"], *cv_predictions = cross_validation(model, spec, features, dataset, kind)
        log.info(
            "%s: %d-fold cross-validation accuracy %.4f (sd %.4f) in %.1f s",
            model.name,
            model.cv,
            scores["cv"]["acc"],
            scores["cv"]["acc_sd"],
            time.perf_counter() - started,
        )

    with atomic_dir(metrics_dir / "scores") as tmp:
        for split, values in scores.items():
            write_json(tmp / f"{split}.json", values)
    with atomic_dir(metrics_dir / "predictions") as tmp:
        write_text(tmp / "test.csv", predictions_csv(labels["test"], arrays["test_pred"], names))
        if cv_predictions is not None:
            write_text(tmp / "cv.csv", predictions_csv(*cv_predictions, names))
    ordered = {split: matrices[split] for split in ("test", "val") if split in matrices}
    write_text(metrics_dir / "per_class.csv", per_class_csv(ordered, names))
    write_text(metrics_dir / "confused_pairs.csv", confused_pairs_csv(matrices["test"], names))
    write_text(metrics_dir / "pr_curve.csv", pr_curve_csv(*curve))
    with atomic_dir(out) as tmp:
        save_arrays(tmp / "predictions.npz", arrays)
    log.info(
        "%s: predicted %s in %.1f s",
        model.name,
        " and ".join(split for split in scores if split in EVAL_SPLITS),
        predict_seconds,
    )
