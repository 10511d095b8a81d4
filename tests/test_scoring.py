"""Metrics derived from the confusion matrix agree with scikit-learn's own functions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

from mnist_pipeline.scoring import (
    confusion,
    confusion_csv,
    detector_metrics,
    most_confused,
    multiclass_metrics,
)


@pytest.fixture
def predictions() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 10, 500)
    y_pred = np.where(rng.random(500) < 0.8, y_true, rng.integers(0, 10, 500))
    y_pred[y_true == 3] = 3  # a class with perfect recall
    y_pred[y_pred == 8] = 0  # a class never predicted: precision 0 by convention
    return y_true, y_pred


def test_confusion_matches_scikit_learn(predictions):
    y_true, y_pred = predictions
    np.testing.assert_array_equal(confusion(y_true, y_pred, 10), confusion_matrix(y_true, y_pred))


def test_accuracy_and_macro_scores_match_scikit_learn(predictions):
    y_true, y_pred = predictions
    metrics = multiclass_metrics(confusion(y_true, y_pred, 10))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average="macro", zero_division=0
    )
    assert metrics["accuracy"] == round(accuracy_score(y_true, y_pred), 6)
    assert metrics["macro_precision"] == round(precision, 6)
    assert metrics["macro_recall"] == round(recall, 6)
    assert metrics["macro_f1"] == round(f1, 6)


def test_per_digit_accuracy_is_each_digits_recall(predictions):
    y_true, y_pred = predictions
    metrics = multiclass_metrics(confusion(y_true, y_pred, 10))
    _, recall, _, _ = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    assert metrics["per_digit_accuracy"] == {str(d): round(r, 6) for d, r in enumerate(recall)}
    assert metrics["per_digit_accuracy"]["3"] == 1.0


def test_most_confused_pairs_are_the_largest_off_diagonal_cells():
    matrix = np.array([[5, 2, 7], [9, 5, 0], [2, 7, 5]])
    assert list(most_confused(matrix).items()) == [("1->0", 9), ("0->2", 7), ("2->1", 7)]


def test_most_confused_skips_empty_cells():
    assert most_confused(np.diag([3, 4, 5])) == {}


def test_detector_scores_match_scikit_learn_for_the_positive_class(predictions):
    y_true, y_pred = (a == 5 for a in predictions)
    metrics = detector_metrics(confusion(y_true, y_pred, 2))
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average="binary", zero_division=0
    )
    assert (metrics["precision"], metrics["recall"], metrics["f1"]) == (
        round(precision, 6), round(recall, 6), round(f1, 6)
    )
    assert metrics["true_positives"] == int(np.sum(y_true & y_pred))


def test_a_detector_that_never_fires_scores_zero_not_nan():
    y_true = np.array([0, 0, 1, 0])
    metrics = detector_metrics(confusion(y_true, np.zeros(4, dtype=int), 2))
    assert metrics == {"accuracy": 0.75, "precision": 0.0, "recall": 0.0, "f1": 0.0,
                       "true_positives": 0, "false_positives": 0, "false_negatives": 1,
                       "true_negatives": 3}


def test_confusion_keeps_classes_that_never_occur():
    counts = confusion(np.array([0, 0]), np.array([0, 3]), 10)
    assert counts.shape == (10, 10) and counts[0, 0] == 1 and counts[0, 3] == 1


def test_confusion_csv_is_labelled_rows_actual_columns_predicted():
    csv = confusion_csv(np.array([[3, 1], [0, 2]]), ["not_5", "5"])
    assert csv == "actual/predicted,not_5,5\nnot_5,3,1\n5,0,2\n"
