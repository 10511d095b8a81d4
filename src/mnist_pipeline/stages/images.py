"""The decoded images kept as images, N x rows x columns of uint8 pixels, for models that see
an image as an image (the convolutional network).

The training images are split as the normalize stage splits them (``split.validation``: the
last 10,000 are val.npz; ``split.train``: the first N of the rest), so that val can choose the
network's epoch and its scores compare with every other model's. The pixels stay 0-255: the
model scales them. The stage's chain (``features.CHAIN_FILE``) is ``WholeImages``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mnist_pipeline.features import CHAIN_FILE, WholeImages
from mnist_pipeline.plumbing.files import atomic_dir, load_arrays, save_arrays
from mnist_pipeline.plumbing.model_files import save_model
from mnist_pipeline.stages.normalize import SPLITS, first_images, split_validation

log = logging.getLogger("images")


def write_images(
    source: Path, out: Path, validation: int, train_size: int | None = None
) -> None:
    """Write ``out``/train.npz, val.npz and test.npz (arrays X: uint8 images, y: labels) from
    the decode stage's ``source``/train.npz and test.npz, and the chain; the first
    ``train_size`` training images only (None: all)."""
    from sklearn.pipeline import Pipeline

    train = load_arrays(source / "train.npz", ("images", "labels"))
    test = load_arrays(source / "test.npz", ("images", "labels"))
    fit, val = split_validation(train["images"], train["labels"], validation)
    splits = (first_images(*fit, train_size), val, (test["images"], test["labels"]))
    with atomic_dir(out) as tmp:
        for split, (images, labels) in zip(SPLITS, splits, strict=True):
            save_arrays(tmp / f"{split}.npz", {"X": images, "y": labels}, compress=True)
        chain = Pipeline([("images", WholeImages().fit(splits[0][0]))])
        save_model(chain, tmp / CHAIN_FILE)
    log.info(
        "%s: %s images of %d x %d pixels",
        out,
        "/".join(str(len(labels)) for _, labels in splits),
        *splits[0][0].shape[1:],
    )
