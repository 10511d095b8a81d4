"""The normalize stage: each scaling method, deskewing when asked, and the stage on the MNIST
slice: its splits, its label counts, the params section it follows and the splits it refuses."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run_main, run_script, write_decoded_slice

from mnist_pipeline.deskew import deskew
from mnist_pipeline.features import PixelRows
from mnist_pipeline.plumbing.files import load_arrays

IMAGES = np.array([[[0, 255], [51, 102]], [[255, 255], [0, 0]]], dtype=np.uint8)


@pytest.mark.parametrize(
    ("method", "first_row"),
    [
        ("scale", [0, 1, 0.2, 0.4]),
        ("offset", [0.01, 1, 0.208, 0.406]),
        ("l2", [0, 0.9129, 0.1826, 0.3651]),
    ],
)
def test_each_method_scales_the_pixels(method, first_row):
    rows = PixelRows(method).fit_transform(IMAGES)

    assert rows.dtype == np.float32
    np.testing.assert_allclose(rows[0], first_row, atol=1e-4)


def test_standardize_uses_the_training_statistics_only():
    pixels = PixelRows("standardize").fit(IMAGES)

    np.testing.assert_allclose(pixels.transform(IMAGES).mean(axis=0), 0, atol=1e-6)
    np.testing.assert_allclose(pixels.transform(IMAGES[:1] // 2)[0, 0], -1)  # (0 - 0.5) / 0.5
    assert pixels.transform(IMAGES)[0, 1] == 0  # a constant pixel stays 0, not NaN


def test_pixels_are_deskewed_only_when_asked(mnist_slice):
    images = mnist_slice["train_images"][:20]

    plain = PixelRows("scale").fit_transform(images)
    straightened = PixelRows("scale", deskew=True).fit_transform(images)

    np.testing.assert_array_equal(plain, images.reshape(20, -1) / np.float32(255))
    np.testing.assert_allclose(straightened, deskew(images).reshape(20, -1) / 255, atol=1e-6)


@pytest.fixture(scope="module")
def root(tmp_path_factory, mnist_slice):
    """The MNIST slice decoded, in a folder of its own."""
    root = tmp_path_factory.mktemp("normalize")
    write_decoded_slice(root, mnist_slice)
    return root


def normalize(root, params, name="out", *section):
    """normalize in this process on ``root``'s slice into ``root/<name>`` and its CSV."""
    out, labels = root / name, root / f"{name}.csv"
    args = ("--in", root / "stages/decode", "--out", out, "--labels", labels, *section)
    return run_main("normalize", "--params", params, *args), out, labels


def test_normalize_holds_out_the_last_training_images_and_counts_each_class(
    root, mnist_slice, write_params
):
    result, out, labels = normalize(root, write_params({"split": {"validation": 200}}), "split")

    assert result.returncode == 0, result.stderr
    val = load_arrays(out / "val.npz", ("X", "y"))
    assert val["X"].shape == (200, 784)
    np.testing.assert_array_equal(val["y"], mnist_slice["train_labels"][1000:])
    splits = (mnist_slice["train_labels"][:1000], val["y"], mnist_slice["test_labels"])
    fives = ",".join(str(np.sum(y == 5)) for y in splits)
    lines = labels.read_text().splitlines()
    assert (lines[0], lines[6], len(lines)) == ("class,train,val,test", f"5,{fives}", 11)


def test_normalize_as_dvc_runs_it_writes_the_same_bytes(root, tmp_path, write_params):
    params = write_params({"split": {"validation": 200}})
    _, out, labels = normalize(root, params, "in_process")
    args = ("--in", root / "stages/decode", "--out", tmp_path / "out")

    result = run_script("normalize", "--params", params, *args, "--labels", tmp_path / "l.csv")

    assert result.returncode == 0, result.stderr
    for name in ("train.npz", "val.npz", "test.npz", "features.skops"):
        assert (tmp_path / "out" / name).read_bytes() == (out / name).read_bytes()
    assert (tmp_path / "l.csv").read_bytes() == labels.read_bytes()


def test_normalize_follows_the_section_named_on_its_command_line(root, write_params):
    params = write_params(
        {"split": {"validation": 200}, "normalize_deskewed": {"method": "l2", "deskew": True}}
    )

    result, out, _ = normalize(root, params, "deskewed", "--section", "normalize_deskewed")

    assert result.returncode == 0, result.stderr
    images = load_arrays(root / "stages/decode/test.npz", ("images",))["images"]
    expected = PixelRows("l2", deskew=True).fit_transform(images)
    np.testing.assert_array_equal(load_arrays(out / "test.npz", ("X",))["X"], expected)


def test_split_train_keeps_the_first_training_images(root, write_params):
    result, out, _ = normalize(
        root, write_params({"split": {"validation": 200, "train": 300}}), "first"
    )

    assert result.returncode == 0, result.stderr
    images = load_arrays(root / "stages/decode/train.npz", ("images",))["images"]
    np.testing.assert_array_equal(
        load_arrays(out / "train.npz", ("X",))["X"], PixelRows().fit_transform(images[:300])
    )


BAD_SPLITS = {
    "validation-of-all": (
        {"validation": 1200},
        "split.validation: expected fewer than the 1200 training images, got 1200",
    ),
    "validation-leaving-one-class": (
        {"validation": 1199},
        "split.validation: expected to leave training images of at least 2 classes, "
        "got 1199 (the 1 left are all 5s)",
    ),
    "train-too-many": (
        {"validation": 200, "train": 1001},
        "split.train: expected all or at most the 1000 training images left by "
        "split.validation, got 1001",
    ),
    "train-of-one-class": (
        {"validation": 200, "train": 1},
        "split.train: expected the first images to hold at least 2 classes, got 1 (all 5s)",
    ),
}


@pytest.mark.parametrize(("split", "message"), BAD_SPLITS.values(), ids=BAD_SPLITS)
def test_a_split_nothing_can_be_fitted_on_is_refused_before_anything_is_written(
    root, write_params, split, message
):
    result, out, labels = normalize(root, write_params({"split": split}), "bad")

    assert (result.returncode, result.stderr) == (1, f"normalize: error: {message}\n")
    assert not out.exists() and not labels.exists()
