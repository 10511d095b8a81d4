"""The decode stage on good and bad IDX files: exact errors, and nothing written on failure."""

from __future__ import annotations

import gzip
import os
import shutil
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import FILE_NAMES, run_main, run_script, tree_state, write_dataset

from mnist_pipeline.plumbing.files import load_arrays
from mnist_pipeline.plumbing.idx import IdxError, encode_idx
from mnist_pipeline.plumbing.params import load_params
from mnist_pipeline.stages.decode import DecodeError, decode


@pytest.fixture(scope="module")
def good_files(tmp_path_factory, mnist_slice) -> tuple[Path, dict]:
    """Four good IDX files (a slice of real MNIST), gzipped once, and their params entry."""
    folder = tmp_path_factory.mktemp("good") / "download"
    return folder, write_dataset(folder, mnist_slice)


@pytest.fixture
def dataset(tmp_path, good_files, write_params) -> tuple[Path, Path]:
    """A folder of four good IDX files, this test's to spoil, and a params file naming them."""
    folder = tmp_path / "download"
    shutil.copytree(good_files[0], folder)
    return folder, write_params({"datasets": {"mnist": {"files": good_files[1]}}})


def decode_fails_with(dataset, message: str) -> None:
    """decode refuses the dataset with ``message`` (what the stage prints after "decode:
    error: ") and leaves nothing behind, not even a temporary folder."""
    folder, params = dataset
    out = folder.parent / "decode"
    with pytest.raises((DecodeError, IdxError, FileNotFoundError)) as err:
        decode(folder, out, load_params(params).dataset)
    assert str(err.value) == message
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []


def test_decode_writes_uint8_images_and_labels(dataset, mnist_slice):
    """The script in a fresh Python, as DVC runs it."""
    folder, params = dataset
    out = folder.parent / "decode"
    result = run_script("decode", "--params", params, "--in", folder, "--out", out)
    assert result.returncode == 0, result.stderr
    assert "decode: decoded 1200 train, 300 test into" in result.stderr
    train = load_arrays(out / "train.npz", ("images", "labels"))
    assert train["images"].dtype == np.uint8 and train["images"].shape == (1200, 28, 28)
    np.testing.assert_array_equal(train["labels"], mnist_slice["train_labels"])
    test = load_arrays(out / "test.npz", ("images", "labels"))
    np.testing.assert_array_equal(test["images"], mnist_slice["test_images"])


def test_decode_stage_exits_1_with_its_error_on_one_line(dataset):
    folder, params = dataset
    path = folder / FILE_NAMES["test_labels"]
    labels = np.zeros(300, dtype=np.uint8)
    labels[17] = 10
    path.write_bytes(encode_idx(labels))
    out = folder.parent / "decode"
    result = run_main("decode", "--params", params, "--in", folder, "--out", out)
    assert result.returncode == 1
    assert result.stderr == (
        "decode: error: datasets.mnist.classes: labels run 0-10 (11 classes), 10 declared "
        f"(label 10 at index 17 of {path})\n"
    )
    assert not out.exists()


def test_decode_refuses_declared_classes_that_no_label_has(dataset, good_files, write_params):
    """11 names for MNIST's 10 digits: before, every stage went on and class "x" scored 0."""
    folder, _ = dataset
    eleven = [*(str(d) for d in range(10)), "x"]
    params = write_params(
        {"datasets": {"mnist": {"files": good_files[1], "classes": eleven}}}, name="eleven.yaml"
    )
    before = tree_state(folder.parent)

    result = run_script(
        "decode",
        "--params",
        params,
        "--in",
        folder,
        "--out",
        folder.parent / "decode",
        cwd=folder.parent,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stderr == (
        "decode: error: datasets.mnist.classes: labels run 0-9 (10 classes), 11 declared\n"
    )
    assert tree_state(folder.parent) == before


def test_decode_help_describes_the_stage():
    result = run_main("decode", "--help")
    assert result.returncode == 0
    assert "Decode the selected dataset's IDX files" in result.stdout
    assert "--in" in result.stdout and "--out" in result.stdout


def test_truncated_gzip(dataset):
    path = dataset[0] / FILE_NAMES["train_labels"]
    path.write_bytes(path.read_bytes()[:-30])
    decode_fails_with(
        dataset,
        f"{path}: truncated or corrupt gzip stream: Compressed "
        "file ended before the end-of-stream marker was reached",
    )


def test_gzip_with_a_bad_crc(dataset):
    path = dataset[0] / FILE_NAMES["test_labels"]
    data = bytearray(path.read_bytes())
    actual_crc = zlib.crc32(gzip.decompress(bytes(data)))
    data[-8:-4] = b"\x00\x00\x00\x00"
    path.write_bytes(bytes(data))
    decode_fails_with(
        dataset, f"{path}: corrupt gzip stream: CRC check failed 0x0 != {hex(actual_crc)}"
    )


def test_wrong_magic(dataset):
    path = dataset[0] / FILE_NAMES["train_images"]
    path.write_bytes(b"\x01\x02\x08\x03" + b"\x00" * 100)
    decode_fails_with(
        dataset,
        f"{path}: not an IDX file: magic 01020803 does not start with two zero bytes",
    )


def test_unknown_type_code(dataset):
    path = dataset[0] / FILE_NAMES["train_labels"]
    path.write_bytes(bytes([0, 0, 0x0A, 1, 0, 0, 0, 2, 1, 2]))
    decode_fails_with(
        dataset,
        f"{path}: unknown IDX type code 0x0A (known: 0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E)",
    )


def test_dimensions_whose_product_overflows(dataset):
    path = dataset[0] / FILE_NAMES["train_images"]
    path.write_bytes(bytes([0, 0, 0x0E, 3]) + b"\xff\xff\xff\xff" * 3)
    decode_fails_with(
        dataset,
        f"{path}: header dimensions 4294967295 x 4294967295 x "
        "4294967295 claim 633825299671392843082401579000 bytes, more than the "
        "17179869184 this reader accepts",
    )


def test_absurd_item_count_in_a_16_byte_file_is_an_error_not_a_memory_error(dataset):
    path = dataset[0] / FILE_NAMES["train_labels"]
    path.write_bytes(bytes([0, 0, 0x08, 3]) + (10**4).to_bytes(4, "big") * 3)
    decode_fails_with(
        dataset,
        f"{path}: header dimensions 10000 x 10000 x 10000 claim "
        "1000000000000 bytes, more than the 17179869184 this reader accepts",
    )


def test_labels_header_of_three_dimensions_is_refused_before_its_payload(dataset):
    path = dataset[0] / FILE_NAMES["train_labels"]
    path.write_bytes(bytes([0, 0, 0x08, 3]) + (10**3).to_bytes(4, "big") * 3)
    decode_fails_with(
        dataset,
        f"{path}: expected unsigned-byte labels of one "
        "dimension, got uint8 with shape (1000, 1000, 1000)",
    )


def gzip_bomb(header_dims: tuple[int, ...], payload_bytes: int) -> bytes:
    """A gzipped IDX file of unsigned bytes whose header claims ``header_dims`` and whose
    payload is ``payload_bytes`` zeros (compressed a thousandfold)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [
        compressor.compress(
            bytes([0, 0, 0x08, len(header_dims)])
            + b"".join(d.to_bytes(4, "big") for d in header_dims)
        )
    ]
    zeros = bytes(1 << 20)
    for _ in range(payload_bytes >> 20):
        parts.append(compressor.compress(zeros))
    return b"".join([*parts, compressor.flush()])


def test_images_of_another_shape_than_the_param_are_refused_before_the_payload(dataset):
    path = dataset[0] / FILE_NAMES["train_images"]
    path.write_bytes(gzip_bomb((1000, 1000, 1000), 64 << 20))
    started = time.monotonic()
    decode_fails_with(
        dataset,
        f"{path}: expected images of 28 x 28 "
        "(datasets.mnist.image_shape), header declares 1000 x 1000 x 1000",
    )
    assert time.monotonic() - started < 1


def test_4_gib_of_28_x_28_images_against_1200_labels_is_refused_before_the_payload(dataset):
    path = dataset[0] / FILE_NAMES["train_images"]
    labels = dataset[0] / FILE_NAMES["train_labels"]
    path.write_bytes(gzip_bomb((2**32 // 784, 28, 28), 64 << 20))
    started = time.monotonic()
    decode_fails_with(dataset, f"{path} holds 5478274 images but {labels} holds 1200 labels")
    assert time.monotonic() - started < 1


def test_zero_images_of_absurd_size_are_one_line_not_array_is_too_big(dataset):
    path = dataset[0] / FILE_NAMES["test_images"]
    path.write_bytes(bytes([0, 0, 0x08, 3]) + bytes(4) + b"\xff\xff\xff\xff" * 2)
    decode_fails_with(
        dataset,
        f"{path}: header dimensions 0 x 4294967295 x 4294967295 "
        "declare items of 18446744065119617025 bytes, more than the 17179869184 "
        "this reader accepts",
    )


def test_directory_in_place_of_an_idx_file(dataset):
    path = dataset[0] / FILE_NAMES["test_labels"]
    path.unlink()
    path.mkdir()
    decode_fails_with(dataset, f"{path}: expected a regular file, got a directory")


def test_fifo_in_place_of_an_idx_file_fails_at_once(dataset):
    path = dataset[0] / FILE_NAMES["train_images"]
    path.unlink()
    os.mkfifo(path)
    started = time.monotonic()
    decode_fails_with(dataset, f"{path}: expected a regular file, got a FIFO")
    assert time.monotonic() - started < 1


def test_payload_too_short(dataset):
    path = dataset[0] / FILE_NAMES["test_labels"]
    path.write_bytes(encode_idx(np.zeros(300, dtype=np.uint8))[:-1])
    decode_fails_with(
        dataset,
        f"{path}: payload too short: header (300) declares 300 bytes, the file holds 299",
    )


def test_trailing_bytes(dataset):
    path = dataset[0] / FILE_NAMES["test_labels"]
    path.write_bytes(encode_idx(np.zeros(300, dtype=np.uint8)) + b"\x00")
    decode_fails_with(
        dataset,
        f"{path}: trailing bytes: payload is longer than the 300 bytes its header (300) declares",
    )


def test_empty_file(dataset):
    path = dataset[0] / FILE_NAMES["test_images"]
    path.write_bytes(b"")
    decode_fails_with(dataset, f"{path}: empty file, expected an IDX header")


def test_file_ending_inside_the_header(dataset):
    path = dataset[0] / FILE_NAMES["test_images"]
    path.write_bytes(bytes([0, 0, 0x08, 3, 0, 0]))
    decode_fails_with(dataset, f"{path}: file ends inside the header (3 dimensions declared)")


def test_image_and_label_counts_disagree(dataset):
    images, labels = (dataset[0] / FILE_NAMES[r] for r in ("train_images", "train_labels"))
    labels.write_bytes(encode_idx(np.zeros(1199, dtype=np.uint8)))
    decode_fails_with(dataset, f"{images} holds 1200 images but {labels} holds 1199 labels")


def test_images_of_the_wrong_type(dataset):
    path = dataset[0] / FILE_NAMES["test_images"]
    path.write_bytes(encode_idx(np.zeros((300, 28, 28), dtype=np.float32)))
    decode_fails_with(
        dataset,
        f"{path}: expected unsigned-byte images N x rows x "
        "columns, got float32 with shape (300, 28, 28)",
    )


def test_missing_input_file(dataset):
    path = dataset[0] / FILE_NAMES["test_images"]
    path.unlink()
    decode_fails_with(dataset, f"[Errno 2] No such file or directory: '{path}'")
