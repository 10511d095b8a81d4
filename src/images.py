"""Stage images: the decoded images kept as uint8 images for the convolutional network, split as
normalize splits them (params ``split``) so that its scores compare with every other model's."""

import mnist_pipeline  # noqa: F401  first: it pins the CPU kernels before NumPy loads

# isort: split

import argparse
import logging
import sys
from pathlib import Path

from sklearn.pipeline import Pipeline

from mnist_pipeline.data import SPLITS, first_images, hold_out
from mnist_pipeline.features import CHAIN_FILE, WholeImages
from mnist_pipeline.params import Split, load_params
from mnist_pipeline.plumbing.files import OutputError, atomic_dir, load_arrays, save_arrays
from mnist_pipeline.plumbing.model_files import save_model

log = logging.getLogger("images")


def _write_images(source: Path, out: Path, split: Split) -> None:
    train = load_arrays(source / "train.npz", ("images", "labels"))
    test = load_arrays(source / "test.npz", ("images", "labels"))
    fit, val = hold_out(train["images"], train["labels"], split.validation, "split.validation")
    splits = (first_images(*fit, split.train_size), val, (test["images"], test["labels"]))
    with atomic_dir(out) as tmp:
        for name, (images, labels) in zip(SPLITS, splits, strict=True):
            save_arrays(tmp / f"{name}.npz", {"X": images, "y": labels})
        save_model(Pipeline([("images", WholeImages().fit(splits[0][0]))]), tmp / CHAIN_FILE)
    counts = "/".join(str(len(labels)) for _, labels in splits)
    log.info("%s: %s images of %d x %d pixels", out, counts, *splits[0][0].shape[1:])


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after one line of error."""
    parser = argparse.ArgumentParser(prog="images", description=__doc__)
    parser.add_argument("--params", type=Path, required=True, help="params.yaml (split)")
    parser.add_argument("--in", dest="source", type=Path, required=True, help="decode's folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for the image files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        _write_images(args.source, args.out, load_params(args.params).split)
    except (ValueError, FileNotFoundError, OutputError) as err:
        print(f"images: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
