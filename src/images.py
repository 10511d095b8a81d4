"""Stage `images`: the decoded images as 28x28 uint8 pixels, split into train, val and test.

See ``mnist_pipeline.stages.images``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.images import write_images


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        description="Keep decoded images as images (N x rows x columns, uint8): writes "
        "train.npz, val.npz (the last split.validation training images) and test.npz.",
    )
    parser.add_argument("--params", type=Path, required=True, help="params.yaml (split)")
    parser.add_argument(
        "--in", dest="source", type=Path, required=True, help="the decode stage's folder"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the image files")
    args = parser.parse_args(argv)

    def work() -> None:
        params = load_params(args.params)
        write_images(args.source, args.out, params.split.validation, params.split.train_size)

    return run_stage(
        "images",
        work,
        (ParamsError, FileNotFoundError),
        outputs=[args.out],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
