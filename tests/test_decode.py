"""The decode stage: IDX files checked against the dataset's description, one line per refusal,
nothing written then. The reader's own refusals are test_idx.py's."""

from __future__ import annotations

import gzip
import shutil
import time
import zlib

import numpy as np
import pytest
from conftest import FILE_NAMES, run_main, run_script, write_dataset
from idx_files import write_idx

from mnist_pipeline.plumbing.files import load_arrays


@pytest.fixture(scope="module")
def good_files(tmp_path_factory, mnist_slice):
    """Four gzipped IDX files of the MNIST slice, and their datasets.yaml ``files`` entry."""
    folder = tmp_path_factory.mktemp("good") / "download"
    return folder, write_dataset(folder, mnist_slice)


@pytest.fixture
def dataset(tmp_path, good_files, write_params):
    """A copy of the good files, this test's to spoil, and a params file naming them."""
    shutil.copytree(good_files[0], tmp_path / "download")
    return tmp_path / "download", write_params({"datasets": {"mnist": {"files": good_files[1]}}})


def refused(dataset, params=None) -> str:
    """decode's one line of error on ``dataset``; nothing was written."""
    folder, default = dataset
    out = folder.parent / "decode"
    result = run_main("decode", "--params", params or default, "--in", folder, "--out", out)
    assert result.returncode == 1
    assert not out.exists() and not list(folder.parent.glob(".*"))
    return result.stderr.removeprefix("decode: error: ").removesuffix("\n")


def bomb(*dims: int) -> bytes:
    """A gzipped IDX header claiming ``dims`` of unsigned bytes, and 64 MiB of zeros."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [
        packer.compress(bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims))
    ]
    parts += [packer.compress(bytes(1 << 20)) for _ in range(64)]
    return b"".join([*parts, packer.flush()])


def test_decode_writes_uint8_images_and_labels_as_dvc_runs_it(dataset, mnist_slice):
    folder, params = dataset
    out = folder.parent / "decode"

    result = run_script("decode", "--params", params, "--in", folder, "--out", out, timeout=120)

    assert result.returncode == 0, result.stderr
    for split in ("train", "test"):
        arrays = load_arrays(out / f"{split}.npz", ("images", "labels"))
        assert arrays["images"].dtype == np.uint8
        np.testing.assert_array_equal(arrays["images"], mnist_slice[f"{split}_images"])
        np.testing.assert_array_equal(arrays["labels"], mnist_slice[f"{split}_labels"])


def test_images_of_another_shape_than_the_description_are_refused_before_the_payload(dataset):
    path = dataset[0] / FILE_NAMES["train_images"]
    path.write_bytes(bomb(1000, 1000, 1000))
    started = time.monotonic()

    assert refused(dataset) == (
        f"{path}: expected images of 28 x 28 (datasets.mnist.image_shape), header declares "
        "1000 x 1000 x 1000"
    )
    assert time.monotonic() - started < 2


def test_more_images_than_labels_are_refused_before_the_payload(dataset):
    images, labels = (dataset[0] / FILE_NAMES[r] for r in ("train_images", "train_labels"))
    images.write_bytes(bomb(2**32 // 784, 28, 28))

    assert refused(dataset) == f"{images} holds 5478274 images but {labels} holds 1200 labels"


@pytest.mark.parametrize(
    ("role", "array", "expected"),
    [
        ("train_labels", np.zeros((4, 2), np.uint8), "uint8 labels of one dimension, got uint8"),
        ("test_images", np.zeros((300, 28, 28), np.float32), "uint8 images N x rows x columns"),
    ],
)
def test_labels_and_images_of_another_type_or_rank_are_refused(dataset, role, array, expected):
    path = dataset[0] / FILE_NAMES[role]
    write_idx(path, array, compress=True)

    assert refused(dataset).startswith(f"{path}: expected {expected}")


def test_a_missing_file_is_named(dataset):
    path = dataset[0] / FILE_NAMES["test_images"]
    path.unlink()

    assert refused(dataset) == f"{path}: no such file"


def test_a_label_beyond_the_declared_classes_is_named_with_its_index(dataset):
    path = dataset[0] / FILE_NAMES["test_labels"]
    labels = np.zeros(300, np.uint8)
    labels[17] = 10
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 1, 44]) + labels.tobytes()))

    assert refused(dataset) == (
        "datasets.mnist.classes: labels run 0-10 (11 classes), 10 declared "
        f"(label 10 at index 17 of {path})"
    )


def test_declared_classes_that_no_label_has_are_refused(dataset, good_files, write_params):
    eleven = [*(str(d) for d in range(10)), "x"]
    params = write_params({"datasets": {"mnist": {"files": good_files[1], "classes": eleven}}})

    assert refused(dataset, params) == (
        "datasets.mnist.classes: labels run 0-9 (10 classes), 11 declared"
    )


def test_transposed_images_are_turned_upright(tmp_path, write_params):
    rng = np.random.default_rng(0)
    arrays = {
        f"{s}_labels": rng.integers(0, 6, n, np.uint8) for s, n in [("train", 40), ("test", 9)]
    }
    for split in ("train", "test"):  # pixel (0, c) lit for class c: a transposition shows
        labels = arrays[f"{split}_labels"]
        arrays[f"{split}_images"] = np.zeros((len(labels), 6, 8), np.uint8)
        arrays[f"{split}_images"][np.arange(len(labels)), 0, labels] = 255
    description = {"files": write_dataset(tmp_path / "download", arrays), "image_shape": [6, 8]}
    params = write_params(
        {"datasets": {"mnist": {**description, "transpose": True, "classes": list("abcdef")}}}
    )

    folders = ("--in", tmp_path / "download", "--out", tmp_path / "decode")
    result = run_main("decode", "--params", params, *folders)

    assert result.returncode == 0, result.stderr
    train = load_arrays(tmp_path / "decode/train.npz", ("images",))["images"]
    np.testing.assert_array_equal(train, arrays["train_images"].transpose(0, 2, 1))
