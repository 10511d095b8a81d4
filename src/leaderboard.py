"""Print the leaderboard: one row per model with its features, estimator, test accuracy and
95% Wilson interval, val accuracy, and for detectors the test F1 and average precision, read
from metrics/<model>/scores/ at the workspace, a git revision or a `dvc exp` experiment.

Rows are sorted: 10-class models by test accuracy (best first), then the one-vs-rest
detectors by test F1 (best first). The "notebook" column is the accuracy the original
notebook reported (params.yaml `notebooks`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_pipeline.plumbing.files import write_text
from mnist_pipeline.tools.leaderboard import leaderboard, markdown_table, splice, text_table
from mnist_pipeline.tools.revisions import WORKSPACE, RevisionError, resolve


def main(argv: list[str] | None = None) -> int:
    """Run the tool with the command line ``argv``; return 0, or 1 after a one-line error."""
    parser = argparse.ArgumentParser(
        prog="leaderboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rev",
        default=WORKSPACE,
        help="a git revision or dvc experiment name (default: the workspace)",
    )
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--readme",
        type=Path,
        help="write the Markdown table into this README, between its "
        "<!-- results:start --> and <!-- results:end --> markers",
    )
    args = parser.parse_args(argv)
    try:
        rows = leaderboard(resolve(Path.cwd(), args.rev))
        if args.readme is not None:
            readme = args.readme.read_text()
            write_text(args.readme, splice(readme, markdown_table(rows)))
        else:
            sys.stdout.write(markdown_table(rows) if args.markdown else text_table(rows))
    except (RevisionError, ValueError, OSError) as err:
        print(f"leaderboard: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
