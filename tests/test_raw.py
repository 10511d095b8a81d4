"""The raw stage's features, uint8 pixels with no validation split, and what a model fitted on
them gets: raw -> train@gd_4 -> evaluate@gd_4 on a slice of the real MNIST."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    evaluate_step,
    params_copy,
    run_main,
    run_script,
    run_stages,
    train_step,
    write_decoded_slice,
    write_params_files,
)

from mnist_pipeline.plumbing.files import load_arrays

GD_4 = {
    "features": "raw",
    "estimator": "gradient_descent",
    "target": 4,
    "learning_rate": 0.00001,
    "max_iter": 200,
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, mnist_slice, repo_params) -> Path:
    """Run raw, then train and evaluate the gradient-descent model, once, in this process;
    tests inspect the folder it leaves."""
    root = tmp_path_factory.mktemp("raw_pipeline")
    params = write_params_files(
        root,
        {
            **repo_params,
            "models": {"gd_4": GD_4},
            "datasets": {
                "mnist": {
                    **repo_params["datasets"]["mnist"],
                    "references": {"source": "none", "test": {}, "cv": {}},
                }
            },
        },
    )
    write_decoded_slice(root, mnist_slice)
    steps = [
        ("raw", "--in", "stages/decode", "--out", "stages/raw"),
        train_step("gd_4", "raw"),
        evaluate_step("gd_4", "raw"),
    ]
    run_stages(root, params, steps)
    return root


def test_raw_keeps_every_training_image_as_uint8_pixels(pipeline, mnist_slice):
    train = load_arrays(pipeline / "stages/raw/train.npz", ("X", "y"))
    assert train["X"].dtype == np.uint8 and train["X"].shape == (1200, 784)
    np.testing.assert_array_equal(train["X"], mnist_slice["train_images"].reshape(1200, 784))
    np.testing.assert_array_equal(train["y"], mnist_slice["train_labels"])


def test_raw_val_split_is_empty_with_validation_zero(pipeline):
    val = load_arrays(pipeline / "stages/raw/val.npz", ("X", "y"))
    assert val["X"].shape == (0, 784) and val["y"].shape == (0,)


def test_history_numbers_iterations_from_zero_before_the_first_update(pipeline):
    lines = (pipeline / "metrics/gd_4/history.csv").read_text().splitlines()
    assert lines[0] == "epoch,loss" and len(lines) == 1 + 201
    assert lines[1] == "0,0.693147180559945"
    assert lines[-1].startswith("200,")


def test_evaluate_scores_the_test_split_only(pipeline):
    scores = pipeline / "metrics/gd_4/scores"
    assert sorted(p.name for p in scores.iterdir()) == ["test.json"]
    test = json.loads((scores / "test.json").read_text())
    assert list(test) == ["acc", "acc_hi", "acc_lo", "ap", "f1", "p", "r"]


def test_raw_runs_as_dvc_runs_it(pipeline, tmp_path):
    """The script in a fresh Python, as dvc.yaml's command: the arrays of the in-process run."""
    params = params_copy(pipeline, tmp_path)
    result = run_script(
        "raw", "--params", params, "--in", "stages/decode", "--out", tmp_path / "raw", cwd=pipeline
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[-1].startswith("raw: done in ")
    for split in ("train", "val", "test"):
        written = load_arrays(tmp_path / "raw" / f"{split}.npz", ("X", "y"))
        expected = load_arrays(pipeline / f"stages/raw/{split}.npz", ("X", "y"))
        np.testing.assert_array_equal(written["X"], expected["X"])
        np.testing.assert_array_equal(written["y"], expected["y"])


def test_validation_beyond_the_training_images_is_named_by_its_key(pipeline, write_params):
    params = write_params({"raw": {"validation": 1200}})
    out = params.parent / "raw"
    result = run_main(
        "raw", "--params", params, "--in", "stages/decode", "--out", out, cwd=pipeline
    )
    assert result.returncode == 1
    assert result.stderr == (
        "raw: error: raw.validation: expected fewer than the 1200 training images, got 1200\n"
    )
    assert not out.exists()
