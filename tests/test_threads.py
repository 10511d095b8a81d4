"""Thread control while a model is fitted or scored gives the same results: threaded SVC
predictions, and BLAS limited to one thread only for the estimators whose spec asks for it."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import SVC
from threadpoolctl import threadpool_info

from mnist_pipeline.plumbing.registry import estimator_spec
from mnist_pipeline.plumbing.threads import blas_threads, predict_rows


def blas_thread_counts() -> set[int]:
    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


@pytest.fixture(scope="module")
def slice_rows(mnist_slice) -> dict[str, np.ndarray]:
    return {
        "x_train": mnist_slice["train_images"].reshape(1200, -1).astype(np.float32) / 255,
        "y_train": mnist_slice["train_labels"],
        "x_test": mnist_slice["test_images"].reshape(300, -1).astype(np.float32) / 255,
    }


def test_threaded_svc_predictions_are_the_plain_ones(slice_rows):
    assert estimator_spec("svc").threaded_predict
    model = SVC(C=10).fit(slice_rows["x_train"], slice_rows["y_train"])
    np.testing.assert_array_equal(
        predict_rows(model, slice_rows["x_test"], threaded=estimator_spec("svc").threaded_predict),
        model.predict(slice_rows["x_test"]),
    )
    one_row = slice_rows["x_test"][:1]
    np.testing.assert_array_equal(
        predict_rows(model, one_row, threaded=estimator_spec("svc").threaded_predict),
        model.predict(one_row),
    )


def test_other_estimators_predict_in_one_call(slice_rows):
    class Recorder:
        calls = 0

        def predict(self, x):
            self.calls += 1
            return np.zeros(len(x))

    recorder = Recorder()
    predict_rows(recorder, slice_rows["x_test"], threaded=estimator_spec("knn").threaded_predict)
    assert recorder.calls == 1


def test_blas_is_limited_to_one_thread_only_where_the_spec_asks():
    assert estimator_spec("mlp").blas_threads == 1
    assert estimator_spec("logistic_regression").blas_threads == 1
    assert estimator_spec("cosine_1nn").blas_threads is None
    before = blas_thread_counts()
    with blas_threads(estimator_spec("mlp").blas_threads):
        assert blas_thread_counts() == {1}
    assert blas_thread_counts() == before
    with blas_threads(estimator_spec("cosine_1nn").blas_threads):
        assert blas_thread_counts() == before
