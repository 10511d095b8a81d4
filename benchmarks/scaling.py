"""Cost against data size: a cold ``dvc repro`` of the default pipeline on training sets of
6,250 to 200,000 images (MNIST's, then shifted copies of them), each in a fresh copy of the
project. Per stage: wall time, peak RSS and the growth exponent (log-log slope); a table
(Markdown), a PNG of time against n, and the raw runs as JSON. Nothing is written into the
working tree but the output files. benchmarks/README.md ("Cost against data size") has the
method and the last results.

Usage: ``.venv/bin/python benchmarks/scaling.py --out build/scaling``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench.harness import log
from bench.scaling import (
    Scaling,
    from_json,
    markdown_table,
    plot,
    run_size,
    to_json,
)

from mnist_pipeline.plumbing.files import write_text

SIZES = (6_250, 12_500, 25_000, 50_000, 200_000)


def main(argv: list[str] | None = None) -> int:
    """Run the sizes (or re-render ``--from``); return 0."""
    parser = argparse.ArgumentParser(
        prog="scaling", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=list(SIZES),
        help="training-set sizes (default: %(default)s)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="folder for scaling.json, scaling.md and scaling.png",
    )
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        help="re-render the table and picture from this scaling.json",
    )
    args = parser.parse_args(argv)
    if args.source:
        scaling = from_json(args.source.read_text())
    else:
        runs = []
        with tempfile.TemporaryDirectory(prefix="mnist-scaling-") as root:
            for n in sorted(args.sizes):
                runs.append(run_size(Path(root), n))
                write_text(args.out / "scaling.json", to_json(Scaling(runs)))
        scaling = Scaling.of(runs)
    write_text(args.out / "scaling.json", to_json(scaling))
    write_text(args.out / "scaling.md", markdown_table(scaling))
    plot(scaling, args.out / "scaling.png")
    log(f"wrote {args.out}/scaling.json, scaling.md, scaling.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
