"""Stage `package@<model>`: one skops file holding a model's feature chain and estimator as a
scikit-learn Pipeline from images to classes, and its model card.

See ``mnist_pipeline.stages.package``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.plumbing.model_files import ModelFileError
from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.package import package


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        description="Package a trained model with its feature stage's fitted chain as one "
        "scikit-learn Pipeline from uint8 images to classes: writes model.skops, card.json "
        "and card.md (dataset, classes, features, every parameter, test accuracy with its "
        "interval, the data files' sha256, the git commit, how to load it).",
    )
    parser.add_argument(
        "--params", type=Path, required=True, help="params.yaml (models.<name>, the dataset)"
    )
    parser.add_argument("--model", required=True, help="the model's name under `models`")
    parser.add_argument(
        "--features",
        type=Path,
        required=True,
        help="the model's feature stage's folder (features.skops)",
    )
    parser.add_argument(
        "--model-dir", type=Path, required=True, help="the train stage's folder (model.pkl)"
    )
    parser.add_argument(
        "--scores", type=Path, required=True, help="the model's scores/test.json from evaluate"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the package")
    args = parser.parse_args(argv)

    def work() -> None:
        params = load_params(args.params)
        package(
            params.model(args.model),
            params.dataset,
            args.features,
            args.model_dir,
            args.scores,
            args.out,
        )

    return run_stage(
        "package",
        work,
        (ParamsError, FileNotFoundError, ModelFileError, ValueError),
        outputs=[args.out],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
