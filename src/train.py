"""Stage `train@<model>`: fit one model of params.yaml's `models` on its training features."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.labels import ClassesError
from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.plumbing.registry import EstimatorParamError
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.train import train


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        description="Fit the scikit-learn estimator that params.yaml's models.<name> describes "
        "on the training split of its features; writes model.pkl, a per-epoch loss CSV and "
        "live metrics (dvclive) while a model that learns in steps trains.",
    )
    parser.add_argument(
        "--params",
        type=Path,
        required=True,
        help="params.yaml (models.<name>; the dataset's classes, which the labels must run over)",
    )
    parser.add_argument("--model", required=True, help="the model's name under `models`")
    parser.add_argument(
        "--features", type=Path, required=True, help="the feature stage's folder (train.npz)"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for model.pkl")
    parser.add_argument(
        "--history",
        type=Path,
        required=True,
        help="CSV of loss (and val accuracy) per epoch (header only for non-iterative models)",
    )
    parser.add_argument(
        "--live",
        type=Path,
        required=True,
        help="folder of dvclive's live metrics (metrics.json, updated after every epoch)",
    )
    args = parser.parse_args(argv)

    def work() -> None:
        params = load_params(args.params)
        train(
            params.model(args.model),
            args.features,
            args.out,
            args.history,
            args.live,
            params.dataset,
        )

    return run_stage(
        "train",
        work,
        (ParamsError, EstimatorParamError, ClassesError, FileNotFoundError),
        outputs=[args.out, args.history, args.live],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
