"""Compare every model between two revisions, image by image: the test accuracy in A and B,
the difference in percentage points, how many test images the model got right in A and wrong
in B and the reverse, the exact McNemar p-value, that p-value adjusted by Holm's method for
the family of models compared (every model in both revisions, or those --models names), the
smallest difference the test would detect with 80% power at 5% given the images and the
model's flips, and whether the difference is significant at 5% after the adjustment. Models
present in only one revision are listed as added or removed.

With --pair MODEL_A MODEL_B, two models of one revision REV (default: workspace) are compared
in the same way, on the same test images: `--pair svm cnn` says whether cnn beats svm.

A, B and REV are git revisions (branch, tag, commit), `dvc exp` experiment names, or
`workspace`. Everything is read from git-tracked files (metrics/<model>/predictions/test.csv),
so it works in any clone with no DVC remote.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_pipeline.tools.compare import (
    ComparisonError,
    compare,
    compare_models,
    format_comparison,
)
from mnist_pipeline.tools.revisions import WORKSPACE, RevisionError, resolve

USAGE = """\
compare [-h] [--models MODEL [MODEL ...]] A B
       compare [-h] --pair MODEL_A MODEL_B [REV]"""


def main(argv: list[str] | None = None) -> int:
    """Run the tool with the command line ``argv``; return 0, or 1 after a one-line error."""
    parser = argparse.ArgumentParser(
        prog="compare",
        usage=USAGE,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "revisions",
        nargs="*",
        metavar="A B | REV",
        help="two revisions (e.g. main and a branch or exp name); with --pair, at most one",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help="compare only these models, the family Holm's adjustment allows for "
        "(default: every model)",
    )
    parser.add_argument(
        "--pair",
        nargs=2,
        metavar=("MODEL_A", "MODEL_B"),
        help="compare two models of one revision instead (A: MODEL_A, B: MODEL_B)",
    )
    args = parser.parse_args(argv)
    if args.pair is None and len(args.revisions) != 2:
        parser.error("expected two revisions A B (or --pair MODEL_A MODEL_B [REV])")
    if args.pair is not None and (len(args.revisions) > 1 or args.models):
        parser.error("--pair takes one revision at most, and no --models")
    try:
        repo = Path.cwd()
        if args.pair is not None:
            revision = resolve(repo, args.revisions[0] if args.revisions else WORKSPACE)
            comparison = compare_models(revision, *args.pair)
        else:
            a, b = (resolve(repo, name) for name in args.revisions)
            comparison = compare(a, b, args.models)
    except (RevisionError, ComparisonError) as err:
        print(f"compare: error: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(format_comparison(comparison))
    return 0


if __name__ == "__main__":
    sys.exit(main())
