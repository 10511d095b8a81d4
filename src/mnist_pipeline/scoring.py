"""The scores and tables of one evaluation, from one confusion matrix per split: fixed keys per
kind of model (``SCORE_KEYS``) for ``dvc metrics show``, tables as CSV, values rounded so that
the same predictions give the same bytes."""

from collections.abc import Sequence

import numpy as np

from mnist_pipeline.plumbing.files import csv_text

DIGITS = 4

SCORE_KEYS = {
    ("classifier", "test"): ("acc", "acc_lo", "acc_hi", "f1"),
    ("classifier", "val"): ("acc",),
    ("detector", "test"): ("acc", "acc_lo", "acc_hi", "f1", "p", "r", "ap"),
    ("detector", "val"): ("acc", "f1", "p", "r", "ap"),
}
"""The keys of ``scores/<split>.json``: ``acc_lo``/``acc_hi`` the 95% Wilson interval, ``f1`` the
macro F1 (a detector's: its positive class's, with precision ``p``, recall ``r``, ``ap``)."""


def wilson_interval(correct: int, total: int) -> tuple[float, float]:
    """The 95% Wilson score interval of ``correct / total`` (statsmodels), inside [0, 1]."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(correct, total, alpha=0.05, method="wilson")
    return max(0.0, float(low)), min(1.0, float(high))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows are actual classes, columns predicted ones (``confusion_matrix``'s layout)."""
    cells = np.asarray(y_true, dtype=np.int64) * n_classes + np.asarray(y_pred, dtype=np.int64)
    return np.bincount(cells, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy(matrix: np.ndarray) -> float:
    """The share of a confusion matrix's items on its diagonal (0 for no items)."""
    correct, total = int(np.trace(matrix)), int(np.sum(matrix))
    return correct / total if total else 0.0


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Division giving 0 where the denominator is 0 (scikit-learn's ``zero_division=0``)."""
    numerator = numerator.astype(np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


def rounded(value: float) -> float:
    """``value`` to the ``DIGITS`` decimals of every score and table."""
    return round(float(value), DIGITS)


def per_class_scores(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall and F1 of every class."""
    precision = _ratio(np.diag(matrix), matrix.sum(axis=0))
    recall = _ratio(np.diag(matrix), matrix.sum(axis=1))
    return precision, recall, _ratio(2 * precision * recall, precision + recall)


def _f1_scores(matrix: np.ndarray, kind: str) -> dict[str, float]:
    """A classifier's macro F1; a detector's F1, precision and recall of its class 1."""
    precision, recall, f1 = per_class_scores(matrix)
    if kind == "classifier":
        return {"f1": f1.mean()}
    return {"f1": f1[1], "p": precision[1], "r": recall[1]}


def split_scores(
    matrix: np.ndarray, kind: str, split: str, average_precision: float | None = None
) -> dict[str, float]:
    """The ``SCORE_KEYS[kind, split]`` scores of one split's confusion matrix (``kind``:
    ``classifier`` or ``detector``, whose matrix is 2 x 2 with class 1 the positive one)."""
    low, high = wilson_interval(int(np.trace(matrix)), int(matrix.sum()))
    values = {"acc": accuracy(matrix), "acc_lo": low, "acc_hi": high, "ap": average_precision}
    values |= _f1_scores(matrix, kind)
    return {key: rounded(values[key]) for key in SCORE_KEYS[kind, split]}


def cv_scores(fold_accuracy: Sequence[float], matrix: np.ndarray, kind: str) -> dict[str, float]:
    """``scores/cv.json``: the folds' mean accuracy ``acc``, its ``acc_sd`` (ddof 0), each fold's
    (``fold1``...) and the F1 scores of the cross-validated predictions' confusion ``matrix``."""
    folds = np.asarray(fold_accuracy, dtype=np.float64)
    values = {"acc": folds.mean(), "acc_sd": folds.std()}
    values |= {f"fold{i}": value for i, value in enumerate(folds, start=1)}
    return {key: rounded(value) for key, value in (values | _f1_scores(matrix, kind)).items()}


def per_class_csv(matrices: dict[str, np.ndarray], names: Sequence[str]) -> str:
    """Each class's accuracy (its recall) on every split: ``class,<split>,...``."""
    recalls = {split: per_class_scores(m)[1] for split, m in matrices.items()}
    rows = [[name, *(rounded(recalls[s][i]) for s in matrices)] for i, name in enumerate(names)]
    return csv_text(["class", *matrices], rows)


def confused_pairs_csv(matrix: np.ndarray, names: Sequence[str], top: int = 10) -> str:
    """The ``top`` off-diagonal cells with the most errors (ties by actual, then predicted
    class): ``pair,actual,predicted,count``, pair ``4->9`` for an actual 4 taken for a 9."""
    errors = np.array(matrix, copy=True)
    np.fill_diagonal(errors, 0)
    cells = sorted((-int(errors[a, p]), a, p) for a, p in zip(*np.nonzero(errors), strict=True))
    rows = [[f"{names[a]}->{names[p]}", names[a], names[p], -count] for count, a, p in cells[:top]]
    return csv_text(["pair", "actual", "predicted", "count"], rows)


def predictions_csv(y_true: np.ndarray, y_pred: np.ndarray, names: Sequence[str]) -> str:
    """One ``actual,predicted`` row of class names per item, in the split's order (DVC's
    confusion template draws it; a paired comparison of two revisions reads it)."""
    lookup = np.asarray(names, dtype=object)
    rows = np.column_stack([lookup[np.asarray(y, np.int64)] for y in (y_true, y_pred)])
    return csv_text(["actual", "predicted"], rows)


def precision_recall(
    y_true: np.ndarray, score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """scikit-learn's precision-recall curve of a detector's scores (``drop_intermediate``) and
    its average precision: ``(precision, recall, thresholds, ap)``."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y_true, score, drop_intermediate=True)
    return precision, recall, thresholds, float(average_precision_score(y_true, score))


def pr_curve_csv(precision: np.ndarray, recall: np.ndarray, thresholds: np.ndarray) -> str:
    """The curve as ``recall,precision,threshold`` rows, the end point (recall 0) without a
    threshold; the header alone for a 10-class model."""
    rows = [
        [rounded(r), rounded(p), "" if i >= len(thresholds) else f"{float(thresholds[i]):.6g}"]
        for i, (p, r) in enumerate(zip(precision, recall, strict=True))
    ]
    return csv_text(["recall", "precision", "threshold"], rows)
