"""Stage `overlays`: every model's test results in one table per overlay chart.

Writes ``--out``/per_class.csv (every classifier's accuracy on each class) and pr_curve.csv
(every detector's precision-recall curve), each with a ``model`` column (git-tracked, drawn
by `dvc plots show`); see ``mnist_pipeline.stages.overlays``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.overlays import write_overlays


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        prog="overlays",
        description="Put every model's test results side by side for the overlay charts: "
        "OUT/per_class.csv (model,class,test: each class's accuracy, models of all classes) "
        "and OUT/pr_curve.csv (model,recall,precision: each detector's curve).",
    )
    parser.add_argument(
        "--params", type=Path, required=True, help="params.yaml (models, the dataset's classes)"
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
    parser.add_argument("--out", type=Path, required=True, help="folder for the two CSVs")
    args = parser.parse_args(argv)

    def work() -> None:
        params = load_params(args.params)
        write_overlays(
            list(params.models.values()),
            args.evaluations,
            args.test,
            params.dataset,
            args.out,
        )

    return run_stage(
        "overlays",
        work,
        (ParamsError, FileNotFoundError, ValueError),
        outputs=[args.out],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
