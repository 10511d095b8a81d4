"""The raw stage on the MNIST slice: uint8 pixel rows, no validation split for 0."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_main, run_script, write_decoded_slice

from mnist_pipeline.plumbing.files import load_arrays


@pytest.fixture(scope="module")
def decoded(tmp_path_factory, mnist_slice):
    root = tmp_path_factory.mktemp("raw")
    write_decoded_slice(root, mnist_slice)
    return root / "stages/decode"


def test_raw_keeps_every_training_image_as_uint8_pixels_as_dvc_runs_it(
    decoded, tmp_path, mnist_slice, write_params
):
    params = write_params({"raw": {"validation": 0}})

    result = run_script(
        "raw", "--params", params, "--in", decoded, "--out", tmp_path / "raw", timeout=120
    )

    assert result.returncode == 0, result.stderr
    train = load_arrays(tmp_path / "raw/train.npz", ("X", "y"))
    assert train["X"].dtype == np.uint8
    np.testing.assert_array_equal(train["X"], mnist_slice["train_images"].reshape(1200, 784))
    np.testing.assert_array_equal(train["y"], mnist_slice["train_labels"])
    assert load_arrays(tmp_path / "raw/val.npz", ("X",))["X"].shape == (0, 784)
    assert (tmp_path / "raw/features.skops").is_file()


def test_raw_validation_holds_out_the_last_training_images(
    decoded, tmp_path, mnist_slice, write_params
):
    params = write_params({"raw": {"validation": 200}})

    assert (
        run_main("raw", "--params", params, "--in", decoded, "--out", tmp_path / "raw").returncode
        == 0
    )

    val = load_arrays(tmp_path / "raw/val.npz", ("y",))["y"]
    np.testing.assert_array_equal(val, mnist_slice["train_labels"][1000:])


def test_raw_validation_of_every_image_is_named_by_its_key(decoded, tmp_path, write_params):
    params = write_params({"raw": {"validation": 1200}})

    result = run_main("raw", "--params", params, "--in", decoded, "--out", tmp_path / "raw")

    assert (result.returncode, result.stderr) == (
        1,
        "raw: error: raw.validation: expected fewer than the 1200 training images, got 1200\n",
    )
    assert not (tmp_path / "raw").exists()
