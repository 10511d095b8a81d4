"""Training: the loss history CSV; the train stage on a slice of MNIST, and parameters or
training data that make a fit impossible refused before it starts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import SLICE_PARAMS, SLICE_STEPS, params_copy, redirected, run_main, run_script

from mnist_pipeline.plumbing.files import load_arrays, save_arrays
from mnist_pipeline.stages.train import training_history


@pytest.mark.parametrize(
    "losses",
    [[], [0.406269123, 0.19602849, 1.0, 0.0, 1e-07, 12345.6789012, 2.5e-5, 3.0000000000000004]],
)
def test_training_history_is_the_csv_pandas_wrote(losses):
    import pandas as pd

    class Fitted:
        loss_curve_ = losses

    expected = pd.DataFrame(
        {"epoch": range(1, len(losses) + 1), "loss": [round(float(x), 6) for x in losses]}
    ).to_csv(index=False, lineterminator="\n")
    assert training_history(Fitted()) == expected
    assert training_history(object()) == "epoch,loss\n"


def test_training_history_follows_the_estimators_first_epoch_and_digits():
    class Fitted:
        loss_curve_ = (0.693147180559945, 0.5)
        loss_curve_start = 0
        loss_curve_digits = 15

    assert training_history(Fitted()) == "epoch,loss\n0,0.693147180559945\n1,0.5\n"


# --- the stage, on the MNIST slice (conftest's slice_run) -----------------------------------


def test_train_runs_as_dvc_runs_it(slice_run, tmp_path):
    """The script in a fresh Python, as dvc.yaml's command: a model and its loss history."""
    out, history = tmp_path / "knn", tmp_path / "history.csv"
    script, *args = redirected(
        SLICE_STEPS["train@knn"], out=out, history=history, live=tmp_path / "live"
    )
    result = run_script(script, "--params", params_copy(slice_run, tmp_path), *args, cwd=slice_run)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1].startswith("train: done in ")
    assert [p.name for p in out.iterdir()] == ["model.pkl"]
    assert history.read_text() == "epoch,loss\n"


def test_non_iterative_model_has_an_empty_loss_history(slice_run):
    assert (slice_run / "metrics/knn/history.csv").read_text() == "epoch,loss\n"


def test_train_script_has_help():
    result = run_main("train", "--help")
    assert result.returncode == 0 and result.stdout.startswith("usage:")


def train_fails_with(slice_run: Path, params: Path, model: str, features: str | Path) -> str:
    """Run train@<model> on bad params or data: exit 1, no model folder, no history, no
    temporary folder left; its stderr."""
    out, history = params.parent / "train/bad", params.parent / "metrics/bad/history.csv"
    result = run_main(
        "train",
        "--params",
        params,
        "--model",
        model,
        "--features",
        features if isinstance(features, Path) else f"stages/{features}",
        "--out",
        out,
        "--history",
        history,
        "--live",
        history.parent / "live",
        cwd=slice_run,
    )
    assert result.returncode == 1
    assert not out.exists()
    assert not history.parent.exists()
    assert [p.name for p in out.parent.glob(".*")] == []
    return result.stderr


def test_estimator_parameter_scikit_learn_rejects_stops_train_before_fitting(
    slice_run, write_params
):
    params = write_params({"models": {"svm": {"C": -1}}})
    assert train_fails_with(slice_run, params, "svm", "pca") == (
        "train: error: models.svm.C: The 'C' parameter of OneVsOneSVC must "
        "be a float in the range (0.0, inf]. Got -1 instead.\n"
    )


@pytest.mark.parametrize(
    ("knn", "message"),
    [
        (
            {"metric": "precomputed"},
            "models.knn.metric: expected a metric of feature rows, got 'precomputed' "
            "(the stages pass features, not distances)",
        ),
        (
            {"algorithm": "kd_tree", "metric": "cosine"},
            "models.knn.metric: expected one of the metrics algorithm kd_tree supports (chebyshev, "
            "cityblock, euclidean, infinity, l1, l2, manhattan, minkowski, p), got 'cosine'",
        ),
        (
            {"n_neighbors": 3},
            "models.knn.k: expected one of k and n_neighbors (the same parameter), got both",
        ),
        (
            {"k": 60000},
            "models.knn.k: expected at most the 1000 training rows of stages/pca/train.npz, "
            "got 60000",
        ),
    ],
    ids=["precomputed", "kd_tree-cosine", "k-and-n_neighbors", "k-above-training-rows"],
)
def test_knn_parameters_that_cannot_work_stop_train_before_fitting(
    slice_run, write_params, knn, message
):
    models = {"knn": {**SLICE_PARAMS["models"]["knn"], **knn}}
    params = write_params({**SLICE_PARAMS, "models": models})
    assert train_fails_with(slice_run, params, "knn", "pca") == f"train: error: {message}\n"


def test_detector_whose_digit_is_absent_stops_train_before_fitting(
    slice_run, write_params, tmp_path
):
    params = write_params(SLICE_PARAMS)
    features = load_arrays(slice_run / "stages/normalize/train.npz", ("X", "y"))
    kept = features["y"] != 5
    save_arrays(tmp_path / "no5/train.npz", {"X": features["X"][kept], "y": features["y"][kept]})
    assert train_fails_with(slice_run, params, "sgd_5", tmp_path / "no5") == (
        f"train: error: {tmp_path / 'no5/train.npz'}: expected training labels of at least 2 "
        "classes for models.sgd_5, got only class 0\n"
    )


def test_fifo_in_place_of_the_features_fails_at_once(slice_run, write_params, tmp_path):
    features = tmp_path / "fifo_features"
    features.mkdir()
    os.mkfifo(features / "train.npz")
    params = write_params(SLICE_PARAMS)
    assert train_fails_with(slice_run, params, "knn", features) == (
        f"train: error: {features / 'train.npz'}: expected a regular file, got a FIFO\n"
    )
