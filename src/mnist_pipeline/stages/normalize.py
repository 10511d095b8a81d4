"""Feature rows from decoded images: a validation split held out, pixels scaled (and deskewed)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mnist_pipeline.deskew import deskew
from mnist_pipeline.plumbing.files import atomic_dir, csv_text, load_arrays, save_arrays, write_text
from mnist_pipeline.labels import DIGITS
from mnist_pipeline.plumbing.params import Normalize, ParamsError

SPLITS = ("train", "val", "test")
log = logging.getLogger("normalize")


def split_validation(
    images: np.ndarray, labels: np.ndarray, validation: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Hold out the last ``validation`` training images (the notebooks' 50k/10k split); what
    is left must hold at least two digits, or no classifier can be fitted."""
    if validation >= len(images):
        raise ParamsError(
            f"split.validation: expected fewer than the {len(images)} training images, "
            f"got {validation}"
        )
    cut = len(images) - validation
    digits = np.unique(labels[:cut])
    if len(digits) < 2:
        raise ParamsError(
            f"split.validation: expected to leave training images of at least 2 digits, got "
            f"{validation} (the {cut} left are all {digits[0]}s)"
        )
    return (images[:cut], labels[:cut]), (images[cut:], labels[cut:])


def first_images(
    images: np.ndarray, labels: np.ndarray, count: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count`` images of the training split (``split.train``; None: all), in file
    order, not stratified: the notebook's ``train_X[:500]``. They must hold at least two
    classes, or no classifier can be fitted."""
    if count is None:
        return images, labels
    if count > len(images):
        raise ParamsError(
            f"split.train: expected all or at most the {len(images)} training images left "
            f"by split.validation, got {count}"
        )
    if len(np.unique(labels[:count])) < 2:
        raise ParamsError(
            f"split.train: expected the first images to hold at least 2 classes, got {count} "
            f"(all {labels[0]}s)"
        )
    return images[:count], labels[:count]


def normalize(
    method: str, train: np.ndarray, *others: np.ndarray, deskewed: bool = False
) -> list[np.ndarray]:
    """Flatten images to rows and scale them; ``standardize`` is fitted on ``train`` only."""
    images = [deskew(a) if deskewed else a for a in (train, *others)]
    rows = [a.reshape(len(a), -1).astype(np.float32) / np.float32(255) for a in images]
    if method == "scale":
        return rows
    if method == "offset":
        return [r * np.float32(0.99) + np.float32(0.01) for r in rows]
    if method == "l2":
        return [r / np.maximum(np.linalg.norm(r, axis=1, keepdims=True), 1e-12) for r in rows]
    if method == "standardize":
        mean = rows[0].mean(axis=0)
        std = rows[0].std(axis=0)
        std[std == 0] = 1.0
        return [(r - mean) / std for r in rows]
    raise ParamsError(f"normalize.method: unknown method {method!r}")


def label_distribution(labels: dict[str, np.ndarray], classes: Sequence[str] = DIGITS) -> str:
    """The notebooks' first look at the data: how many images of each class every split holds,
    as a CSV with one row per class (its name in column ``class``) and one column per split."""
    counts = {split: np.bincount(y, minlength=len(classes)) for split, y in labels.items()}
    rows = [[name, *(int(c[i]) for c in counts.values())] for i, name in enumerate(classes)]
    return csv_text(["class", *counts], rows)


def write_features(
    source: Path,
    out: Path,
    labels_csv: Path | None,
    settings: Normalize,
    validation: int,
    classes: Sequence[str] = DIGITS,
    train_size: int | None = None,
) -> None:
    """Split the decode stage's ``source``/train.npz into train and val, keep the first
    ``train_size`` training images (None: all), turn every split's images into feature rows
    as ``settings`` say, and write ``out``/train.npz, val.npz and test.npz (arrays X, y);
    ``labels_csv``, if given, gets the images per class (named by ``classes``) and split."""
    train = load_arrays(source / "train.npz", ("images", "labels"))
    test = load_arrays(source / "test.npz", ("images", "labels"))
    (x_train, y_train), (x_val, y_val) = split_validation(
        train["images"], train["labels"], validation
    )
    x_train, y_train = first_images(x_train, y_train, train_size)
    features = normalize(settings.method, x_train, x_val, test["images"], deskewed=settings.deskew)
    labels = dict(zip(SPLITS, (y_train, y_val, test["labels"]), strict=True))
    with atomic_dir(out) as tmp:
        for split, x in zip(SPLITS, features, strict=True):
            save_arrays(tmp / f"{split}.npz", {"X": x, "y": labels[split]})
    if labels_csv is not None:
        write_text(labels_csv, label_distribution(labels, classes))
    log.info(
        "%s: %s rows of %d features (%s)",
        out,
        "/".join(str(len(y)) for y in labels.values()),
        features[0].shape[1],
        settings,
    )
