"""The normalize stage: its scaling methods, and the script on the MNIST slice and its splits."""

import numpy as np
import pytest
from conftest import run_main, write_decoded_slice

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


def test_normalize_follows_its_section_and_split_train_keeps_the_first_images(root, write_params):
    deskewed = {"method": "l2", "deskew": True}
    params = write_params(
        {"split": {"validation": 200, "train": 300}, "normalize_deskewed": deskewed}
    )

    result, out, _ = normalize(root, params, "deskewed", "--section", "normalize_deskewed")

    assert result.returncode == 0, result.stderr
    pixels = PixelRows("l2", deskew=True)
    for split, first in (("train", 300), ("test", None)):
        images = load_arrays(root / f"stages/decode/{split}.npz", ("images",))["images"][:first]
        rows = load_arrays(out / f"{split}.npz", ("X",))["X"]
        np.testing.assert_array_equal(rows, pixels.fit_transform(images))


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
