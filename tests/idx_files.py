"""IDX files written for tests: the inverse of ``mnist_pipeline.data.read_idx``."""

import gzip
import hashlib
from pathlib import Path

import numpy as np

from mnist_pipeline.data import TYPE_CODES

MNIST_FILE_NAMES = {  # the roles of a dataset description's files and MNIST's names for them
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}


def write_idx(path: Path | str, array: np.ndarray, *, compress: bool = False) -> None:
    """Write an array as an IDX file (gzipped with a zero timestamp if ``compress``): test data."""
    array = np.asarray(array)
    kind = (array.dtype.kind, array.dtype.itemsize)
    code = next(c for c, t in TYPE_CODES.items() if (t.kind, t.itemsize) == kind)
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + np.ascontiguousarray(array, dtype=TYPE_CODES[code]).tobytes()
    Path(path).write_bytes(gzip.compress(data, mtime=0) if compress else data)


def write_idx_dataset(folder: Path, arrays: dict[str, np.ndarray]) -> dict[str, dict]:
    """The four arrays (by role) as gzipped IDX files in ``folder``; their ``files`` entry."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for role, name in MNIST_FILE_NAMES.items():
        write_idx(folder / name, arrays[role], compress=True)
        data = (folder / name).read_bytes()
        files[role] = {"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    return files
