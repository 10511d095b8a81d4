"""The decoded images as rows of raw 0-255 pixels, for models that scale nothing.

The IDX notebook's gradient-descent model trains on all 60,000 training images, unscaled.
params ``raw.validation`` is how many of the last training images are held out as val.npz;
0 (the notebook's choice) writes every training image to train.npz and a val.npz of no rows,
which ``evaluate`` skips. The pixels stay uint8: the model casts them once, to float64. The
rows are ``features.RawRows``'s, whose fitted chain the stage writes beside them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from mnist_pipeline.features import CHAIN_FILE, RawRows
from mnist_pipeline.plumbing.files import atomic_dir, load_arrays, save_arrays
from mnist_pipeline.plumbing.model_files import save_model
from mnist_pipeline.plumbing.params import ParamsError

log = logging.getLogger("raw")


def raw_splits(
    train: dict[str, np.ndarray], test: dict[str, np.ndarray], validation: int
) -> dict[str, dict[str, np.ndarray]]:
    """``train``, ``val`` and ``test`` as ``{"X": uint8 rows, "y": labels}``; ``val`` is the
    last ``validation`` training images (none for 0) and ``train`` the ones before them."""
    images, labels = train["images"], train["labels"]
    if validation >= len(images):
        raise ParamsError(
            f"raw.validation: expected fewer than the {len(images)} training "
            f"images, got {validation}"
        )
    cut = len(images) - validation
    rows = RawRows().fit(images).transform
    return {
        "train": {"X": rows(images[:cut]), "y": labels[:cut]},
        "val": {"X": rows(images[cut:]), "y": labels[cut:]},
        "test": {"X": rows(test["images"]), "y": test["labels"]},
    }


def write_raw(source: Path, out: Path, validation: int) -> None:
    """Write ``out``/train.npz, val.npz and test.npz (arrays X, y) from the decode stage's,
    and the chain (``features.CHAIN_FILE``) that makes them."""
    from sklearn.pipeline import Pipeline

    train = load_arrays(source / "train.npz", ("images", "labels"))
    splits = raw_splits(train, load_arrays(source / "test.npz", ("images", "labels")), validation)
    with atomic_dir(out) as tmp:
        for split, arrays in splits.items():
            save_arrays(tmp / f"{split}.npz", arrays, compress=True)
        save_model(Pipeline([("rows", RawRows().fit(train["images"]))]), tmp / CHAIN_FILE)
    log.info(
        "%s: %s rows of %d raw pixels",
        out,
        "/".join(str(len(s["y"])) for s in splits.values()),
        splits["test"]["X"].shape[1],
    )
