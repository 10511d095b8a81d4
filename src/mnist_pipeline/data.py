"""The IDX format (LeCun's MNIST files), its header checked before any array is made so that a
hostile file costs nothing, and the train/val/test splits every feature stage makes."""

import gzip
import math
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from mnist_pipeline.params import ParamsError
from mnist_pipeline.plumbing.files import open_regular

TYPE_CODES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_PAYLOAD_BYTES = 16 * 2**30  # far more than any real IDX file: more is corrupt, not memory
SPLITS = ("train", "val", "test")
CHUNK = 1 << 20


class IdxError(ValueError):
    """Not a well-formed IDX file; the message names the file and the fault."""


# Sees the header's item type (native order) and shape before the payload; raises to refuse it.
HeaderCheck = Callable[[np.dtype, tuple[int, ...]], None]


def read_idx(path: Path | str, check: HeaderCheck | None = None) -> np.ndarray:
    """An IDX file, gzipped (by its magic bytes) or raw, decompressed straight into an array of
    its type and shape; a FIFO or device is a ``FileNotFoundError`` at once."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    with open_regular(path) as raw:
        stream = gzip.GzipFile(fileobj=raw) if raw.peek(2)[:2] == b"\x1f\x8b" else raw
        try:
            return _read(stream, path, check)
        except (EOFError, zlib.error, gzip.BadGzipFile) as err:
            raise IdxError(f"{path}: truncated or corrupt gzip stream ({err})") from None


def _read(stream: BinaryIO, path: Path, check: HeaderCheck | None) -> np.ndarray:
    header = stream.read(4)
    if len(header) < 4 or header[:2] != b"\0\0" or header[2] not in TYPE_CODES or not header[3]:
        raise IdxError(
            f"{path}: not an IDX file: header {header.hex() or 'empty'}, expected 00 00, a type "
            f"code ({', '.join(f'{c:02x}' for c in TYPE_CODES)}) and 1-255 dimensions"
        )
    dtype, ndim = TYPE_CODES[header[2]], header[3]
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise IdxError(f"{path}: the file ends inside its header ({ndim} dimensions declared)")
    shape = tuple(int(d) for d in np.frombuffer(dims, dtype=">u4"))
    # Items of zero count still need their size bounded: np.empty refuses (0, 2**32, 2**32).
    claimed = max(math.prod(shape), math.prod(shape[1:])) * dtype.itemsize
    if claimed > MAX_PAYLOAD_BYTES:
        raise IdxError(
            f"{path}: header dimensions {' x '.join(map(str, shape))} claim {claimed} bytes, "
            f"more than the {MAX_PAYLOAD_BYTES} this reader accepts"
        )
    if check is not None:
        check(dtype.newbyteorder("="), shape)
    array = np.empty(shape, dtype=dtype)
    view, filled = memoryview(array.reshape(-1).view(np.uint8)), 0
    while filled < len(view):
        got = stream.readinto(view[filled : filled + CHUNK])
        if not got:
            raise IdxError(f"{path}: payload too short: {filled} of the {len(view)} bytes declared")
        filled += got
    if stream.read(1):
        raise IdxError(f"{path}: trailing bytes past the {len(view)} its header declares")
    return array if dtype.isnative else array.byteswap(inplace=True).view(dtype.newbyteorder("="))


Split = tuple[np.ndarray, np.ndarray]


def hold_out(images: np.ndarray, labels: np.ndarray, count: int, key: str) -> tuple[Split, Split]:
    """The training images before the last ``count`` (params ``key``) and those last ``count``;
    the first must hold two classes, or nothing can be fitted."""
    if count >= len(images):
        raise ParamsError(
            f"{key}: expected fewer than the {len(images)} training images, got {count}"
        )
    cut = len(images) - count
    if len(kept := np.unique(labels[:cut])) < 2:
        raise ParamsError(
            f"{key}: expected to leave training images of at least 2 classes, got {count} "
            f"(the {cut} left are all {kept[0]}s)"
        )
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])


def first_images(images: np.ndarray, labels: np.ndarray, count: int | None) -> Split:
    """The first ``count`` training images (``split.train``; None: all), in file order as the
    notebook's ``train_X[:500]``; they too must hold two classes."""
    if count is None:
        return images, labels
    if count > len(images):
        raise ParamsError(
            f"split.train: expected all or at most the {len(images)} training images left by "
            f"split.validation, got {count}"
        )
    if len(np.unique(labels[:count])) < 2:
        raise ParamsError(
            f"split.train: expected the first images to hold at least 2 classes, got {count} "
            f"(all {labels[0]}s)"
        )
    return images[:count], labels[:count]
