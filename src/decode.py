"""Stage `decode`: the four downloaded IDX files -> train.npz and test.npz (uint8 arrays)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from mnist_pipeline.files import atomic_dir, save_arrays
from mnist_pipeline.idx import IdxError, read_idx
from mnist_pipeline.params import DatasetFile, ParamsError, load_params
from mnist_pipeline.stage import run_stage

N_CLASSES = 10
log = logging.getLogger("decode")


class DecodeError(ValueError):
    """The IDX files decode but do not form an MNIST-like split."""


def decode_split(images_path: Path, labels_path: Path) -> dict[str, np.ndarray]:
    """Read one split's images and labels and check that they belong together."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3:
        raise DecodeError(
            f"{images_path}: expected unsigned-byte images N x rows x columns, "
            f"got {images.dtype} with shape {images.shape}"
        )
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DecodeError(
            f"{labels_path}: expected unsigned-byte labels of one dimension, "
            f"got {labels.dtype} with shape {labels.shape}"
        )
    if len(images) != len(labels):
        raise DecodeError(
            f"{images_path} holds {len(images)} images but {labels_path} holds "
            f"{len(labels)} labels"
        )
    if labels.size and labels.max() >= N_CLASSES:
        bad = int(np.argmax(labels >= N_CLASSES))
        raise DecodeError(
            f"{labels_path}: label {labels[bad]} at index {bad} is outside 0-{N_CLASSES - 1}"
        )
    return {"images": images, "labels": labels}


def decode(source: Path, out: Path, files: dict[str, DatasetFile]) -> dict[str, int]:
    """Decode both splits from ``source`` into ``out``; returns the number of images per split."""
    splits = {
        split: decode_split(source / files[f"{split}_images"].name,
                            source / files[f"{split}_labels"].name)
        for split in ("train", "test")
    }
    with atomic_dir(out) as tmp:
        for split, arrays in splits.items():
            save_arrays(tmp / f"{split}.npz", arrays, compress=True)
    return {split: len(arrays["labels"]) for split, arrays in splits.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Decode MNIST's IDX files (gzipped or raw) into train.npz and test.npz, "
        "each holding `images` (uint8, N x 28 x 28) and `labels` (uint8).",
    )
    parser.add_argument("--params", type=Path, required=True, help="params.yaml (dataset.files)")
    parser.add_argument("--in", dest="source", type=Path, required=True,
                        help="folder holding the downloaded IDX files")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the .npz into")
    args = parser.parse_args(argv)

    def work() -> None:
        counts = decode(args.source, args.out, load_params(args.params).dataset.files)
        log.info("decoded %s into %s", ", ".join(f"{n} {s}" for s, n in counts.items()), args.out)

    return run_stage("decode", work, (ParamsError, IdxError, DecodeError, FileNotFoundError))


if __name__ == "__main__":
    sys.exit(main())
