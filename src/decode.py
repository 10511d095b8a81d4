"""Stage decode: the four IDX files -> train.npz and test.npz (uint8 ``images``, ``labels``),
checked against the dataset's description; each header is checked before its payload, so a
file claiming gigabytes costs nothing."""

import mnist_pipeline  # noqa: F401  first: it pins the CPU kernels before NumPy loads

# isort: split

import argparse
import logging
import sys
from functools import partial
from pathlib import Path

import numpy as np

from mnist_pipeline.data import IdxError, read_idx
from mnist_pipeline.labels import check_classes
from mnist_pipeline.params import Dataset, ParamsError, load_params
from mnist_pipeline.plumbing.files import OutputError, atomic_dir, save_arrays

log = logging.getLogger("decode")


def _split(images_path: Path, labels_path: Path, dataset: Dataset) -> dict[str, np.ndarray]:
    """One split's labels (uint8, one dimension), then as many images of ``image_shape``."""

    def uint8(path: Path, what: str, ndim: int, dtype: np.dtype, shape: tuple[int, ...]) -> None:
        if dtype != np.uint8 or len(shape) != ndim:
            raise IdxError(f"{path}: expected uint8 {what}, got {dtype} of shape {shape}")

    def images_header(dtype: np.dtype, shape: tuple[int, ...]) -> None:
        uint8(images_path, "images N x rows x columns", 3, dtype, shape)
        if shape[1:] != dataset.image_shape:
            rows, columns = dataset.image_shape
            raise IdxError(
                f"{images_path}: expected images of {rows} x {columns} ({dataset.key}."
                f"image_shape), header declares {' x '.join(map(str, shape))}"
            )
        if shape[0] != len(labels):
            counts = f"{shape[0]} images but {labels_path} holds {len(labels)} labels"
            raise IdxError(f"{images_path} holds {counts}")

    labels = read_idx(labels_path, partial(uint8, labels_path, "labels of one dimension", 1))
    images = read_idx(images_path, images_header)
    if dataset.transpose:  # stored transposed (EMNIST): turned upright
        images = np.ascontiguousarray(images.transpose(0, 2, 1))
    return {"images": images, "labels": labels}


def _decode(source: Path, out: Path, dataset: Dataset) -> None:
    path = {role: source / file.name for role, file in dataset.files.items()}
    paths = {s: (path[f"{s}_images"], path[f"{s}_labels"]) for s in ("train", "test")}
    splits = {split: _split(*paths[split], dataset) for split in paths}
    check_classes(
        {str(paths[s][1]): splits[s]["labels"] for s in splits}, dataset.classes, dataset.key
    )
    with atomic_dir(out) as tmp:
        for split, arrays in splits.items():
            save_arrays(tmp / f"{split}.npz", arrays)
    counts = ", ".join(f"{len(a['labels'])} {s}" for s, a in splits.items())
    log.info("decoded %s into %s", counts, out)


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after one line of error."""
    parser = argparse.ArgumentParser(prog="decode", description=__doc__)
    parser.add_argument("--params", type=Path, required=True, help="params.yaml (the dataset)")
    parser.add_argument("--in", dest="source", type=Path, required=True, help="the IDX files")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the .npz into")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        _decode(args.source, args.out, load_params(args.params).dataset)
    except (ParamsError, ValueError, FileNotFoundError, OutputError) as err:
        print(f"decode: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
