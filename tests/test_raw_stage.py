"""raw -> train@gd_4 -> evaluate@gd_4 as subprocesses on a slice of the real MNIST."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import run_script, run_stages, write_decoded_slice

from mnist_pipeline.files import load_arrays, save_arrays

GD_4 = {
    "features": "raw",
    "estimator": "gradient_descent",
    "target": 4,
    "learning_rate": 0.00001,
    "max_iter": 200,
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, mnist_slice, repo_params) -> Path:
    """Run raw, then train and evaluate the gradient-descent model, once; tests inspect the
    folder it leaves."""
    import yaml

    root = tmp_path_factory.mktemp("raw_pipeline")
    params = root / "params.yaml"
    params.write_text(
        yaml.safe_dump(
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
            sort_keys=False,
        )
    )
    write_decoded_slice(root, mnist_slice)
    steps = [
        ("raw", "--in", "stages/decode", "--out", "stages/raw"),
        (
            "train",
            "--model",
            "gd_4",
            "--features",
            "stages/raw",
            "--out",
            "stages/train/gd_4",
            "--history",
            "metrics/gd_4/history.csv",
        ),
        (
            "evaluate",
            "--model",
            "gd_4",
            "--model-dir",
            "stages/train/gd_4",
            "--features",
            "stages/raw",
            "--metrics-dir",
            "metrics/gd_4",
            "--out",
            "stages/evaluate/gd_4",
        ),
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


def test_validation_beyond_the_training_images_is_named_by_its_key(
    tmp_path, write_params, mnist_slice
):
    params = write_params({"raw": {"validation": 1200}})
    decoded = tmp_path / "decode"
    decoded.mkdir()
    for split in ("train", "test"):
        save_arrays(
            decoded / f"{split}.npz",
            {"images": mnist_slice[f"{split}_images"], "labels": mnist_slice[f"{split}_labels"]},
        )
    result = run_script("raw", "--params", params, "--in", decoded, "--out", tmp_path / "raw")
    assert result.returncode != 0
    assert result.stderr.strip() == (
        "raw: error: raw.validation: expected fewer than the 1200 training images, got 1200"
    )
