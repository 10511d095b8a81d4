"""Stage `figures`: every model's gallery of misclassified test images.

Writes ``--out``/<model>/misclassified.png (git-tracked, shown by `dvc plots show`); see
``mnist_pipeline.stages.figures``. One stage draws every model's pictures: one process per
model would spend more time starting Python, NumPy and matplotlib than drawing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.figures import FiguresError, draw_figures


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        prog="figures",
        description="Draw each model's gallery of mistakes on the test split into "
        "OUT/<model>/misclassified.png (captioned 'actual -> predicted'). PNGs are the same "
        "bytes for the same inputs.",
    )
    parser.add_argument(
        "--params",
        type=Path,
        required=True,
        help="params.yaml (models, figures, the dataset's classes and nouns)",
    )
    parser.add_argument(
        "--evaluations",
        type=Path,
        required=True,
        help="the evaluate stages' folder (<model>/predictions.npz)",
    )
    parser.add_argument(
        "--images",
        type=Path,
        required=True,
        help="the decoded test images and labels (test.npz: images, labels)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder for the pictures, one subfolder per model (replaced)",
    )
    parser.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="NAME",
        help="draw only this model (repeatable; default: every model in params.yaml)",
    )
    args = parser.parse_args(argv)

    def work() -> None:
        params = load_params(args.params)
        names = args.models or list(params.models)
        draw_figures(
            [params.model(name) for name in names],
            params.figures,
            args.evaluations,
            args.images,
            args.out,
            params.dataset,
        )

    return run_stage(
        "figures",
        work,
        (ParamsError, FiguresError, FileNotFoundError, ValueError),
        outputs=[args.out],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
