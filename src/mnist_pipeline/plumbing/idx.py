"""The IDX file format (LeCun's MNIST format): a reader that checks everything, and a writer.

Layout: two zero bytes, a type code, the number of dimensions, one big-endian uint32 per
dimension, then the items, big-endian, row-major. Gzipped files are recognised by their
magic bytes, not their name.

The reader checks the header before it reads any payload: against a size cap (so a 16-byte
file claiming 10^12 items is an error, not a MemoryError) and against what the caller expects
(``check``: a shape, a type). Only then does it allocate the array the header declares and
decompress the payload straight into it, one bounded chunk at a time: memory is the size of
the result, never a second copy. Only a regular file is read: a FIFO or a device in place of
an IDX file is refused at once.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnist_pipeline.plumbing.files import atomic_file, open_regular

TYPE_CODES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_PAYLOAD_BYTES = 16 * 2**30
"""Larger than any real IDX file; a header claiming more is corrupt."""

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


class IdxError(ValueError):
    """The file is not a well-formed IDX file; the message names the file and the fault."""


HeaderCheck = Callable[[np.dtype, tuple[int, ...]], None]
"""Called with the header's item type (native byte order) and shape before any payload is
read; raises to refuse the file."""


def read_idx(path: Path | str, check: HeaderCheck | None = None) -> np.ndarray:
    """Read an IDX file, gzipped or raw, into an array of its native type and shape.

    ``check`` sees the header's type and shape before any payload is read. Raises
    ``IdxError`` for a malformed file, ``FileNotFoundError`` if ``path`` is missing or is not
    a regular file.
    """
    path = Path(path)
    with open_regular(path) as raw:
        head = raw.read(2)
        raw.seek(0)
        if head == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw) as stream:
                return _read_stream(stream, path, check)
        return _read_stream(raw, path, check)


def _read_stream(stream: BinaryIO, path: Path, check: HeaderCheck | None) -> np.ndarray:
    try:
        header = _read_exactly(stream, 4)
        if not header:
            raise IdxError(f"{path}: empty file, expected an IDX header")
        if len(header) < 4 or header[:2] != b"\x00\x00":
            raise IdxError(
                f"{path}: not an IDX file: magic {header.hex()} does not start with two zero bytes"
            )
        type_code, ndim = header[2], header[3]
        if type_code not in TYPE_CODES:
            known = ", ".join(f"0x{code:02X}" for code in TYPE_CODES)
            raise IdxError(f"{path}: unknown IDX type code 0x{type_code:02X} (known: {known})")
        if ndim == 0:
            raise IdxError(f"{path}: IDX header declares 0 dimensions, expected at least 1")
        dims_bytes = _read_exactly(stream, 4 * ndim)
        if len(dims_bytes) < 4 * ndim:
            raise IdxError(f"{path}: file ends inside the header ({ndim} dimensions declared)")
        shape = tuple(int(d) for d in np.frombuffer(dims_bytes, dtype=">u4"))
        dtype = TYPE_CODES[type_code]
        expected = math.prod(shape) * dtype.itemsize
        if expected > MAX_PAYLOAD_BYTES:
            raise IdxError(
                f"{path}: header dimensions {' x '.join(map(str, shape))} claim {expected} bytes, "
                f"more than the {MAX_PAYLOAD_BYTES} this reader accepts"
            )
        item_bytes = math.prod(shape[1:]) * dtype.itemsize
        if item_bytes > MAX_PAYLOAD_BYTES:
            raise IdxError(
                f"{path}: header dimensions {' x '.join(map(str, shape))} declare items of "
                f"{item_bytes} bytes, more than the {MAX_PAYLOAD_BYTES} this reader accepts"
            )
        if check is not None:
            check(dtype.newbyteorder("="), shape)
        array = _read_payload(stream, np.empty(shape, dtype=dtype), path)
    except gzip.BadGzipFile as err:
        raise IdxError(f"{path}: corrupt gzip stream: {err}") from None
    except (EOFError, zlib.error) as err:
        raise IdxError(f"{path}: truncated or corrupt gzip stream: {err}") from None
    if array.dtype.isnative:
        return array
    return array.byteswap(inplace=True).view(dtype.newbyteorder("="))


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        part = stream.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def _read_payload(stream: BinaryIO, array: np.ndarray, path: Path) -> np.ndarray:
    """Fill ``array`` from ``stream`` in chunks of at most ``_CHUNK`` bytes; the stream must
    end exactly where the array does."""
    view = memoryview(array.reshape(-1).view(np.uint8))
    expected, filled = len(view), 0
    dims = " x ".join(map(str, array.shape))
    while filled < expected:
        got = stream.readinto(view[filled : filled + _CHUNK])
        if not got:
            raise IdxError(
                f"{path}: payload too short: header ({dims}) declares {expected} "
                f"bytes, the file holds {filled}"
            )
        filled += got
    if stream.read(1):
        raise IdxError(
            f"{path}: trailing bytes: payload is longer than the {expected} bytes "
            f"its header ({dims}) declares"
        )
    return array


def encode_idx(array: np.ndarray) -> bytes:
    """The IDX bytes of an array whose dtype is one of the six IDX item types."""
    array = np.asarray(array)
    code = next(
        (
            code
            for code, dtype in TYPE_CODES.items()
            if array.dtype.kind == dtype.kind and array.dtype.itemsize == dtype.itemsize
        ),
        None,
    )
    if code is None:
        raise ValueError(f"dtype {array.dtype} has no IDX type code")
    dtype = TYPE_CODES[code]
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"IDX needs 1 to 255 dimensions, got {array.ndim}")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=dtype).tobytes()


def write_idx(path: Path | str, array: np.ndarray, *, compress: bool = False) -> None:
    """Write an array as an IDX file (gzipped, with a zero timestamp, if ``compress``)."""
    data = encode_idx(array)
    if compress:
        data = gzip.compress(data, mtime=0)
    with atomic_file(Path(path)) as tmp:
        tmp.write_bytes(data)


MNIST_FILE_NAMES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
"""The four roles of a dataset description's ``files`` and MNIST's names for them."""


def write_idx_dataset(folder: Path, arrays: dict[str, np.ndarray]) -> dict[str, dict]:
    """Write the four arrays (keyed by the roles of ``MNIST_FILE_NAMES``) into ``folder`` as
    gzipped IDX files under MNIST's names; return the description's ``files`` entry: each
    role's name, sha256 and size."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for role, name in MNIST_FILE_NAMES.items():
        write_idx(folder / name, arrays[role], compress=True)
        data = (folder / name).read_bytes()
        files[role] = {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    return files
