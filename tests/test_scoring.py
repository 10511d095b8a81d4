"""Scores and tables of one evaluation agree with scikit-learn's and statsmodels' own."""

import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_curve,
    precision_recall_fscore_support,
)
from statsmodels.stats.proportion import proportion_confint

from mnist_pipeline.scoring import (
    SCORE_KEYS,
    confused_pairs_csv,
    confusion,
    cv_scores,
    per_class_csv,
    pr_curve_csv,
    precision_recall,
    predictions_csv,
    split_scores,
)

DIGITS = [str(d) for d in range(10)]


@pytest.fixture
def predictions() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    y_true = rng.integers(0, 10, 500)
    y_pred = np.where(rng.random(500) < 0.8, y_true, rng.integers(0, 10, 500))
    y_pred[y_true == 3] = 3  # a class with perfect recall
    y_pred[y_pred == 8] = 0  # a class never predicted: precision 0 by convention
    return y_true, y_pred


def prf(y_true, y_pred, average: str) -> list[float]:
    scores = precision_recall_fscore_support(y_true, y_pred, average=average, zero_division=0)
    return [round(s, 4) for s in scores[:3]]


def test_confusion_matches_scikit_learn_and_keeps_classes_that_never_occur(predictions):
    np.testing.assert_array_equal(confusion(*predictions, 10), confusion_matrix(*predictions))
    counts = confusion(np.array([0, 0]), np.array([0, 3]), 10)
    assert counts.shape == (10, 10) and counts[0, 0] == 1 and counts[0, 3] == 1


def test_a_classifiers_scores_are_accuracy_its_wilson_interval_and_macro_f1(predictions):
    y_true, y_pred = predictions
    matrix, acc = confusion(y_true, y_pred, 10), round(accuracy_score(y_true, y_pred), 4)
    low, high = proportion_confint(np.sum(y_true == y_pred), len(y_true), method="wilson")
    assert split_scores(matrix, "classifier", "test") == {
        "acc": acc,
        "acc_lo": round(low, 4),
        "acc_hi": round(high, 4),
        "f1": prf(y_true, y_pred, "macro")[2],
    }
    assert split_scores(matrix, "classifier", "val") == {"acc": acc}


def test_a_detectors_scores_are_scikit_learns_for_the_positive_class(predictions):
    y_true, y_pred = (a == 5 for a in predictions)
    p, r, f1 = prf(y_true, y_pred, "binary")
    scores = split_scores(confusion(y_true, y_pred, 2), "detector", "val", 0.123456)
    acc = round(accuracy_score(y_true, y_pred), 4)
    assert scores == {"acc": acc, "f1": f1, "p": p, "r": r, "ap": 0.1235}
    never = confusion(np.array([0, 0, 1, 0]), np.zeros(4, int), 2)  # zero, not nan
    assert split_scores(never, "detector", "val", 0.25) == {
        "acc": 0.75, "f1": 0.0, "p": 0.0, "r": 0.0, "ap": 0.25
    }  # fmt: skip


@pytest.mark.parametrize(("kind", "split"), list(SCORE_KEYS))
def test_every_score_file_has_its_fixed_keys_whatever_the_data(kind, split):
    n = 10 if kind == "classifier" else 2
    for matrix in (np.diag(np.arange(1, n + 1)), np.ones((n, n), dtype=int)):
        assert tuple(split_scores(matrix, kind, split, 0.5)) == SCORE_KEYS[kind, split]


def test_cv_scores_are_fold_mean_sd_each_fold_and_the_f1_of_the_pooled_folds(predictions):
    y_true, y_pred = predictions
    folds = [0.91234, 0.95, 0.9]
    assert cv_scores(folds, confusion(y_true, y_pred, 10), "classifier") == {
        "acc": round(np.mean(folds), 4),
        "acc_sd": round(np.std(folds), 4),
        **{"fold1": 0.9123, "fold2": 0.95, "fold3": 0.9},
        "f1": prf(y_true, y_pred, "macro")[2],
    }
    p, r, f1 = prf(y_true == 3, y_pred == 3, "binary")
    pooled = confusion(y_true == 3, y_pred == 3, 2)
    expected = {"acc": 0.6, "acc_sd": 0.1, "fold1": 0.5, "fold2": 0.7, "f1": f1, "p": p, "r": r}
    assert cv_scores([0.5, 0.7], pooled, "detector") == expected


def test_the_csv_tables_name_the_classes_in_their_fixed_columns(predictions):
    y_true, y_pred = predictions
    _, recall, _, _ = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    table = {"test": confusion(y_true, y_pred, 10), "val": np.diag([1] * 10)}
    assert per_class_csv(table, DIGITS).splitlines() == [
        "class,test,val",
        *(f"{d},{round(r, 4)},1.0" for d, r in enumerate(recall)),
    ]
    assert predictions_csv(np.array([1, 0, 1]), np.array([1, 1, 0]), ["not_5", "5"]) == (
        "actual,predicted\n5,5\nnot_5,5\n5,not_5\n"
    )
    # The confused pairs: the largest off-diagonal cells, most first, never an empty one.
    matrix = np.array([[5, 2, 7], [9, 5, 0], [2, 7, 5]])
    assert confused_pairs_csv(matrix, ["a", "b", "c"], top=3) == (
        "pair,actual,predicted,count\nb->a,b,a,9\na->c,a,c,7\nc->b,c,b,7\n"
    )
    assert confused_pairs_csv(np.diag([3, 4, 5]), list("abc")) == "pair,actual,predicted,count\n"
    # The precision-recall curve ends without a threshold; no curve is the header alone.
    csv = pr_curve_csv(np.array([0.5, 1.0, 1.0]), np.array([1.0, 0.5, 0.0]), np.array([0.1, 0.7]))
    assert csv == "recall,precision,threshold\n1.0,0.5,0.1\n0.5,1.0,0.7\n0.0,1.0,\n"
    empty = np.empty(0)
    assert pr_curve_csv(empty, empty, empty) == "recall,precision,threshold\n"


@pytest.mark.parametrize("ties", [False, True])
def test_precision_recall_curve_is_scikit_learns_with_its_average_precision(ties):
    rng = np.random.default_rng(3)
    y = rng.random(3000) < 0.1
    score = rng.normal(size=3000) + 1.5 * y
    if ties:
        score = np.round(score, 1)
    precision, recall, thresholds, ap = precision_recall(y, score)
    expected = precision_recall_curve(y, score, drop_intermediate=True)
    for ours, theirs in zip((precision, recall, thresholds), expected, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert ap == average_precision_score(y, score)
