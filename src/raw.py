"""Stage `raw`: the decoded images as rows of raw 0-255 pixels, for models that scale nothing.

See ``mnist_pipeline.stages.raw``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.raw import write_raw


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        description="Flatten decoded images to rows of raw uint8 pixels: writes train.npz, "
        "val.npz (the last raw.validation training images; no rows for 0) and test.npz.",
    )
    parser.add_argument("--params", type=Path, required=True, help="params.yaml (raw.validation)")
    parser.add_argument(
        "--in", dest="source", type=Path, required=True, help="the decode stage's folder"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the feature files")
    args = parser.parse_args(argv)
    return run_stage(
        "raw",
        lambda: write_raw(args.source, args.out, load_params(args.params).raw.validation),
        (ParamsError, FileNotFoundError),
        outputs=[args.out],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
