"""A dataset's four IDX files -> train.npz and test.npz (uint8 arrays), each split checked
whole against the dataset's description: image shape, and labels that run over exactly the
declared classes.

Memory: each array is decompressed straight into its final buffer, after its header has been
checked against the description's image_shape and the label count.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from mnist_pipeline.labels import check_classes
from mnist_pipeline.plumbing.files import atomic_dir, save_arrays
from mnist_pipeline.plumbing.idx import read_idx
from mnist_pipeline.plumbing.params import Dataset

log = logging.getLogger("decode")


class DecodeError(ValueError):
    """The IDX files decode but do not form an MNIST-like split."""


def decode_split(
    images_path: Path,
    labels_path: Path,
    image_shape: tuple[int, int] = (28, 28),
    key: str = "datasets.mnist",
) -> dict[str, np.ndarray]:
    """Read one split's labels, then its images, and check that they belong together.

    Every check of a header (type, number of dimensions, ``image_shape``, as many images as
    labels) is made before that file's payload is read, so a header claiming gigabytes is
    refused before any memory is spent on it. ``key`` is the description errors name.
    """
    labels = read_idx(labels_path, lambda dtype, shape: _check_labels(labels_path, dtype, shape))
    images = read_idx(
        images_path,
        lambda dtype, shape: _check_images(
            images_path, dtype, shape, image_shape, labels_path, len(labels), key
        ),
    )
    return {"images": images, "labels": labels}


def _check_labels(path: Path, dtype: np.dtype, shape: tuple[int, ...]) -> None:
    """Labels are unsigned bytes in one dimension."""
    if dtype != np.uint8 or len(shape) != 1:
        raise DecodeError(
            f"{path}: expected unsigned-byte labels of one dimension, "
            f"got {dtype} with shape {shape}"
        )


def _check_images(
    path: Path,
    dtype: np.dtype,
    shape: tuple[int, ...],
    image_shape: tuple[int, int],
    labels_path: Path,
    count: int,
    key: str,
) -> None:
    """Images are unsigned bytes, ``count`` of them, each of ``image_shape``."""
    if dtype != np.uint8 or len(shape) != 3:
        raise DecodeError(
            f"{path}: expected unsigned-byte images N x rows x columns, "
            f"got {dtype} with shape {shape}"
        )
    if shape[1:] != image_shape:
        raise DecodeError(
            f"{path}: expected images of {image_shape[0]} x {image_shape[1]} "
            f"({key}.image_shape), header declares "
            f"{' x '.join(map(str, shape))}"
        )
    if shape[0] != count:
        raise DecodeError(f"{path} holds {shape[0]} images but {labels_path} holds {count} labels")


def decode(source: Path, out: Path, dataset: Dataset) -> dict[str, int]:
    """Decode both splits from ``source`` (the files ``dataset.files`` names) into ``out``,
    checked against ``dataset.image_shape`` and ``dataset.classes`` (``check_classes`` over
    both splits' labels), and turned upright
    where ``dataset.transpose`` says the files store images transposed; returns the number of
    images per split."""
    files = dataset.files
    splits = {
        split: decode_split(
            source / files[f"{split}_images"].name,
            source / files[f"{split}_labels"].name,
            dataset.image_shape,
            dataset.key,
        )
        for split in ("train", "test")
    }
    check_classes(
        {str(source / files[f"{s}_labels"].name): splits[s]["labels"] for s in splits},
        dataset.classes,
        dataset.key,
    )
    if dataset.transpose:
        for arrays in splits.values():
            arrays["images"] = np.ascontiguousarray(arrays["images"].transpose(0, 2, 1))
    with atomic_dir(out) as tmp:
        for split, arrays in splits.items():
            save_arrays(tmp / f"{split}.npz", arrays, compress=True)
    counts = {split: len(arrays["labels"]) for split, arrays in splits.items()}
    log.info("decoded %s into %s", ", ".join(f"{n} {s}" for s, n in counts.items()), out)
    return counts
