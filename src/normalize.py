"""Stage `normalize`: uint8 images -> float32 feature rows, split into train / val / test."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from mnist_pipeline.files import atomic_dir, csv_text, load_arrays, save_arrays, write_text
from mnist_pipeline.params import NORMALIZE_STAGES, Normalize, ParamsError, load_params
from mnist_pipeline.stage import run_stage

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


def deskew(images: np.ndarray, chunk: int = 500) -> np.ndarray:
    """Straighten each digit: shear it so its principal axis is vertical.

    The shear comes from the image's second-order moments (pixel intensities as weights), and
    the sheared image is re-centred on its centre of mass, as in LeCun et al.'s comparisons,
    where deskewing roughly halved the error of k-nearest neighbours. Returns float32 images
    on the 0-255 scale.

    Output pixel (r, c) takes the bilinear interpolation of the input at row
    ``r + mean_r - rows/2`` and column ``c + alpha * (r - rows/2) + mean_c - cols/2``, and 0
    where that point lies outside the image: what ``scipy.ndimage.affine_transform(image,
    [[1, 0], [alpha, 1]], offset, order=1)`` gives (a test compares them; they differ only by
    float rounding). Done for ``chunk`` images at a time with NumPy rather than one SciPy call
    per image: the row shift is the same for a whole image and the column shift the same along
    an output row, so each interpolation is a gather of whole rows and of row segments. That is
    about 5x faster on MNIST's 70,000 images (about 1 s instead of 5 s on two cores).
    """
    images = np.asarray(images)
    return np.concatenate(
        [_deskew_chunk(images[i : i + chunk]) for i in range(0, len(images), chunk)]
        or [images.astype(np.float32)]
    )


def _deskew_chunk(images: np.ndarray) -> np.ndarray:
    images = images.astype(np.float32) / np.float32(255)
    n, rows, cols = images.shape
    r, c = np.mgrid[:rows, :cols].astype(np.float32)
    mass = np.maximum(images.sum(axis=(1, 2)), 1e-12)
    mean_r = np.einsum("nij,ij->n", images, r) / mass
    mean_c = np.einsum("nij,ij->n", images, c) / mass
    dr = r[None] - mean_r[:, None, None]
    dc = c[None] - mean_c[:, None, None]
    var_r = np.einsum("nij,nij->n", images, dr * dr) / mass
    cov_rc = np.einsum("nij,nij->n", images, dr * dc) / mass
    alpha = np.where(var_r > 1e-12, cov_rc / np.maximum(var_r, 1e-12), 0.0).astype(np.float64)

    out_rows = np.arange(rows, dtype=np.float64)
    # Rows: output row r reads input row r + mean_r - rows/2 (one shift per image).
    in_r = out_rows[None, :] + (mean_r.astype(np.float64) - rows / 2.0)[:, None]
    r0 = np.floor(in_r)
    fr = (in_r - r0).astype(np.float32)[..., None]
    padded = np.zeros((n, rows + 2, cols + 2), np.float32)  # a zero border of one pixel
    padded[:, 1:-1, 1:-1] = images
    top = np.clip(r0, -1, rows - 1).astype(np.intp) + 1  # row index into `padded`
    each = np.arange(n)[:, None]
    mixed = padded[each, top] * (1 - fr) + padded[each, top + 1] * fr
    mixed *= ((in_r >= 0) & (in_r <= rows - 1))[..., None]
    # Columns: along output row r, column c reads c + alpha*(r - rows/2) + mean_c - cols/2.
    shift = (
        alpha[:, None] * (out_rows[None, :] - rows / 2.0)
        + (mean_c.astype(np.float64) - cols / 2.0)[:, None]
    )
    c0 = np.floor(shift)
    fc = (shift - c0).astype(np.float32)[..., None]
    out_cols = np.arange(cols)
    in_c = out_cols + shift[..., None]
    left = np.clip(out_cols + c0[..., None].astype(np.intp), -1, cols - 1) + 1
    out = (
        np.take_along_axis(mixed, left, axis=2) * (1 - fc)
        + np.take_along_axis(mixed, left + 1, axis=2) * fc
    )
    out *= (in_c >= 0) & (in_c <= cols - 1)
    return np.clip(out * 255, 0, 255)


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


def label_distribution(labels: dict[str, np.ndarray], n_classes: int = 10) -> str:
    """The notebooks' first look at the data: how many images of each digit every split holds,
    as a CSV with one row per digit and one column per split."""
    counts = {split: np.bincount(y, minlength=n_classes) for split, y in labels.items()}
    rows = [[digit, *(int(c[digit]) for c in counts.values())] for digit in range(n_classes)]
    return csv_text(["digit", *counts], rows)


def run(
    source: Path, out: Path, labels_csv: Path | None, settings: Normalize, validation: int
) -> None:
    train = load_arrays(source / "train.npz", ("images", "labels"))
    test = load_arrays(source / "test.npz", ("images", "labels"))
    (x_train, y_train), (x_val, y_val) = split_validation(
        train["images"], train["labels"], validation
    )
    features = normalize(settings.method, x_train, x_val, test["images"], deskewed=settings.deskew)
    labels = dict(zip(SPLITS, (y_train, y_val, test["labels"]), strict=True))
    with atomic_dir(out) as tmp:
        for split, x in zip(SPLITS, features, strict=True):
            save_arrays(tmp / f"{split}.npz", {"X": x, "y": labels[split]})
    if labels_csv is not None:
        write_text(labels_csv, label_distribution(labels))
    log.info(
        "%s: %s rows of %d features (%s)",
        out,
        "/".join(str(len(y)) for y in labels.values()),
        features[0].shape[1],
        settings,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Scale decoded images to float32 rows and hold out a validation split: "
        "writes train.npz, val.npz and test.npz (arrays X, y) and a CSV of images per digit "
        "and split.",
    )
    parser.add_argument(
        "--params",
        type=Path,
        required=True,
        help="params.yaml (the section's method and deskew, split.validation)",
    )
    parser.add_argument(
        "--section",
        choices=NORMALIZE_STAGES,
        default="normalize",
        help="the params section to follow, named after the stage that runs "
        "this script (default: normalize)",
    )
    parser.add_argument(
        "--in", dest="source", type=Path, required=True, help="the decode stage's folder"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the feature files")
    parser.add_argument(
        "--labels",
        type=Path,
        help="CSV of images per digit (rows) and split (columns); not written if omitted",
    )
    args = parser.parse_args(argv)

    def work() -> None:
        params = load_params(args.params)
        run(
            args.source,
            args.out,
            args.labels,
            params.normalize_section(args.section),
            params.validation,
        )

    return run_stage("normalize", work, (ParamsError, FileNotFoundError, ValueError))


if __name__ == "__main__":
    sys.exit(main())
