"""Metrics the notebooks reported, derived from one confusion matrix per split.

One confusion matrix is counted per split; accuracy, macro precision/recall/F1, per-digit
accuracy and the most-confused pairs all follow from it, so one pass over the predictions
serves them all. Values are rounded so that the same predictions give the same bytes. The
tests check every number against scikit-learn's own metric functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DIGITS = 6


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows are actual classes, columns predicted ones (scikit-learn's ``confusion_matrix``
    with ``labels=range(n_classes)``), counted with one ``bincount``: importing scikit-learn's
    metrics would be most of the start-up of stages that need nothing else from it."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n_classes + y_pred,
                       minlength=n_classes * n_classes).reshape(n_classes, n_classes)


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


def most_confused(matrix: np.ndarray, top: int = 3) -> dict[str, int]:
    """The ``top`` off-diagonal cells with the most errors, as ``{"4->9": count}`` (actual 4
    taken for 9); ties broken by actual, then predicted class.

    Keyed by the pair rather than by rank, so that ``dvc metrics diff`` compares the count of
    the same mistake across revisions instead of subtracting digit labels."""
    errors = matrix.copy()
    np.fill_diagonal(errors, 0)
    cells = [(int(-errors[a, p]), a, p) for a in range(len(errors)) for p in range(len(errors))
             if errors[a, p] > 0]
    return {f"{a}->{p}": -neg for neg, a, p in sorted(cells)[:top]}


def multiclass_metrics(matrix: np.ndarray) -> dict:
    precision, recall, f1 = per_class_scores(matrix)
    return {
        "accuracy": _round(np.trace(matrix) / matrix.sum()),
        "macro_precision": _round(precision.mean()),
        "macro_recall": _round(recall.mean()),
        "macro_f1": _round(f1.mean()),
        "per_digit_accuracy": {str(d): _round(r) for d, r in enumerate(recall)},
        "most_confused": most_confused(matrix),
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


def confusion_csv(matrix: np.ndarray, labels: Sequence[str]) -> str:
    """The matrix as a labelled CSV table: one row per actual class, one column per
    prediction, the corner cell naming both axes."""
    lines = [",".join(["actual/predicted", *labels])]
    lines += [",".join([label, *map(str, row)]) for label, row in zip(labels, matrix, strict=True)]
    return "\n".join(lines) + "\n"
