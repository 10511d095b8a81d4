"""Stage decode: the four downloaded IDX files -> train.npz and test.npz (uint8 ``images``,
``labels``), each split checked against the dataset's description (image shape, classes).

    python src/decode.py --params params.yaml --in stages/download --out stages/decode

Labels are read first, then images, every header checked before its payload: a file claiming
gigabytes is refused before any memory is spent on it.
"""

from __future__ import annotations

import mnist_pipeline  # noqa: F401  first: it pins the CPU kernels before NumPy loads

# isort: split

import argparse
import logging
import sys
from pathlib import Path

import numpy as np

from mnist_pipeline.data import IdxError, read_idx
from mnist_pipeline.labels import check_classes
from mnist_pipeline.params import Dataset, ParamsError, load_params
from mnist_pipeline.plumbing.files import OutputError, atomic_dir, save_arrays

log = logging.getLogger("decode")


def decode_split(images_path: Path, labels_path: Path, dataset: Dataset) -> dict[str, np.ndarray]:
    """One split's labels (unsigned bytes, one dimension), then as many images of the
    description's ``image_shape``."""

    def labels_header(dtype: np.dtype, shape: tuple[int, ...]) -> None:
        if dtype != np.uint8 or len(shape) != 1:
            raise IdxError(
                f"{labels_path}: expected uint8 labels of one dimension, got {dtype} "
                f"of shape {shape}"
            )

    def images_header(dtype: np.dtype, shape: tuple[int, ...]) -> None:
        if dtype != np.uint8 or len(shape) != 3:
            raise IdxError(
                f"{images_path}: expected uint8 images N x rows x columns, got "
                f"{dtype} of shape {shape}"
            )
        if shape[1:] != dataset.image_shape:
            rows, columns = dataset.image_shape
            raise IdxError(
                f"{images_path}: expected images of {rows} x {columns} "
                f"({dataset.key}.image_shape), header declares "
                f"{' x '.join(map(str, shape))}"
            )
        if shape[0] != len(labels):
            raise IdxError(
                f"{images_path} holds {shape[0]} images but {labels_path} holds "
                f"{len(labels)} labels"
            )

    labels = read_idx(labels_path, labels_header)
    images = read_idx(images_path, images_header)
    if dataset.transpose:  # stored transposed (EMNIST): turned upright
        images = np.ascontiguousarray(images.transpose(0, 2, 1))
    return {"images": images, "labels": labels}


def decode(source: Path, out: Path, dataset: Dataset) -> None:
    """Both splits of ``source`` into ``out``, their labels running over exactly the
    description's classes."""
    files = dataset.files
    paths = {
        s: (source / files[f"{s}_images"].name, source / files[f"{s}_labels"].name)
        for s in ("train", "test")
    }
    splits = {split: decode_split(*paths[split], dataset) for split in paths}
    check_classes(
        {str(paths[s][1]): splits[s]["labels"] for s in splits}, dataset.classes, dataset.key
    )
    with atomic_dir(out) as tmp:
        for split, arrays in splits.items():
            save_arrays(tmp / f"{split}.npz", arrays, compress=True)
    counts = ", ".join(f"{len(a['labels'])} {s}" for s, a in splits.items())
    log.info("decoded %s into %s", counts, out)


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after one line of error."""
    parser = argparse.ArgumentParser(
        prog="decode",
        description="Decode the selected dataset's IDX files (gzipped or raw) into train.npz "
        "and test.npz, each holding `images` (uint8, N x rows x columns, turned upright if the "
        "description says `transpose`) and `labels` (uint8, each below its class count).",
    )
    parser.add_argument(
        "--params",
        type=Path,
        required=True,
        help="params.yaml (the selected description: files, image_shape, transpose, classes)",
    )
    parser.add_argument(
        "--in",
        dest="source",
        type=Path,
        required=True,
        help="folder holding the downloaded IDX files",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write the .npz into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        decode(args.source, args.out, load_params(args.params).dataset)
    except (ParamsError, ValueError, FileNotFoundError, OutputError) as err:
        print(f"decode: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
