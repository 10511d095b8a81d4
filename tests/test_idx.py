"""The IDX codec: round trips through the writer, and agreement with the real MNIST files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
from conftest import FILE_NAMES, SHIPPED_MNIST

from mnist_pipeline.plumbing.idx import TYPE_CODES, encode_idx, read_idx, write_idx


def independent_read(path: Path) -> np.ndarray:
    """A reference reader written straight from the format's description, for MNIST's files."""
    data = gzip.decompress(path.read_bytes())
    zero, type_code, ndim = struct.unpack(">HBB", data[:4])
    shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
    assert (zero, type_code) == (0, 0x08)
    return np.frombuffer(data[4 + 4 * ndim :], dtype=np.uint8).reshape(shape)


@pytest.mark.parametrize("type_code", sorted(TYPE_CODES))
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4), (2, 1, 3, 2)])
@pytest.mark.parametrize("compress", [False, True])
def test_every_type_code_and_rank_round_trips(tmp_path, type_code, shape, compress):
    dtype = TYPE_CODES[type_code].newbyteorder("=")
    rng = np.random.default_rng(type_code)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    path = tmp_path / "a.idx"
    write_idx(path, array, compress=compress)
    result = read_idx(path)
    assert result.dtype == dtype
    np.testing.assert_array_equal(result, array)


def test_header_is_big_endian_with_the_type_code_and_dimensions():
    data = encode_idx(np.zeros((2, 3), dtype=np.int16))
    assert data[:12] == bytes([0, 0, 0x0B, 2, 0, 0, 0, 2, 0, 0, 0, 3])
    assert len(data) == 12 + 2 * 3 * 2


def test_gzip_is_recognised_by_content_not_by_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    write_idx(tmp_path / "looks-raw.idx", array, compress=True)
    write_idx(tmp_path / "looks-gzipped.gz", array, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "looks-raw.idx"), array)
    np.testing.assert_array_equal(read_idx(tmp_path / "looks-gzipped.gz"), array)


def test_writer_refuses_a_dtype_idx_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="dtype uint16 has no IDX type code"):
        write_idx(tmp_path / "a.idx", np.zeros(3, dtype=np.uint16))


def test_gzipped_output_is_byte_identical_across_writes(tmp_path):
    array = np.arange(100, dtype=np.uint8)
    write_idx(tmp_path / "a.gz", array, compress=True)
    write_idx(tmp_path / "b.gz", array, compress=True)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()


@pytest.fixture(scope="module")
def shipped() -> dict[str, np.ndarray]:
    return {role: read_idx(SHIPPED_MNIST / name) for role, name in FILE_NAMES.items()}


def test_shipped_mnist_has_60000_training_and_10000_test_images(shipped):
    assert shipped["train_images"].shape == (60000, 28, 28)
    assert shipped["train_labels"].shape == (60000,)
    assert shipped["test_images"].shape == (10000, 28, 28)
    assert shipped["test_labels"].shape == (10000,)


def test_shipped_mnist_first_training_label_is_5(shipped):
    assert shipped["train_labels"][0] == 5


def test_shipped_mnist_training_label_distribution(shipped):
    counts = np.bincount(shipped["train_labels"], minlength=10)
    assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.mark.parametrize("role", sorted(FILE_NAMES))
def test_reader_agrees_with_an_independent_reader_on_shipped_mnist(shipped, role):
    np.testing.assert_array_equal(shipped[role], independent_read(SHIPPED_MNIST / FILE_NAMES[role]))
