"""Print the leaderboard: one row per model with its features, estimator, test accuracy and
95% Wilson interval, val accuracy, for detectors the test F1 and average precision, the
cross-validation's mean ± sd, and the published accuracies of the dataset ("notebook"), read
from metrics/<model>/scores/ at the workspace, a git revision or a `dvc exp` experiment.

Rows are sorted: 10-class models by test accuracy (best first), then the one-vs-rest
detectors by test F1 (best first). --readme rewrites the table between the README's
<!-- results:start --> and <!-- results:end --> markers (`make results`).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path
from typing import Any

from mnist_pipeline.plumbing.files import write_text
from mnist_pipeline.results import WORKSPACE, ResultsError, leaderboard

START, END = "<!-- results:start -->", "<!-- results:end -->"
HEADER = ("model", "features", "estimator", "test acc [95% CI]", "val acc", "F1", "AP")
HEADER += ("notebook", "cv acc ± sd", "notebook cv")


def percent(value: float | None) -> str:
    """``97.08%``, or empty for None."""
    return "" if value is None else f"{100 * value:.2f}%"


def cells(row: dict[str, Any]) -> list[str]:
    """A row's text, one string per column of ``HEADER``."""
    test, detector = row["test"], row["target"] is not None
    interval = f"{percent(test['acc'])} [{100 * test['acc_lo']:.2f}, {100 * test['acc_hi']:.2f}]"
    cv = row.get("cv")
    return [
        row["name"],
        str(row["features"]),
        f"{row['estimator']}, is it a {row['target']}" if detector else str(row["estimator"]),
        interval,
        percent(row.get("val", {}).get("acc")),
        f"{test['f1']:.3f}" if detector else "",
        f"{test['ap']:.3f}" if detector and "ap" in test else "",
        percent(row["notebook"]),
        "" if cv is None else f"{percent(cv['acc'])} ± {100 * cv['acc_sd']:.2f}",
        percent(row["notebook_cv"]),
    ]


def markdown(rows: list[dict[str, Any]]) -> str:
    """The rows as a GitHub Markdown table, model names as code, numbers right-aligned."""
    lines = ["| " + " | ".join(HEADER) + " |", "|---|---|---|" + "---:|" * (len(HEADER) - 3)]
    for row in rows:
        name, *rest = cells(row)
        lines.append("| " + " | ".join([f"`{name}`", *rest]) + " |")
    return "\n".join(lines) + "\n"


def text(rows: list[dict[str, Any]]) -> str:
    """The rows as space-aligned columns for a terminal, numbers right-aligned."""
    table = [list(HEADER), *map(cells, rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    return "".join(
        "  ".join(
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        + "\n"
        for line in table
    )


def splice(readme: str, table: str) -> str:
    """``readme`` with ``table`` between its results markers."""
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(readme):
        raise ResultsError(f"README has no {START} ... {END} section")
    return pattern.sub(lambda _: f"{START}\n{table}{END}", readme)


def main(argv: list[str] | None = None) -> int:
    """Print or splice the leaderboard; 1 after a one-line error."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(
        prog="leaderboard",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rev", default=WORKSPACE, help="git revision or experiment name")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--readme", type=Path, help="rewrite this README's Results table")
    args = parser.parse_args(argv)
    try:
        rows = leaderboard(args.rev)
        if args.readme is not None:
            write_text(args.readme, splice(args.readme.read_text(), markdown(rows)))
        else:
            sys.stdout.write(markdown(rows) if args.markdown else text(rows))
    except (ResultsError, OSError) as err:
        print(f"leaderboard: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
