"""Stage `evaluate@<model>`: score one trained model on the validation and test splits."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.evaluate import evaluate


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        description="Score a trained model on the validation and test splits. Writes to "
        "METRICS_DIR: scores/test.json and scores/val.json (accuracy with its 95%% Wilson "
        "interval on test, F1; a detector's precision, recall and average precision), "
        "predictions/test.csv (actual,predicted per test image), per_class.csv, "
        "confused_pairs.csv and pr_curve.csv (detectors); for a model with `cv` k, "
        "scores/cv.json and predictions/cv.csv of a k-fold cross-validation on train.npz.",
    )
    parser.add_argument(
        "--params",
        type=Path,
        required=True,
        help="params.yaml (models.<name>, the dataset's classes)",
    )
    parser.add_argument("--model", required=True, help="the model's name under `models`")
    parser.add_argument(
        "--model-dir", type=Path, required=True, help="the train stage's folder (model.pkl)"
    )
    parser.add_argument(
        "--features",
        type=Path,
        required=True,
        help="the feature stage's folder (val.npz, test.npz; train.npz for cv)",
    )
    parser.add_argument(
        "--metrics-dir",
        type=Path,
        required=True,
        help="folder for scores/, predictions/ and the CSV tables",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder for raw predictions, scores and curve (predictions.npz)",
    )
    args = parser.parse_args(argv)

    def work() -> None:
        params = load_params(args.params)
        evaluate(
            params.model(args.model),
            args.model_dir,
            args.features,
            args.metrics_dir,
            args.out,
            params.dataset,
        )

    return run_stage(
        "evaluate",
        work,
        (ParamsError, FileNotFoundError, ValueError),
        outputs=[args.metrics_dir, args.out],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
