"""Labels: what a model learns, the names of its classes, and the check of the data's labels
against the classes params.yaml declares."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SLICE_STEPS, read_params_files, redirected, run_main, write_params_files

from mnist_pipeline.labels import DIGITS, ClassesError, check_classes, class_names, task_labels


def test_detector_labels_are_one_for_the_target_digit():
    digits = np.array([5, 3, 5, 0], dtype=np.uint8)
    np.testing.assert_array_equal(task_labels(digits, 5), [1, 0, 1, 0])
    np.testing.assert_array_equal(task_labels(digits, None), digits)
    assert class_names(5) == ["not_5", "5"]
    assert class_names(None) == [str(d) for d in range(10)]


def test_labels_over_exactly_the_declared_classes_pass():
    check_classes({"a.npz": np.array([0, 9, 3]), "b.npz": np.array([], np.uint8)}, DIGITS, "d")


def test_declared_classes_past_the_last_label_are_refused_naming_the_key():
    with pytest.raises(ClassesError) as refused:
        check_classes({"a.npz": np.arange(10)}, [*DIGITS, "x"], "datasets.mnist")
    assert str(refused.value) == "datasets.mnist.classes: labels run 0-9 (10 classes), 11 declared"


def test_a_label_past_the_declared_classes_is_refused_naming_the_key_and_where_it_is():
    labels = {"train.npz": np.array([0, 1, 2]), "test.npz": np.array([1, 0, 4, 3, 5], np.uint8)}
    with pytest.raises(ClassesError) as refused:
        check_classes(labels, DIGITS[:3], "datasets.toy")
    assert str(refused.value) == (
        "datasets.toy.classes: labels run 0-5 (6 classes), 3 declared "
        "(label 4 at index 2 of test.npz)"
    )


def test_train_refuses_labels_past_the_declared_classes_in_one_line(slice_run, tmp_path):
    """Every stage that reads labels checks them so; train stands for them here."""
    params = read_params_files(slice_run)
    params["datasets"]["mnist"]["classes"] = list(DIGITS[:5])
    params["models"]["sgd_5"]["target"] = 4  # a detector of a declared class
    write_params_files(tmp_path, params)
    out = tmp_path / "out"
    args = redirected(
        SLICE_STEPS["train@knn"], out=out / "knn", history=out / "h.csv", live=out / "live"
    )
    result = run_main(args[0], "--params", tmp_path / "params.yaml", *args[1:], cwd=slice_run)
    labels = np.load(slice_run / "stages/pca/train.npz")["y"]
    index = int(np.argmax(labels >= 5))
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "train: error: datasets.mnist.classes: labels run 0-9 (10 classes), 5 declared "
        f"(label {labels[index]} at index {index} of stages/pca/train.npz)"
    )
    assert not out.exists()
