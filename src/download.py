"""Stage ``download``: fetch the four MNIST files, each verified by its sha256, into one folder.

    python src/download.py --params params.yaml --out stages/download

The folder appears only once all four files are verified; on any failure there is none.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.download import FetchError, fetch_dataset


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The download stage's command line."""
    parser = argparse.ArgumentParser(
        prog="download",
        description=(
            "Fetch the four IDX files of the dataset params.yaml selects (`dataset`; its "
            "description's files), trying each of its mirrors in order (a directory, a "
            "file:// or an http(s):// URL), "
            "verify each against its size and sha256 and write them into OUT (never more "
            "than its size from any mirror, within download.timeout + size / "
            "download.min_rate seconds). OUT appears only when "
            "all four are verified. Exit status 1 if the params are invalid or a file could "
            "not be fetched from any mirror."
        ),
    )
    parser.add_argument(
        "--params",
        type=Path,
        required=True,
        help="params.yaml (dataset, datasets.<dataset>, download)",
    )
    parser.add_argument(
        "--out", type=Path, required=True, help="the folder to write the four files into"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    args = parse_args(argv)

    def work() -> None:
        params = load_params(args.params)
        fetch_dataset(params.dataset, params.download, args.out)

    return run_stage(
        "download", work, (ParamsError, FetchError), outputs=[args.out], params=args.params
    )


if __name__ == "__main__":
    exit_stage(main())
