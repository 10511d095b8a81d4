"""Stage `pca`: project the normalized features onto their first `pca.n` principal components.

See ``mnist_pipeline.stages.pca``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.plumbing.params import PCA_STAGES, ParamsError, load_params
from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.pca import project


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        description="Fit PCA (n components, whiten) on the training split and project "
        "train/val/test onto it; writes train.npz, val.npz, test.npz, components.npz and the "
        "training split's variance spectrum (a CSV of every component's share).",
    )
    parser.add_argument(
        "--params", type=Path, required=True, help="params.yaml (the section's n and whiten)"
    )
    parser.add_argument(
        "--section",
        choices=PCA_STAGES,
        default="pca",
        help="the params section to follow, named after the stage that runs "
        "this script (default: pca)",
    )
    parser.add_argument(
        "--in", dest="source", type=Path, required=True, help="the normalize stage's folder"
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the projections")
    parser.add_argument(
        "--variance",
        type=Path,
        required=True,
        help="CSV to write: components, share, cumulative share of the variance",
    )
    args = parser.parse_args(argv)
    return run_stage(
        "pca",
        lambda: project(
            args.source, args.out, args.variance, load_params(args.params).pca_section(args.section)
        ),
        (ParamsError, FileNotFoundError, ValueError),
        outputs=[args.out, args.variance],
        params=args.params,
    )


if __name__ == "__main__":
    exit_stage(main())
