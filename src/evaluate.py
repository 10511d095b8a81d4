"""Stage `evaluate@<model>`: score one trained model on the validation and test splits."""

from __future__ import annotations

import argparse
import logging
import pickle
import sys
import time
from pathlib import Path

import numpy as np

from mnist_pipeline.files import atomic_dir, load_arrays, save_arrays, write_json, write_text
from mnist_pipeline.params import Model, ParamsError, load_params
from mnist_pipeline.registry import blas_threads, class_names, predict_rows, task_labels
from mnist_pipeline.scoring import confusion, confusion_csv, detector_metrics, multiclass_metrics
from mnist_pipeline.stage import run_stage

EVAL_SPLITS = ("val", "test")
log = logging.getLogger("evaluate")


def positive_scores(estimator, x: np.ndarray) -> np.ndarray:
    """A detector's score for the positive class: its decision function, else its probability."""
    if hasattr(estimator, "decision_function"):
        return estimator.decision_function(x)
    return estimator.predict_proba(x)[:, 1]


def split_metrics(model: Model, y_true: np.ndarray, y_pred: np.ndarray,
                  score: np.ndarray | None) -> tuple[dict, np.ndarray]:
    matrix = confusion(y_true, y_pred, len(class_names(model.target)))
    if model.target is None:
        return multiclass_metrics(matrix), matrix
    from sklearn.metrics import average_precision_score

    metrics = detector_metrics(matrix)
    metrics["average_precision"] = round(float(average_precision_score(y_true, score)), 6)
    return metrics, matrix


def evaluate(model: Model, model_dir: Path, features: Path, metrics_dir: Path, out: Path) -> None:
    with (model_dir / "model.pkl").open("rb") as fh:
        estimator = pickle.load(fh)  # our own train stage's output, never a downloaded file
    metrics: dict = {}
    arrays: dict[str, np.ndarray] = {}
    matrices: dict[str, np.ndarray] = {}
    started = time.perf_counter()
    for split in EVAL_SPLITS:
        data = load_arrays(features / f"{split}.npz", ("X", "y"))
        y_true = task_labels(data["y"], model.target)
        with blas_threads(model.estimator):
            y_pred = predict_rows(model.estimator, estimator, data["X"])
            score = None if model.target is None else positive_scores(estimator, data["X"])
        metrics[split], matrices[split] = split_metrics(model, y_true, y_pred, score)
        arrays[f"{split}_pred"] = y_pred
        if score is not None:
            arrays[f"{split}_score"] = score.astype(np.float32)
        log.info("%s: %s accuracy %.4f", model.name, split, metrics[split]["accuracy"])
    predict_seconds = time.perf_counter() - started

    write_json(metrics_dir / "metrics.json", metrics)
    write_text(metrics_dir / "confusion.csv",
               confusion_csv(matrices["test"], class_names(model.target)))
    with atomic_dir(out) as tmp:
        save_arrays(tmp / "predictions.npz", arrays)
    log.info("%s: predicted val and test in %.1f s", model.name, predict_seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Score a trained model on the validation and test splits: writes "
        "metrics.json (accuracy, macro P/R/F1, per-digit accuracy, most-confused pairs; "
        "P/R/F1 of the positive class for a detector) and the test confusion.csv.",
    )
    parser.add_argument("--params", type=Path, required=True, help="params.yaml (models.<name>)")
    parser.add_argument("--model", required=True, help="the model's name under `models`")
    parser.add_argument("--model-dir", type=Path, required=True,
                        help="the train stage's folder (model.pkl)")
    parser.add_argument("--features", type=Path, required=True,
                        help="the feature stage's folder (val.npz, test.npz)")
    parser.add_argument("--metrics-dir", type=Path, required=True,
                        help="folder for metrics.json and confusion.csv")
    parser.add_argument("--out", type=Path, required=True,
                        help="folder for raw predictions and scores (predictions.npz)")
    args = parser.parse_args(argv)
    return run_stage(
        "evaluate",
        lambda: evaluate(load_params(args.params).model(args.model), args.model_dir,
                         args.features, args.metrics_dir, args.out),
        (ParamsError, FileNotFoundError),
    )


if __name__ == "__main__":
    sys.exit(main())
