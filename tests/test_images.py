"""The images stage on the MNIST slice: uint8 images, split as normalize splits them."""

import numpy as np
from conftest import run_main, run_script, write_decoded_slice

from mnist_pipeline.plumbing.files import load_arrays


def test_images_stay_uint8_images_split_as_normalize_splits_them(
    tmp_path, mnist_slice, write_params
):
    write_decoded_slice(tmp_path, mnist_slice)
    params = write_params({"split": {"validation": 200, "train": 600}})
    folders = ("--in", tmp_path / "stages/decode", "--out", tmp_path / "images")

    result = run_script("images", "--params", params, *folders, timeout=120)

    assert result.returncode == 0, result.stderr
    split = {
        s: load_arrays(tmp_path / f"images/{s}.npz", ("X", "y")) for s in ("train", "val", "test")
    }
    images, labels = mnist_slice["train_images"], mnist_slice["train_labels"]
    assert split["train"]["X"].dtype == np.uint8
    np.testing.assert_array_equal(split["train"]["X"], images[:600])
    np.testing.assert_array_equal(split["val"]["y"], labels[1000:])
    np.testing.assert_array_equal(split["test"]["X"], mnist_slice["test_images"])


def test_images_refuse_a_validation_of_every_image(tmp_path, mnist_slice, write_params):
    write_decoded_slice(tmp_path, mnist_slice)
    params = write_params({"split": {"validation": 1200}})
    folders = ("--in", tmp_path / "stages/decode", "--out", tmp_path / "images")

    result = run_main("images", "--params", params, *folders)

    assert (result.returncode, result.stderr) == (
        1,
        "images: error: split.validation: expected fewer than the 1200 training images, got 1200\n",
    )
    assert not (tmp_path / "images").exists()
