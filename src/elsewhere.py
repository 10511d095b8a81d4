"""Tool `elsewhere`: every packaged model on 1,797 handwritten digits that are not MNIST's
(scikit-learn's load_digits), written as PNG files and read back by the predict path.

See ``mnist_pipeline.tools.elsewhere``; the table is in docs/predict.md.
"""

from __future__ import annotations

import mnist_pipeline  # noqa: F401  first: it pins the BLAS kernel before NumPy loads

# isort: split

import argparse
import sys
import tempfile
from pathlib import Path

from mnist_pipeline.plumbing.model_files import ModelFileError
from mnist_pipeline.tools import elsewhere
from mnist_pipeline.tools.predict import leaderboard_rows, load_package, packaged_models


def main(argv: list[str] | None = None) -> int:
    """Print the Markdown table of accuracies; return the exit code."""
    parser = argparse.ArgumentParser(
        description="Score every packaged model on scikit-learn's load_digits (1,797 "
        "handwritten 8x8 digits by 43 people, not MNIST), each written as a PNG file and "
        "prepared as a person's picture; prints a Markdown table beside the MNIST test "
        "accuracy.",
    )
    parser.add_argument("--repo", type=Path, default=Path(), help="the project folder")
    parser.add_argument(
        "--out", type=Path, help="folder for the PNG files (default: a temporary one)"
    )
    args = parser.parse_args(argv)
    try:
        packages = [load_package(name, args.repo) for name in packaged_models(args.repo)]
        if not packages:
            raise FileNotFoundError(f"{args.repo / 'stages/package'}: no packaged model")
        mnist = {row.name: row.test.accuracy.acc for row in leaderboard_rows(args.repo)}
        with tempfile.TemporaryDirectory() as scratch:
            folder = args.out or Path(scratch) / "load_digits"
            elsewhere.write_digit_files(folder)
            scores = elsewhere.score(packages, folder, mnist)
    except (FileNotFoundError, ModelFileError, ValueError) as err:
        print(f"elsewhere: error: {err}", file=sys.stderr)
        return 1
    print(elsewhere.markdown(scores), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
