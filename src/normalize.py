"""Stage normalize (and normalize_deskewed, with ``--section``): uint8 images -> float32 rows
(``features.PixelRows``, fitted on the training split) in train / val / test, and the count of
images per class and split."""

import mnist_pipeline  # noqa: F401  first: it pins the CPU kernels before NumPy loads

# isort: split

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from mnist_pipeline.data import SPLITS, first_images, hold_out
from mnist_pipeline.features import CHAIN_FILE, PixelRows
from mnist_pipeline.labels import check_classes
from mnist_pipeline.params import NORMALIZE_STAGES, load_params
from mnist_pipeline.plumbing import files
from mnist_pipeline.plumbing.model_files import save_model

log = logging.getLogger("normalize")


def _label_distribution(labels: dict[str, np.ndarray], classes: Sequence[str]) -> str:
    """The notebooks' first look at the data: images per class (a row) and split (a column)."""
    counts = {split: np.bincount(y, minlength=len(classes)) for split, y in labels.items()}
    rows = [[name, *(int(c[i]) for c in counts.values())] for i, name in enumerate(classes)]
    return files.csv_text(["class", *counts], rows)


def _write_features(args: argparse.Namespace) -> None:
    params = load_params(args.params)
    settings, dataset = getattr(params, args.section), params.dataset
    train = files.load_arrays(args.source / "train.npz", ("images", "labels"))
    test = files.load_arrays(args.source / "test.npz", ("images", "labels"))
    labels = {
        str(args.source / f"{s}.npz"): d["labels"] for s, d in (("train", train), ("test", test))
    }
    check_classes(labels, dataset.classes, dataset.key)
    fit, (x_val, y_val) = hold_out(
        train["images"], train["labels"], params.split.validation, "split.validation"
    )
    x_train, y_train = first_images(*fit, params.split.train_size)
    pixels = PixelRows(settings.method, settings.deskew)
    features = [pixels.fit_transform(x_train), *map(pixels.transform, (x_val, test["images"]))]
    labels = dict(zip(SPLITS, (y_train, y_val, test["labels"]), strict=True))
    with files.atomic_dir(args.out) as tmp:
        for split, x in zip(SPLITS, features, strict=True):
            files.save_arrays(tmp / f"{split}.npz", {"X": x, "y": labels[split]})
        save_model(Pipeline([("pixels", pixels)]), tmp / CHAIN_FILE)
    if args.labels is not None:
        files.write_text(args.labels, _label_distribution(labels, dataset.classes))
    counts = "/".join(str(len(y)) for y in labels.values())
    log.info("%s: %s rows of %d features (%s)", args.out, counts, features[0].shape[1], settings)


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after one line of error."""
    parser = argparse.ArgumentParser(prog="normalize", description=__doc__)
    parser.add_argument("--params", type=Path, required=True, help="params.yaml (section, split)")
    parser.add_argument("--section", choices=NORMALIZE_STAGES, default="normalize")
    parser.add_argument("--in", dest="source", type=Path, required=True, help="decode's folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for the feature files")
    parser.add_argument("--labels", type=Path, help="CSV of images per class and split")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        _write_features(args)
    except (ValueError, FileNotFoundError, files.OutputError) as err:
        print(f"normalize: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
