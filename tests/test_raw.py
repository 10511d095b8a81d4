"""The raw stage on the MNIST slice: uint8 pixel rows, no validation split for 0."""

import numpy as np
import pytest
from conftest import run_main, run_script, write_decoded_slice

from mnist_pipeline.plumbing.files import load_arrays


@pytest.fixture(scope="module")
def decoded(tmp_path_factory, mnist_slice):
    root = tmp_path_factory.mktemp("raw")
    write_decoded_slice(root, mnist_slice)
    return root / "stages/decode"


@pytest.mark.parametrize("validation", [0, 200])
def test_raw_writes_uint8_pixel_rows_holding_out_the_last_training_images_as_dvc_runs_it(
    decoded, tmp_path, mnist_slice, write_params, validation
):
    params = write_params({"raw": {"validation": validation}})
    out = tmp_path / "raw"

    result = run_script("raw", "--params", params, "--in", decoded, "--out", out, timeout=120)

    assert result.returncode == 0, result.stderr
    train, val = (load_arrays(out / f"{split}.npz", ("X", "y")) for split in ("train", "val"))
    pixels, labels = mnist_slice["train_images"].reshape(1200, 784), mnist_slice["train_labels"]
    kept = 1200 - validation
    assert train["X"].dtype == np.uint8 and val["X"].shape == (validation, 784)
    np.testing.assert_array_equal(train["X"], pixels[:kept])
    np.testing.assert_array_equal(train["y"], labels[:kept])
    np.testing.assert_array_equal(val["X"], pixels[kept:])
    np.testing.assert_array_equal(val["y"], labels[kept:])
    assert (out / "features.skops").is_file()


def test_raw_validation_of_every_image_is_named_by_its_key(decoded, tmp_path, write_params):
    params = write_params({"raw": {"validation": 1200}})

    result = run_main("raw", "--params", params, "--in", decoded, "--out", tmp_path / "raw")

    assert (result.returncode, result.stderr) == (
        1,
        "raw: error: raw.validation: expected fewer than the 1200 training images, got 1200\n",
    )
    assert not (tmp_path / "raw").exists()
