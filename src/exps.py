"""Print `dvc exp show` narrowed to what matters, in a terminal's width: one row per commit
and experiment (those of HEAD, or --rev, or every commit with -A), the params.yaml keys that
differ between the rows, and for each model whose scores differ, its test and val accuracy
(`97.56/97.84`). Models that did not change are named under the table. `make exps` runs it.

With --csv FILE it writes dvc's full table instead (`dvc exp show --csv`: every params key,
metric and dependency's hash), checked to be readable by `pandas.read_csv`: `make exps-csv`
writes build/exps.csv.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_pipeline.tools.exps import exps_table, write_csv
from mnist_pipeline.tools.sweep import SweepError, exp_show_text, parse_exp_show, run_exp_show


def main(argv: list[str] | None = None) -> int:
    """Run the tool with the command line ``argv``; return 0, or 1 after a one-line error."""
    parser = argparse.ArgumentParser(
        prog="exps", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rev", metavar="COMMIT", help="experiments of this baseline commit")
    parser.add_argument(
        "-A", "--all-commits", action="store_true", help="experiments of every commit"
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="read this saved `dvc exp show --json` output instead of running dvc",
    )
    parser.add_argument(
        "--csv",
        type=Path,
        metavar="FILE",
        help="write dvc's full table (`dvc exp show --csv`) to FILE instead of printing",
    )
    args = parser.parse_args(argv)
    try:
        if args.csv is not None:
            table = exp_show_text(Path.cwd(), "--csv", args.all_commits, args.rev)
            print(write_csv(table, args.csv))
            return 0
        if args.from_json is not None:
            data = json.loads(args.from_json.read_text())
        else:
            data = run_exp_show(Path.cwd(), args.all_commits, args.rev)
        rows = parse_exp_show(data, args.all_commits, with_baselines=True)
        if not rows:
            raise SweepError("no commit or experiment to show")
    except (SweepError, OSError, ValueError) as err:
        print(f"exps: error: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(exps_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
