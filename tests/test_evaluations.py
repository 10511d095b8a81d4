"""Reading back the evaluate stages' predictions (mnist_pipeline/evaluations.py): labels of the
model's task, the confusion matrix and accuracy as evaluate's scores report them, and a
refusal of predictions of another split."""

from __future__ import annotations

import numpy as np
import pytest

from mnist_pipeline.evaluations import EvaluationError, load_evaluation
from mnist_pipeline.labels import DIGITS
from mnist_pipeline.plumbing.files import save_arrays
from mnist_pipeline.plumbing.params import Model
from mnist_pipeline.scoring import confusion, split_scores

LABELS = np.array([0, 5, 5, 3, 5, 1, 2, 5, 9, 4], dtype=np.uint8)
KNN = Model(name="knn", features="pca", estimator="knn", target=None)
SGD_5 = Model(name="sgd_5", features="normalize", estimator="sgd", target=5)


def test_a_classifiers_evaluation_is_counted_as_evaluate_scores_it(tmp_path):
    predicted = LABELS.copy()
    predicted[[1, 8]] = [3, 4]
    save_arrays(tmp_path / "predictions.npz", {"test_pred": predicted})
    found = load_evaluation(KNN, tmp_path, LABELS, DIGITS)
    assert (found.detector, found.names, found.curve) == (False, list(DIGITS), None)
    np.testing.assert_array_equal(found.matrix, confusion(LABELS, predicted, 10))
    assert found.accuracy == split_scores(found.matrix, "classifier", "test")["acc"] == 0.8


def test_a_detectors_evaluation_has_its_tasks_labels_and_curve(tmp_path):
    predicted = (LABELS == 5).astype(np.uint8)
    predicted[0] = 1
    curve = {"curve_precision": np.array([0.4, 1.0]), "curve_recall": np.array([1.0, 0.0])}
    save_arrays(tmp_path / "predictions.npz", {"test_pred": predicted, **curve})
    found = load_evaluation(SGD_5, tmp_path, LABELS, DIGITS)
    assert (found.detector, found.names) == (True, ["not_5", "5"])
    np.testing.assert_array_equal(found.y_true, LABELS == 5)
    assert found.matrix.tolist() == [[5, 1], [0, 4]]
    assert found.accuracy == 0.9
    np.testing.assert_array_equal(found.curve[0], curve["curve_precision"])
    np.testing.assert_array_equal(found.curve[1], curve["curve_recall"])


def test_predictions_of_another_split_are_refused_naming_the_file(tmp_path):
    save_arrays(tmp_path / "predictions.npz", {"test_pred": LABELS[:4]})
    with pytest.raises(EvaluationError) as refused:
        load_evaluation(KNN, tmp_path, LABELS, DIGITS)
    assert str(refused.value) == (
        f"{tmp_path / 'predictions.npz'} holds 4 predictions, but the test split has 10 "
        "labels: they should be the same split"
    )


def test_a_detector_without_its_curve_is_refused_naming_the_arrays(tmp_path):
    save_arrays(tmp_path / "predictions.npz", {"test_pred": LABELS})
    with pytest.raises(ValueError, match=r"missing arrays \['curve_precision', 'curve_recall'\]"):
        load_evaluation(SGD_5, tmp_path, LABELS, DIGITS)
