"""Metrics the notebooks reported, derived from one confusion matrix per split.

scikit-learn counts the confusion matrix; accuracy, macro precision/recall/F1, per-digit
accuracy and the most-confused pairs all follow from it, so one pass over the predictions
serves them all. Values are rounded so that the same predictions give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

DIGITS = 6


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows are actual classes, columns predicted ones."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise division that gives 0 where the denominator is 0 (scikit-learn's
    ``zero_division=0``)."""
    numerator = numerator.astype(np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator),
                     where=denominator != 0)


def _round(value: float) -> float:
    return round(float(value), DIGITS)


def per_class_scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of every class."""
    true_positive = np.diag(matrix)
    precision = _ratio(true_positive, matrix.sum(axis=0))
    recall = _ratio(true_positive, matrix.sum(axis=1))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return precision, recall, f1


def most_confused(matrix: np.ndarray, top: int = 3) -> list[dict[str, int]]:
    """The ``top`` off-diagonal (actual, predicted) cells with the most errors; ties broken by
    actual, then predicted class, so the order is deterministic."""
    errors = matrix.copy()
    np.fill_diagonal(errors, 0)
    cells = [(int(-errors[a, p]), a, p) for a in range(len(errors)) for p in range(len(errors))
             if errors[a, p] > 0]
    return [{"actual": a, "predicted": p, "count": -neg} for neg, a, p in sorted(cells)[:top]]


def multiclass_metrics(matrix: np.ndarray) -> dict:
    precision, recall, f1 = per_class_scores(matrix)
    return {
        "accuracy": _round(np.trace(matrix) / matrix.sum()),
        "macro_precision": _round(precision.mean()),
        "macro_recall": _round(recall.mean()),
        "macro_f1": _round(f1.mean()),
        "per_digit_accuracy": {str(d): _round(r) for d, r in enumerate(recall)},
        "most_confused": {
            str(rank): pair for rank, pair in enumerate(most_confused(matrix), start=1)
        },
    }


def detector_metrics(matrix: np.ndarray) -> dict:
    """Metrics of a one-vs-rest detector: ``matrix`` is 2 x 2, class 1 the positive one."""
    precision, recall, f1 = per_class_scores(matrix)
    return {
        "accuracy": _round(np.trace(matrix) / matrix.sum()),
        "precision": _round(precision[1]),
        "recall": _round(recall[1]),
        "f1": _round(f1[1]),
        "true_positives": int(matrix[1, 1]),
        "false_positives": int(matrix[0, 1]),
        "false_negatives": int(matrix[1, 0]),
        "true_negatives": int(matrix[0, 0]),
    }


def confusion_frame(matrix: np.ndarray, labels: Sequence[str]) -> pd.DataFrame:
    """The matrix as a labelled table: one row per actual class, one column per prediction."""
    frame = pd.DataFrame(matrix, index=list(labels), columns=list(labels))
    frame.index.name = "actual/predicted"
    frame.columns.name = None
    return frame
