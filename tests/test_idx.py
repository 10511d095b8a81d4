"""The IDX reader: round trips, the shipped MNIST, and hostile files refused by one line, fast."""

import gzip
import os
import struct
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import FILE_NAMES, SHIPPED_MNIST
from idx_files import write_idx

from mnist_pipeline.data import TYPE_CODES, IdxError, read_idx


@pytest.mark.parametrize("type_code", sorted(TYPE_CODES))
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 1, 3, 2)])
@pytest.mark.parametrize("compress", [False, True])
def test_every_type_code_and_rank_round_trips_gzip_known_by_content(
    tmp_path, type_code, shape, compress
):
    path = tmp_path / ("a.idx" if compress else "a.idx.gz")  # names that lie
    dtype = TYPE_CODES[type_code].newbyteorder("=")
    array = (np.random.default_rng(type_code).standard_normal(shape) * 100).astype(dtype)
    write_idx(path, array, compress=compress)

    result = read_idx(path)

    assert result.dtype == dtype
    np.testing.assert_array_equal(result, array)


def test_the_shipped_mnist_reads_as_an_independent_reader_reads_it():
    for role, name in FILE_NAMES.items():
        data = gzip.decompress((SHIPPED_MNIST / name).read_bytes())
        ndim = data[3]
        shape = struct.unpack(f">{ndim}I", data[4 : 4 + 4 * ndim])
        expected = np.frombuffer(data[4 + 4 * ndim :], np.uint8).reshape(shape)
        np.testing.assert_array_equal(read_idx(SHIPPED_MNIST / name), expected, err_msg=role)
    labels = read_idx(SHIPPED_MNIST / FILE_NAMES["train_labels"])
    counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(labels).tolist() == counts


def header(code: int, *dims: int) -> bytes:
    return bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims)


def writes(data: bytes):
    return lambda path: path.write_bytes(data)


MAX = "more than the 17179869184 this reader accepts"
TOO_BIG = "header dimensions {} claim {} bytes, " + MAX
CORRUPT = "truncated or corrupt gzip stream ("
GZIPPED = gzip.compress(header(0x08, 300) + bytes(300), mtime=0)  # ends in its CRC and size
HOSTILE = {
    "empty": (writes(b""), "not an IDX file: header empty"),
    "wrong-magic": (writes(b"\1\2\x08\3" + bytes(9)), "not an IDX file: header 01020803"),
    "unknown-type": (writes(header(0x0A, 2) + b"\1\2"), "not an IDX file: header 00000a01"),
    "no-dimensions": (writes(header(0x08)), "not an IDX file: header 00000800"),
    "ends-in-header": (writes(header(0x08, 3, 3)[:6]), "the file ends inside its header"),
    "overflowing-dims": (
        writes(header(0x0E, *[2**32 - 1] * 3)),
        TOO_BIG.format("4294967295 x 4294967295 x 4294967295", 633825299671392843082401579000),
    ),
    "16-bytes-claiming-a-terabyte": (
        writes(header(0x08, 10**4, 10**4, 10**4)),
        TOO_BIG.format("10000 x 10000 x 10000", 10**12),
    ),
    "no-items-of-absurd-size": (
        writes(header(0x08, 0, 2**32 - 1, 2**32 - 1)),
        TOO_BIG.format("0 x 4294967295 x 4294967295", (2**32 - 1) ** 2),
    ),
    "payload-too-short": (writes(header(0x08, 300) + bytes(299)), "payload too short: 299 of"),
    "trailing-bytes": (writes(header(0x08, 300) + bytes(301)), "trailing bytes past the 300"),
    "truncated-gzip": (writes(GZIPPED[:-30]), CORRUPT),
    "bad-crc": (writes(GZIPPED[:-8] + bytes(4) + GZIPPED[-4:]), CORRUPT),
    "directory": (Path.mkdir, "expected a regular file, got a directory"),
    "fifo": (os.mkfifo, "expected a regular file, got a FIFO"),
}


@pytest.mark.parametrize(("make", "message"), HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_file_is_one_line_naming_it_before_any_memory_is_spent(tmp_path, make, message):
    path = tmp_path / "labels.idx"
    make(path)
    started = time.monotonic()

    with pytest.raises((IdxError, FileNotFoundError)) as refused:
        read_idx(path)

    assert str(refused.value).startswith(f"{path}: {message}")
    assert "\n" not in str(refused.value)
    assert time.monotonic() - started < 1
