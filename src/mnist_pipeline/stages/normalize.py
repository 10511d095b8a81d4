"""Feature rows from decoded images: a validation split held out, pixels scaled (and deskewed)
by ``features.PixelRows``, whose fitted chain the stage writes beside the rows."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mnist_pipeline.features import CHAIN_FILE, METHODS, PixelRows
from mnist_pipeline.labels import DIGITS, check_classes
from mnist_pipeline.plumbing.files import atomic_dir, csv_text, load_arrays, save_arrays, write_text
from mnist_pipeline.plumbing.model_files import save_model
from mnist_pipeline.plumbing.params import Dataset, Normalize, ParamsError

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
    return fitted_rows(method, train, *others, deskewed=deskewed)[1]


def fitted_rows(
    method: str, train: np.ndarray, *others: np.ndarray, deskewed: bool = False
) -> tuple[PixelRows, list[np.ndarray]]:
    """The ``PixelRows`` fitted on ``train``, and the rows of ``train`` and of ``others``."""
    if method not in METHODS:
        raise ParamsError(f"normalize.method: unknown method {method!r}")
    pixels = PixelRows(method, deskewed)
    return pixels, [pixels.fit_transform(train), *(pixels.transform(a) for a in others)]


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
    dataset: Dataset,
    train_size: int | None = None,
) -> None:
    """Split the decode stage's ``source``/train.npz into train and val, keep the first
    ``train_size`` training images (None: all), turn every split's images into feature rows
    as ``settings`` say, and write ``out``/train.npz, val.npz and test.npz (arrays X, y) and
    the fitted chain (``features.CHAIN_FILE``); ``labels_csv``, if given, gets the images per
    class (named by ``dataset.classes``, which the labels must run over: ``check_classes``)
    and split."""
    train = load_arrays(source / "train.npz", ("images", "labels"))
    test = load_arrays(source / "test.npz", ("images", "labels"))
    check_classes(
        {
            str(source / f"{split}.npz"): arrays["labels"]
            for split, arrays in [("train", train), ("test", test)]
        },
        dataset.classes,
        dataset.key,
    )
    (x_train, y_train), (x_val, y_val) = split_validation(
        train["images"], train["labels"], validation
    )
    x_train, y_train = first_images(x_train, y_train, train_size)
    from sklearn.pipeline import Pipeline

    pixels, features = fitted_rows(
        settings.method, x_train, x_val, test["images"], deskewed=settings.deskew
    )
    labels = dict(zip(SPLITS, (y_train, y_val, test["labels"]), strict=True))
    with atomic_dir(out) as tmp:
        for split, x in zip(SPLITS, features, strict=True):
            save_arrays(tmp / f"{split}.npz", {"X": x, "y": labels[split]})
        save_model(Pipeline([("pixels", pixels)]), tmp / CHAIN_FILE)
    if labels_csv is not None:
        write_text(labels_csv, label_distribution(labels, dataset.classes))
    log.info(
        "%s: %s rows of %d features (%s)",
        out,
        "/".join(str(len(y)) for y in labels.values()),
        features[0].shape[1],
        settings,
    )
