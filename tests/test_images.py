"""The images stage and the network fed by it, on a slice of the real MNIST: images ->
train@cnn -> evaluate@cnn, run as dvc.yaml runs them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    deep_update,
    evaluate_step,
    params_copy,
    read_params_files,
    run_main,
    run_script,
    run_stages,
    train_step,
    write_params_files,
)

from mnist_pipeline.plumbing.files import load_arrays

CNN = {"epochs": 2, "channels": [4, 8], "hidden": 16, "batch_size": 100}
"""The shipped cnn, made small enough for a slice."""
IMAGES_STEP = ("images", "--in", "stages/decode", "--out", "stages/images")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, mnist_slice, repo_params) -> Path:
    from conftest import write_decoded_slice

    root = tmp_path_factory.mktemp("images_pipeline")
    params = deep_update(repo_params, {"split": {"validation": 200}})
    params["models"] = {"cnn": {**repo_params["models"]["cnn"], **CNN}}
    params["datasets"]["mnist"]["references"].update(test={}, cv={})
    write_params_files(root, params)
    write_decoded_slice(root, mnist_slice)
    steps = [IMAGES_STEP, train_step("cnn", "images"), evaluate_step("cnn", "images")]
    run_stages(root, root / "params.yaml", steps)
    return root


def test_images_stay_uint8_images_split_as_normalize_splits_them(pipeline, mnist_slice):
    splits = {
        s: load_arrays(pipeline / f"stages/images/{s}.npz", ("X", "y"))
        for s in ("train", "val", "test")
    }
    train_images = mnist_slice["train_images"]
    assert splits["train"]["X"].dtype == np.uint8
    np.testing.assert_array_equal(splits["train"]["X"], train_images[:1000])
    np.testing.assert_array_equal(splits["val"]["X"], train_images[1000:])
    np.testing.assert_array_equal(splits["val"]["y"], mnist_slice["train_labels"][1000:])
    np.testing.assert_array_equal(splits["test"]["X"], mnist_slice["test_images"])


def test_images_script_runs_as_dvc_runs_it_and_refuses_a_validation_of_every_image(
    pipeline, tmp_path
):
    params = read_params_files(pipeline)
    params["split"]["validation"] = 1200
    bad = write_params_files(tmp_path, params)
    result = run_script(
        "images",
        "--params",
        bad,
        "--in",
        pipeline / "stages/decode",
        "--out",
        tmp_path / "out",
        cwd=pipeline,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "images: error: split.validation: expected fewer than the 1200 training images, got 1200"
    )
    assert not (tmp_path / "out").exists()
    assert run_main("images", "--help").stdout.startswith("usage:")


def test_network_history_has_each_epochs_loss_and_val_accuracy(pipeline):
    lines = (pipeline / "metrics/cnn/history.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss,val_acc"
    assert [line.split(",")[0] for line in lines[1:]] == ["1", "2"]


def test_live_summary_is_the_last_epoch_without_timestamps(pipeline):
    summary = json.loads((pipeline / "metrics/cnn/live/metrics.json").read_text())
    last = (pipeline / "metrics/cnn/history.csv").read_text().splitlines()[-1].split(",")
    assert summary == {"step": 2, "loss": float(last[1]), "val_acc": float(last[2])}
    assert sorted(p.name for p in (pipeline / "metrics/cnn/live").iterdir()) == ["metrics.json"]


def test_evaluate_scores_the_epoch_val_chose(pipeline):
    val = json.loads((pipeline / "metrics/cnn/scores/val.json").read_text())
    history = (pipeline / "metrics/cnn/history.csv").read_text().splitlines()[1:]
    assert val["acc"] == max(float(line.split(",")[2]) for line in history)


def test_training_twice_writes_the_same_bytes(pipeline, tmp_path):
    history, live = tmp_path / "history.csv", tmp_path / "live"
    step = [*train_step("cnn", "images")]
    step[step.index("--out") + 1] = tmp_path / "model"
    step[step.index("--history") + 1] = history
    step[step.index("--live") + 1] = live
    run_stages(pipeline, params_copy(pipeline, tmp_path), [tuple(step)])
    assert history.read_bytes() == (pipeline / "metrics/cnn/history.csv").read_bytes()
    assert (live / "metrics.json").read_bytes() == (
        pipeline / "metrics/cnn/live/metrics.json"
    ).read_bytes()
    assert (tmp_path / "model/model.pkl").read_bytes() == (
        pipeline / "stages/train/cnn/model.pkl"
    ).read_bytes()
