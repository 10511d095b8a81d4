"""Stage `normalize`: uint8 images -> float32 feature rows, split into train / val / test.

See ``mnist_pipeline.stages.normalize``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.plumbing.params import NORMALIZE_STAGES, ParamsError, load_params
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.normalize import write_features


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        description="Scale decoded images to float32 rows and hold out a validation split: "
        "writes train.npz, val.npz and test.npz (arrays X, y) and a CSV of images per digit "
        "and split.",
    )
    parser.add_argument(
        "--params",
        type=Path,
        required=True,
        help="params.yaml (the section's method and deskew, split.validation and split.train)",
    )
    parser.add_argument(
        "--section",
        choices=NORMALIZE_STAGES,
        default="normalize",
        help="the params section to follow, named after the stage that runs "
        "this script (default: normalize)",
    )
    parser.add_argument(
        "--in", dest="source", type=Path, required=True, help="the decode stage's folder"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the feature files")
    parser.add_argument(
        "--labels",
        type=Path,
        help="CSV of images per class (rows) and split (columns); not written if omitted",
    )
    args = parser.parse_args(argv)

    def work() -> None:
        params = load_params(args.params)
        write_features(
            args.source,
            args.out,
            args.labels,
            params.normalize_section(args.section),
            params.split.validation,
            params.dataset,
            params.split.train_size,
        )

    return run_stage(
        "normalize",
        work,
        (ParamsError, FileNotFoundError, ValueError),
        outputs=[args.out, args.labels],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
