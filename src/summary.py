"""Stage `summary`: the pictures drawn once per run, over the data and all models.

Writes ``--out``/digits.png and accuracy.png (git-tracked, shown by `dvc plots show`); see
``mnist_pipeline.stages.summary``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.summary import draw_summary


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        prog="summary",
        description="Draw the pictures made once per run: digits.png (sample images per "
        "class) and accuracy.png (every model's test accuracy). PNGs are the same bytes for "
        "the same inputs.",
    )
    parser.add_argument(
        "--params",
        type=Path,
        required=True,
        help="params.yaml (models, figures, the dataset's classes, nouns and references)",
    )
    parser.add_argument(
        "--images",
        type=Path,
        required=True,
        help="the decoded training images (train.npz: images, labels)",
    )
    parser.add_argument(
        "--evaluations",
        type=Path,
        required=True,
        help="the evaluate stages' folder (<model>/predictions.npz)",
    )
    parser.add_argument(
        "--test",
        type=Path,
        required=True,
        help="the decoded test split (test.npz: its labels)",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    args = parser.parse_args(argv)
    return run_stage(
        "summary",
        lambda: draw_summary(
            load_params(args.params), args.images, args.evaluations, args.test, args.out
        ),
        (ParamsError, FileNotFoundError, ValueError),
        outputs=[args.out],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
