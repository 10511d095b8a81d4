"""Stage `plots_template`: the HTML page `dvc plots show` fills, with its chart library inlined,
so that the page renders with no network. See ``mnist_pipeline.stages.plots_template``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_pipeline.plumbing.runner import exit_stage, run_stage
from mnist_pipeline.stages.plots_template import PACKAGE, TemplateError, write_page


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; return its exit code (see ``run_stage``)."""
    parser = argparse.ArgumentParser(
        prog="plots_template",
        description="Write the HTML template for `dvc plots show` / `dvc plots diff` with "
        f"vega, vega-lite and vega-embed inlined from the installed PyPI package {PACKAGE}, "
        "so that the page renders with no network.",
    )
    parser.add_argument("--out", type=Path, required=True, help="the HTML file to write")
    args = parser.parse_args(argv)

    return run_stage(
        "plots_template",
        lambda: write_page(args.out),
        (TemplateError, OSError),
        outputs=[args.out],
    )


if __name__ == "__main__":
    exit_stage(main())
