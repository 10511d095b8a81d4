"""Run a grid of `dvc exp run -S` experiments on a Dask cluster: one task per point, each on
one worker, in that worker's own clone of the git origin at the baseline commit; the stages
the point does not change are pulled from the DVC remote, the rest run; each experiment is
pushed to the origin (`dvc exp push`) and its data to the remote. Then every experiment is
fetched here (`dvc exp pull`), so that `make sweep` draws the result.

Several -S make a grid, as with `dvc exp run --queue`. A point already on the origin is
skipped, so submitting the same sweep twice runs nothing the second time. The workers need
git, the project's venv and the remote's credentials in their environment (docs/cluster.md).

Example:
  python src/cluster.py --scheduler tcp://10.0.0.5:8786 --origin git@git.example:mnist.git
      -S 'pca.n=10,20,30,40,50,60'
"""

from __future__ import annotations

import mnist_pipeline  # noqa: F401  first: it pins the BLAS kernel before NumPy loads

# isort: split

import argparse
import json
import sys
from pathlib import Path

from mnist_pipeline.plumbing.files import write_text
from mnist_pipeline.tools.cluster import ClusterError, SweepSettings, submit_sweep, summary_table
from mnist_pipeline.tools.cluster_grid import grid


def main(argv: list[str] | None = None) -> int:
    """Run the tool with the command line ``argv``; return 0 when every point is on the
    origin, 1 after a one-line error or when a point failed."""
    parser = argparse.ArgumentParser(
        prog="cluster", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--scheduler",
        required=True,
        metavar="ADDRESS",
        help="the Dask scheduler, e.g. tcp://10.0.0.5:8786",
    )
    parser.add_argument(
        "--origin",
        required=True,
        metavar="URL",
        help="the git origin's URL as the workers reach it",
    )
    parser.add_argument(
        "--rev", default="HEAD", help="the baseline commit, pushed to the origin (default: HEAD)"
    )
    parser.add_argument(
        "-S",
        "--set-param",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUES",
        required=True,
        help="a parameter's values, as `dvc exp run --queue -S`; several make a grid",
    )
    parser.add_argument("-r", "--remote", help="the DVC remote (default: the repository's)")
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="how long to try the scheduler, and to wait for a worker (10)",
    )
    parser.add_argument(
        "--run-timeout",
        type=float,
        default=4 * 3600.0,
        metavar="SECONDS",
        help="the longest one experiment may run (14400)",
    )
    parser.add_argument(
        "--resubmits",
        type=int,
        default=1,
        help="times a point is submitted again after its workers died more "
        "often than the scheduler's allowed-failures (1)",
    )
    parser.add_argument(
        "--pull-data",
        action="store_true",
        help="`dvc exp pull` the experiments' data too, not only their git refs",
    )
    parser.add_argument(
        "--summary", type=Path, metavar="FILE", help="also write the summary as JSON to FILE"
    )
    args = parser.parse_args(argv)
    settings = SweepSettings(
        scheduler=args.scheduler,
        origin=args.origin,
        repo=Path.cwd(),
        baseline_rev=args.rev,
        remote=args.remote,
        connect_timeout=args.connect_timeout,
        run_timeout=args.run_timeout,
        resubmits=args.resubmits,
        pull_data=args.pull_data,
    )
    try:
        points = grid(args.settings)
        summary = submit_sweep(settings, points, say=lambda line: print(line, flush=True))
    except ClusterError as err:
        print(f"cluster: error: {err}", file=sys.stderr)
        return 1
    if args.summary:
        write_text(args.summary, json.dumps(summary, indent=2) + "\n")
    sys.stdout.write("\n" + summary_table(summary))
    return 1 if any(p["status"] == "failed" for p in summary["points"]) else 0


if __name__ == "__main__":
    sys.exit(main())
