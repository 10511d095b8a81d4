"""Labels: what a model learns, its class names, and train's check of the labels it reads."""

import numpy as np
from conftest import read_params_files, write_params_files
from test_datasets import FASHION
from test_train import train_fails_with

from mnist_pipeline.labels import DIGITS, class_names, plural, task_labels


def test_detector_labels_class_names_and_nouns_follow_the_classes():
    digits = np.array([5, 3, 5, 0], dtype=np.uint8)
    np.testing.assert_array_equal(task_labels(digits, 5), [1, 0, 1, 0])
    np.testing.assert_array_equal(task_labels(digits, None), digits)
    assert class_names(5) == ["not_5", "5"]
    assert class_names(None) == list(DIGITS) == [str(d) for d in range(10)]
    assert class_names(8, FASHION) == ["not_Bag", "Bag"]
    assert [plural(n) for n in ("digit", "class", "image")] == ["digits", "classes", "images"]


def test_train_refuses_labels_past_the_declared_classes_in_one_line(slice_run, tmp_path):
    """Every stage that reads labels checks them so; train stands for them here."""
    params = read_params_files(slice_run)
    params["datasets"]["mnist"]["classes"] = list(DIGITS[:5])
    params["models"]["sgd_5"]["target"] = 4  # a detector of a declared class
    stderr = train_fails_with(slice_run, write_params_files(tmp_path, params), "knn", "stages/pca")
    labels = np.load(slice_run / "stages/pca/train.npz")["y"]
    index = int(np.argmax(labels >= 5))
    assert stderr.splitlines()[-1] == (
        "train: error: datasets.mnist.classes: labels run 0-9 (10 classes), 5 declared "
        f"(label {labels[index]} at index {index} of stages/pca/train.npz)"
    )
