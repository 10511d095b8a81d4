"""Stage `decode`: the four downloaded IDX files -> train.npz and test.npz (uint8 arrays).

See ``mnist_pipeline.stages.decode``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.labels import ClassesError
from mnist_pipeline.plumbing.idx import IdxError
from mnist_pipeline.plumbing.params import ParamsError, load_params
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.decode import DecodeError, decode


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        description="Decode the selected dataset's IDX files (gzipped or raw) into train.npz "
        "and test.npz, each holding `images` (uint8, N x rows x columns, turned upright if the "
        "description says `transpose`) and `labels` (uint8, each below its class count).",
    )
    parser.add_argument(
        "--params",
        type=Path,
        required=True,
        help="params.yaml (the selected description: files, image_shape, transpose, classes)",
    )
    parser.add_argument(
        "--in",
        dest="source",
        type=Path,
        required=True,
        help="folder holding the downloaded IDX files",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write the .npz into")
    args = parser.parse_args(argv)

    return run_stage(
        "decode",
        lambda: decode(args.source, args.out, load_params(args.params).dataset),
        (ParamsError, IdxError, DecodeError, ClassesError, FileNotFoundError),
        outputs=[args.out],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
