"""What the train and evaluate stages do for speed gives the same results: threaded SVC
predictions, single-threaded BLAS for small products, NumPy confusion counts, and 1-NN
stages that never import scikit-learn."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import REPO, deep_update
from sklearn.svm import SVC
from threadpoolctl import threadpool_info

from mnist_pipeline.files import save_arrays
from mnist_pipeline.registry import ESTIMATORS, blas_threads, predict_rows


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
    assert ESTIMATORS["svc"].threaded_predict
    model = SVC(C=10).fit(slice_rows["x_train"], slice_rows["y_train"])
    np.testing.assert_array_equal(
        predict_rows("svc", model, slice_rows["x_test"]), model.predict(slice_rows["x_test"])
    )
    one_row = slice_rows["x_test"][:1]
    np.testing.assert_array_equal(predict_rows("svc", model, one_row), model.predict(one_row))


def test_other_estimators_predict_as_usual(slice_rows):
    class Recorder:
        calls = 0

        def predict(self, x):
            self.calls += 1
            return np.zeros(len(x))

    recorder = Recorder()
    predict_rows("knn", recorder, slice_rows["x_test"])
    assert recorder.calls == 1


def test_blas_is_limited_to_one_thread_only_where_registered():
    assert ESTIMATORS["mlp"].blas_threads == 1
    assert ESTIMATORS["logistic_regression"].blas_threads == 1
    assert ESTIMATORS["cosine_1nn"].blas_threads is None
    before = blas_thread_counts()
    with blas_threads("mlp"):
        assert blas_thread_counts() == {1}
    assert blas_thread_counts() == before
    with blas_threads("cosine_1nn"):
        assert blas_thread_counts() == before


def test_the_nearest_neighbour_stages_never_import_scikit_learn(
    tmp_path: Path, mnist_slice, repo_params
):
    """train@nearest and evaluate@nearest, run as the stage scripts in one interpreter."""
    params = deep_update(repo_params, {"split": {"validation": 200}})
    params["models"] = {"nearest": repo_params["models"]["nearest"]}
    params["notebooks"] = params["notebook_cv"] = {}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    features = tmp_path / "stages/normalize"
    features.mkdir(parents=True)
    x = mnist_slice["train_images"].reshape(1200, -1).astype(np.float32) / 255
    y = mnist_slice["train_labels"]
    save_arrays(features / "train.npz", {"X": x[:1000], "y": y[:1000]})
    save_arrays(features / "val.npz", {"X": x[1000:], "y": y[1000:]})
    save_arrays(
        features / "test.npz",
        {
            "X": mnist_slice["test_images"].reshape(300, -1).astype(np.float32) / 255,
            "y": mnist_slice["test_labels"],
        },
    )
    code = textwrap.dedent("""
        import sys
        import evaluate, train
        assert train.main(["--params", "params.yaml", "--model", "nearest", "--features",
                           "stages/normalize", "--out", "stages/train/nearest",
                           "--history", "metrics/nearest/history.csv"]) == 0
        assert evaluate.main(["--params", "params.yaml", "--model", "nearest", "--model-dir",
                              "stages/train/nearest", "--features", "stages/normalize",
                              "--metrics-dir", "metrics/nearest",
                              "--out", "stages/evaluate/nearest"]) == 0
        imported = sorted(m for m in sys.modules if m.split(".")[0] == "sklearn")
        assert not imported, imported[:5]
    """)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "metrics/nearest/scores/test.json").is_file()
    assert (tmp_path / "metrics/nearest/history.csv").read_text() == "epoch,loss\n"


@pytest.mark.parametrize(
    "losses",
    [[], [0.406269123, 0.19602849, 1.0, 0.0, 1e-07, 12345.6789012, 2.5e-5, 3.0000000000000004]],
)
def test_training_history_is_the_csv_pandas_wrote(losses):
    import pandas as pd

    from train import training_history

    class Fitted:
        loss_curve_ = losses

    expected = pd.DataFrame(
        {"epoch": range(1, len(losses) + 1), "loss": [round(float(x), 6) for x in losses]}
    ).to_csv(index=False, lineterminator="\n")
    assert training_history(Fitted()) == expected
    assert training_history(object()) == "epoch,loss\n"
