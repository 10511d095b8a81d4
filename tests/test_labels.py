from __future__ import annotations

import numpy as np

from mnist_pipeline.labels import class_names, task_labels


def test_detector_labels_are_one_for_the_target_digit():
    digits = np.array([5, 3, 5, 0], dtype=np.uint8)
    np.testing.assert_array_equal(task_labels(digits, 5), [1, 0, 1, 0])
    np.testing.assert_array_equal(task_labels(digits, None), digits)
    assert class_names(5) == ["not_5", "5"]
    assert class_names(None) == [str(d) for d in range(10)]
