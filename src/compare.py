"""Compare every model between two revisions, image by image: the test accuracy in A and B,
the difference in percentage points, how many test images the model got right in A and wrong
in B and the reverse, the exact McNemar p-value, and whether the difference is significant at
5%. Models present in only one revision are listed as added or removed.

A and B are git revisions (branch, tag, commit), `dvc exp` experiment names, or `workspace`.
Everything is read from git-tracked files (metrics/<model>/predictions/test.csv), so it works
in any clone with no DVC remote.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_pipeline.tools.compare import ComparisonError, compare, format_comparison
from mnist_pipeline.tools.revisions import RevisionError, resolve


def main(argv: list[str] | None = None) -> int:
    """Run the tool with the command line ``argv``; return 0, or 1 after a one-line error."""
    parser = argparse.ArgumentParser(
        prog="compare", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("a", metavar="A", help="the first revision (e.g. main)")
    parser.add_argument("b", metavar="B", help="the second revision (e.g. a branch or exp name)")
    parser.add_argument(
        "--models",
        nargs="+",
        metavar="MODEL",
        help="compare only these models (default: every model)",
    )
    args = parser.parse_args(argv)
    try:
        repo = Path.cwd()
        comparison = compare(resolve(repo, args.a), resolve(repo, args.b), args.models)
    except (RevisionError, ComparisonError) as err:
        print(f"compare: error: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(format_comparison(comparison))
    return 0


if __name__ == "__main__":
    sys.exit(main())
