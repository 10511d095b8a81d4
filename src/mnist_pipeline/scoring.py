"""The numbers a person compares, and the tables behind them, from one evaluation.

One confusion matrix is counted per split; accuracy, its 95% interval, macro F1 and each
class's accuracy follow from it. A detector's precision, recall and F1 are those of its
positive class; its average precision and precision-recall curve come from its scores.

Scores go to small JSON files with a fixed set of keys per kind of model (``SCORE_KEYS``),
so that ``dvc metrics show`` has one column per metric and never a key that depends on the
data; every table (per class, confused pairs, the curve, the predictions) goes to CSV. Values
are rounded so that the same predictions give the same bytes. The tests check every number
against scikit-learn's own metric functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mnist_pipeline.plumbing.files import csv_text

DIGITS = 4
CONFUSED_PAIRS = 10

SCORE_KEYS = {
    ("classifier", "test"): ("acc", "acc_lo", "acc_hi", "f1"),
    ("classifier", "val"): ("acc",),
    ("detector", "test"): ("acc", "acc_lo", "acc_hi", "f1", "p", "r", "ap"),
    ("detector", "val"): ("acc", "f1", "p", "r", "ap"),
}
"""The keys of ``scores/<split>.json`` for each kind of model and split. ``acc_lo`` and
``acc_hi`` bound the 95% Wilson interval of the accuracy; ``f1`` is the macro F1 of a 10-class
model and the positive class's F1 of a detector; ``p``, ``r`` and ``ap`` are a detector's
precision, recall and average precision."""


def wilson_interval(correct: int, total: int) -> tuple[float, float]:
    """The 95% Wilson score interval of ``correct / total`` (statsmodels): unlike the normal
    approximation it stays inside [0, 1], where a classifier's accuracy lives."""
    from statsmodels.stats.proportion import proportion_confint

    if total <= 0 or not 0 <= correct <= total:
        raise ValueError(f"expected 0 <= correct <= total and total > 0, got {correct}/{total}")
    low, high = proportion_confint(correct, total, alpha=0.05, method="wilson")
    return max(0.0, float(low)), min(1.0, float(high))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows are actual classes, columns predicted ones (scikit-learn's ``confusion_matrix``
    with ``labels=range(n_classes)``)."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    return np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes).reshape(
        n_classes, n_classes
    )


def accuracy(matrix: np.ndarray) -> float:
    """The share of a confusion matrix's items on its diagonal (0 for no items)."""
    correct, total = int(np.trace(matrix)), int(np.sum(matrix))
    return correct / total if total else 0.0


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Elementwise division that gives 0 where the denominator is 0 (scikit-learn's
    ``zero_division=0``)."""
    numerator = numerator.astype(np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def rounded(value: float) -> float:
    """``value`` to the ``DIGITS`` decimals of every score and table: same predictions, same
    bytes."""
    return round(float(value), DIGITS)


def per_class_scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of every class."""
    true_positive = np.diag(matrix)
    precision = _ratio(true_positive, matrix.sum(axis=0))
    recall = _ratio(true_positive, matrix.sum(axis=1))
    f1 = _ratio(2 * precision * recall, precision + recall)
    return precision, recall, f1


def split_scores(
    matrix: np.ndarray, kind: str, split: str, average_precision: float | None = None
) -> dict[str, float]:
    """The ``SCORE_KEYS[kind, split]`` scores of one split's confusion matrix (``kind`` is
    ``classifier`` or ``detector``, whose matrix is 2 x 2 with class 1 the positive one)."""
    keys = SCORE_KEYS[kind, split]
    correct, total = int(np.trace(matrix)), int(matrix.sum())
    precision, recall, f1 = per_class_scores(matrix)
    low, high = wilson_interval(correct, total)
    values = {"acc": accuracy(matrix), "acc_lo": low, "acc_hi": high}
    if kind == "classifier":
        values["f1"] = f1.mean()
    else:
        values.update(f1=f1[1], p=precision[1], r=recall[1], ap=average_precision)
    return {key: rounded(values[key]) for key in keys}


def cv_scores(fold_accuracy: Sequence[float], matrix: np.ndarray, kind: str) -> dict[str, float]:
    """``scores/cv.json`` of a cross-validation: the mean accuracy of the folds (``acc``), their
    standard deviation (``acc_sd``, ddof 0 as NumPy's ``std``), each fold's (``fold1``...) and
    the F1 of the cross-validated predictions' confusion ``matrix``: macro for a classifier,
    the positive class's for a detector, which also gets its precision ``p`` and recall ``r``."""
    folds = np.asarray(fold_accuracy, dtype=np.float64)
    values = {
        "acc": folds.mean(),
        "acc_sd": folds.std(),
        **{f"fold{i}": value for i, value in enumerate(folds, start=1)},
    }
    precision, recall, f1 = per_class_scores(matrix)
    if kind == "classifier":
        values["f1"] = f1.mean()
    else:
        values.update(f1=f1[1], p=precision[1], r=recall[1])
    return {key: rounded(value) for key, value in values.items()}


def per_class_csv(matrices: dict[str, np.ndarray], names: Sequence[str]) -> str:
    """Each class's accuracy (its recall) on every split: ``class,<split>,...``."""
    recalls = {split: per_class_scores(m)[1] for split, m in matrices.items()}
    rows = [[name, *(rounded(recalls[s][i]) for s in matrices)] for i, name in enumerate(names)]
    return csv_text(["class", *matrices], rows)


def confused_pairs_csv(matrix: np.ndarray, names: Sequence[str], top: int = CONFUSED_PAIRS) -> str:
    """The ``top`` off-diagonal cells with the most errors, most first (ties by actual, then
    predicted class): ``pair,actual,predicted,count`` with pair ``4->9`` for an actual 4 taken
    for a 9."""
    errors = np.array(matrix, copy=True)
    np.fill_diagonal(errors, 0)
    cells = sorted((-int(errors[a, p]), a, p) for a, p in zip(*np.nonzero(errors), strict=True))
    rows = [[f"{names[a]}->{names[p]}", names[a], names[p], -count] for count, a, p in cells[:top]]
    return csv_text(["pair", "actual", "predicted", "count"], rows)


def predictions_csv(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> str:
    """One ``actual,predicted`` row of class names per item, in the split's order: what DVC's
    confusion template draws and what a paired comparison of two revisions reads."""
    lookup = np.asarray(names, dtype=object)
    lines = [
        f"{a},{p}\n"
        for a, p in zip(
            lookup[np.asarray(y_true, dtype=np.int64)],
            lookup[np.asarray(y_pred, dtype=np.int64)],
            strict=True,
        )
    ]
    return "actual,predicted\n" + "".join(lines)


def precision_recall(
    y_true: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """scikit-learn's precision-recall curve of a detector's scores (thresholds that change
    nothing on the drawn curve dropped) and its average precision: ``(precision, recall,
    thresholds, ap)``, the curve by increasing threshold, ending at precision 1, recall 0."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y_true, score, drop_intermediate=True)
    return precision, recall, thresholds, float(average_precision_score(y_true, score))


def pr_curve_csv(precision: np.ndarray, recall: np.ndarray, thresholds: np.ndarray) -> str:
    """The curve as ``recall,precision,threshold`` rows; the end point (recall 0) has no
    threshold. Empty but for the header when there is no curve (a 10-class model)."""
    rows = [
        [rounded(r), rounded(p), "" if i >= len(thresholds) else f"{float(thresholds[i]):.6g}"]
        for i, (p, r) in enumerate(zip(precision, recall, strict=True))
    ]
    return csv_text(["recall", "precision", "threshold"], rows)
