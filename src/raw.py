"""Stage raw: the decoded images as rows of raw uint8 pixels, for the IDX notebook's gradient
descent, which scales nothing; ``raw.validation`` holds out the last N (0, the notebook's
choice, writes a val.npz of no rows, which evaluate skips)."""

import mnist_pipeline  # noqa: F401  first: it pins the CPU kernels before NumPy loads

# isort: split

import argparse
import logging
import sys
from pathlib import Path

from sklearn.pipeline import Pipeline

from mnist_pipeline.data import hold_out
from mnist_pipeline.features import CHAIN_FILE, RawRows
from mnist_pipeline.params import load_params
from mnist_pipeline.plumbing.files import OutputError, atomic_dir, load_arrays, save_arrays
from mnist_pipeline.plumbing.model_files import save_model

log = logging.getLogger("raw")


def _write_raw(source: Path, out: Path, validation: int) -> None:
    train = load_arrays(source / "train.npz", ("images", "labels"))
    test = load_arrays(source / "test.npz", ("images", "labels"))
    fit, val = hold_out(train["images"], train["labels"], validation, "raw.validation")
    rows = RawRows().fit(train["images"])
    splits = {"train": fit, "val": val, "test": (test["images"], test["labels"])}
    with atomic_dir(out) as tmp:
        for split, (images, labels) in splits.items():
            x = rows.transform(images)
            save_arrays(tmp / f"{split}.npz", {"X": x, "y": labels})
        save_model(Pipeline([("rows", rows)]), tmp / CHAIN_FILE)
    counts = "/".join(str(len(labels)) for _, labels in splits.values())
    log.info("%s: %s rows of %d raw pixels", out, counts, train["images"][0].size)


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after one line of error."""
    parser = argparse.ArgumentParser(prog="raw", description=__doc__)
    parser.add_argument("--params", type=Path, required=True, help="params.yaml (raw.validation)")
    parser.add_argument("--in", dest="source", type=Path, required=True, help="decode's folder")
    parser.add_argument("--out", type=Path, required=True, help="folder for the feature files")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        _write_raw(args.source, args.out, load_params(args.params).raw.validation)
    except (ValueError, FileNotFoundError, OutputError) as err:
        print(f"raw: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
