"""The decoded images kept as images, N x rows x columns of uint8 pixels, for models that see
an image as an image (the convolutional network).

The training images are split as the normalize stage splits them (``split.validation``: the
last 10,000 are val.npz), so that val can choose the network's epoch and its scores compare
with every other model's. The pixels stay 0-255: the model scales them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mnist_pipeline.plumbing.files import atomic_dir, load_arrays, save_arrays
from mnist_pipeline.stages.normalize import SPLITS, split_validation

log = logging.getLogger("images")


def write_images(source: Path, out: Path, validation: int) -> None:
    """Write ``out``/train.npz, val.npz and test.npz (arrays X: uint8 images, y: labels) from
    the decode stage's ``source``/train.npz and test.npz."""
    train = load_arrays(source / "train.npz", ("images", "labels"))
    test = load_arrays(source / "test.npz", ("images", "labels"))
    splits = (
        *split_validation(train["images"], train["labels"], validation),
        (test["images"], test["labels"]),
    )
    with atomic_dir(out) as tmp:
        for split, (images, labels) in zip(SPLITS, splits, strict=True):
            save_arrays(tmp / f"{split}.npz", {"X": images, "y": labels}, compress=True)
    log.info(
        "%s: %s images of %d x %d pixels",
        out,
        "/".join(str(len(labels)) for _, labels in splits),
        *splits[0][0].shape[1:],
    )
