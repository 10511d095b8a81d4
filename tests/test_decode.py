"""The decode stage: IDX files checked against the dataset's description, one line per refusal."""

import shutil
import time
import zlib
from collections.abc import Callable
from pathlib import Path

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


def bomb(*dims: int) -> Callable[[Path], None]:
    """Writes a gzipped IDX header claiming ``dims`` of unsigned bytes, and 64 MiB of zeros."""

    def write(path: Path) -> None:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        header = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)
        parts = [packer.compress(header), *(packer.compress(bytes(1 << 20)) for _ in range(64))]
        path.write_bytes(b"".join([*parts, packer.flush()]))

    return write


def idx(array: np.ndarray) -> Callable[[Path], None]:
    return lambda path: write_idx(path, array, compress=True)


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


SPOILED = {
    "another-shape": (
        "train_images",
        bomb(1000, 1000, 1000),
        "{path}: expected images of 28 x 28 (datasets.mnist.image_shape), header declares "
        "1000 x 1000 x 1000",
    ),
    "more-images-than-labels": (
        "train_images",
        bomb(2**32 // 784, 28, 28),
        "{path} holds 5478274 images but {folder}/train-labels-idx1-ubyte.gz holds 1200 labels",
    ),
    "labels-of-rank-2": (
        "train_labels",
        idx(np.zeros((4, 2), np.uint8)),
        "{path}: expected uint8 labels of one dimension, got uint8 of shape (4, 2)",
    ),
    "float-images": (
        "test_images",
        idx(np.zeros((300, 28, 28), np.float32)),
        "{path}: expected uint8 images N x rows x columns, got float32 of shape (300, 28, 28)",
    ),
    "missing": ("test_images", Path.unlink, "{path}: no such file"),
    "label-beyond-the-classes": (
        "test_labels",
        idx(np.where(np.arange(300) == 17, 10, 0).astype(np.uint8)),
        "datasets.mnist.classes: labels run 0-10 (11 classes), 10 declared "
        "(label 10 at index 17 of {path})",
    ),
}


@pytest.mark.parametrize(("role", "spoil", "message"), SPOILED.values(), ids=SPOILED.keys())
def test_a_spoiled_file_is_one_line_naming_it_before_its_payload_is_read(
    dataset, role, spoil, message
):
    path = dataset[0] / FILE_NAMES[role]
    spoil(path)
    started = time.monotonic()

    assert refused(dataset) == message.format(path=path, folder=dataset[0])
    assert time.monotonic() - started < 2


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
