"""Stage `summary`: the pictures drawn once per run, over the data and all models.

Writes ``--out``/digits.png, pca_variance.png, accuracy.png and loss.png (git-tracked, shown
by `dvc plots show`); see ``mnist_pipeline.stages.summary``.
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
        "class), pca_variance.png (explained variance for 1..784 components, pca.n marked), "
        "accuracy.png (every model's test accuracy) and loss.png (loss per epoch). PNGs are "
        "the same bytes for the same inputs.",
    )
    parser.add_argument(
        "--params",
        type=Path,
        required=True,
        help="params.yaml (pca.n, models, figures, the dataset's classes, nouns and references)",
    )
    parser.add_argument(
        "--images",
        type=Path,
        required=True,
        help="the decoded training images (train.npz: images, labels)",
    )
    parser.add_argument(
        "--variance",
        type=Path,
        required=True,
        help="the pca stage's variance spectrum (variance.csv)",
    )
    parser.add_argument(
        "--metrics",
        type=Path,
        required=True,
        help="the metrics/ folder (<model>/scores/test.json, <model>/history.csv)",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs")
    args = parser.parse_args(argv)
    return run_stage(
        "summary",
        lambda: draw_summary(
            load_params(args.params), args.images, args.variance, args.metrics, args.out
        ),
        (ParamsError, FileNotFoundError, ValueError),
        outputs=[args.out],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
