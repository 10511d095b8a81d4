"""Report a finished `dvc exp` sweep so that it can be chosen from honestly: a PNG with the
swept parameter on x and each affected model's val accuracy with its 95% Wilson interval on
y, a star on the best point on val of each model, and the same as Markdown (printed, and
written to OUT/sweep.md beside OUT/sweep.png): the val curve, then each model's chosen point
with its test accuracy, the one honest test number of the sweep. A model without a val split
is chosen on its cross-validation (cv), or, with neither (gd_4), not at all.
--show-test-curve adds the test accuracy at every point, as a diagnostic: a value picked
from it has no honest test score left.

The swept parameter is the params.yaml key that differs between the experiments of the
commit checked out (or --rev, or --param). With two, the second gives one line per value.
Only models whose accuracy differs between the experiments are drawn (or --models). A
numeric parameter spanning 50x or more (a training-set size) is drawn on a log axis. The
report refuses while any experiment is queued or running; failed experiments are named and
left out.

Examples:
  dvc exp run --queue -S 'pca.n=range(10,101,10)'
  dvc queue start -j 2
  python src/sweep.py --out build/sweep

  dvc exp run --queue -S 'split.train=500,1000,2000,5000,10000,20000,50000'
  dvc queue start -j 1
  python src/sweep.py --models nearest knn svm mlp --show-test-curve --out build/curve
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_pipeline.plumbing.drawing import save_png
from mnist_pipeline.plumbing.files import write_text
from mnist_pipeline.tools.revisions import RevisionError
from mnist_pipeline.tools.sweep import SweepError, build_sweep, parse_exp_show, run_exp_show
from mnist_pipeline.tools.sweep_report import draw_sweep, markdown_report


def main(argv: list[str] | None = None) -> int:
    """Run the tool with the command line ``argv``; return 0, or 1 after a one-line error."""
    parser = argparse.ArgumentParser(
        prog="sweep", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY",
        help="the swept params.yaml key, e.g. pca.n (twice for a grid: x, then "
        "one line per value); default: the keys that differ",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("build/sweep"),
        help="folder for sweep.png and sweep.md (default: build/sweep)",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        default=[],
        metavar="MODEL",
        help="report only these models (default: those whose accuracy differs)",
    )
    parser.add_argument(
        "--show-test-curve",
        action="store_true",
        help="also draw and tabulate test accuracy at every point, as a diagnostic",
    )
    parser.add_argument(
        "--x-scale",
        choices=("auto", "linear", "log"),
        default="auto",
        help="the x axis (default auto: log for a numeric parameter spanning 50x or more)",
    )
    parser.add_argument(
        "--rev",
        metavar="COMMIT",
        help="report the experiments of this baseline commit (default: HEAD)",
    )
    parser.add_argument(
        "--all-baselines",
        action="store_true",
        help="include experiments of every commit, not only of HEAD",
    )
    parser.add_argument(
        "--from-json",
        type=Path,
        metavar="FILE",
        help="read this saved `dvc exp show --json` output instead of running dvc",
    )
    parser.add_argument("--dpi", type=int, default=100, help="pixels per inch of the PNG")
    args = parser.parse_args(argv)
    try:
        if args.from_json is not None:
            data = json.loads(args.from_json.read_text())
        else:
            data = run_exp_show(Path.cwd(), args.all_baselines, args.rev)
        experiments = parse_exp_show(data, args.all_baselines)
        for exp in experiments:
            if exp.state == "failed":
                print(
                    f"sweep: warning: experiment {exp.name} failed and is left out; see "
                    f"`dvc queue logs {exp.name}`",
                    file=sys.stderr,
                )
        sweep = build_sweep(experiments, args.param, args.models)
        report = markdown_report(sweep, args.show_test_curve)
        save_png(
            draw_sweep(sweep, args.show_test_curve, args.x_scale), args.out / "sweep.png", args.dpi
        )
        write_text(args.out / "sweep.md", report)
    except (SweepError, RevisionError, OSError, json.JSONDecodeError) as err:
        print(f"sweep: error: {err}", file=sys.stderr)
        return 1
    sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
