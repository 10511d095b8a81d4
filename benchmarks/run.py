"""Speed, memory and accuracy of the pipeline on the shipped full MNIST, measured in a copy.

The run times fixed reference kernels on this machine at its start, between every two of its
phases and at its end: a float32 matrix product, a pure-Python loop and a libsvm fit on 10,000
fixed rows. Each repeat copies the working tree's project files (tracked or not, but not
git-ignored) to a fresh temporary git repository, so the working tree's stages/ and DVC cache
are never touched, and there:

1. runs a cold ``dvc repro`` (no stages/, no DVC cache, no run cache): total wall time, and
   every stage's wall time, CPU time, peak resident memory, and the seconds of its own work;
2. times a no-op ``dvc repro`` against ``dvc status`` on the reproduced repository;
3. times ``evaluate@nearest`` against the bare float32 blocked matrix product it needs;
4. fits and scores the SVM (``models.svm``) as today's scikit-learn SVC and as the pipeline's
   estimator, in fresh interpreters, alternately (svm_fit);
5. times, each in a fresh interpreter on the data the run just made, the notebooks' methods
   against ours (``bench.kernels``);
6. times ``dvc exp run -S pca.n=40`` as a share of the cold run.

After the repeats, three ``dvc exp run -S ...`` in the last copy compare every model's accuracy
with and without deskewing, and the SVM's on the plain PCA features. Every timing is reported
as raw seconds and as a ratio, to the part of the pipeline it is judged against or to the
reference kernels timed on either side of its phase. Medians over the repeats go to a JSON file
and a Markdown report; nothing is written into the working tree but ``--out``.
benchmarks/README.md describes the method.

Usage: ``.venv/bin/python benchmarks/run.py --repeat 3 --out benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import asdict
from pathlib import Path

from bench.harness import REPO, Options, log, run_benchmark
from bench.report import markdown, summarise

from mnist_pipeline.plumbing.files import write_text

SCHEMA = 3
"""3: ``calibration`` is a list of rounds, one per boundary between phases; repeats have
``svm_fit``. (2: one record per kernel, the samples of the start and the end.)"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=textwrap.dedent(__doc__.split("\n\n")[0]),
        epilog="Each repeat takes about four minutes on two cores, plus about 25 s per svm_fit "
        "round; the three feature experiments about three more. Run it on an otherwise idle "
        "machine: the load average is recorded.",
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="repeats; medians are reported (default 3)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=REPO / "benchmarks" / "results.json",
        help="JSON results file (default benchmarks/results.json)",
    )
    parser.add_argument(
        "--markdown", type=Path, help="also write the Markdown report here (it is always printed)"
    )
    parser.add_argument(
        "--core-target",
        default="evaluate",
        help="the cold run first reproduces this target (default: evaluate, "
        "i.e. download -> evaluate@*, the models' pipeline), then the rest of "
        "dvc.yaml, and reports both; '' for one `dvc repro`",
    )
    parser.add_argument(
        "--separate",
        action="append",
        default=[],
        help="model(s) whose train and evaluate stages are also taken out of "
        "the model pipeline's time, as an estimate (for a model kept outside "
        "the 60 s budget)",
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=2,
        help="evaluate@nearest / bare product pairs per repeat (default 2)",
    )
    parser.add_argument(
        "--block-rows",
        type=int,
        default=512,
        help="rows per block of the bare matrix product (as cosine_1nn's default block_rows)",
    )
    parser.add_argument(
        "--mlp-samples",
        type=int,
        default=2000,
        help="images the per-sample MLP loops are timed on (default 2000)",
    )
    parser.add_argument(
        "--gd-iterations",
        type=int,
        default=20,
        help="iterations the re-casting gradient-descent loop is timed on (default 20)",
    )
    parser.add_argument(
        "--skip-notebooks", action="store_true", help="skip the notebook-method comparisons"
    )
    parser.add_argument(
        "--skip-sklearn-knn",
        action="store_true",
        help="skip scikit-learn's brute-force 1-NN timings",
    )
    parser.add_argument(
        "--skip-deskew",
        action="store_true",
        help="skip the feature experiments (`-S normalize.deskew=true`, "
        "with `-S normalize.method=l2`, and `-S models.svm.features=pca`)",
    )
    parser.add_argument(
        "--skip-svm-fit",
        action="store_true",
        help="skip the svm_fit phase (today's SVC against the pipeline's SVM estimator)",
    )
    parser.add_argument(
        "--svm-rounds",
        type=int,
        default=3,
        help="svm_fit rounds per repeat, each fitting both estimators (default 3)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat: expected at least 1")
    if args.svm_rounds < 1 and not args.skip_svm_fit:
        parser.error("--svm-rounds: expected at least 1 (or --skip-svm-fit)")

    results = run_benchmark(Options.from_args(args))
    summary = summarise(results)
    record = {"schema": SCHEMA, **asdict(results), "summary": asdict(summary)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_text(args.out, json.dumps(record, indent=2) + "\n")
    report = markdown(results, summary)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        write_text(args.markdown, report)
    sys.stdout.write(report)
    failed = [name for name, ok in summary.checks.items() if not ok]
    if failed:
        log(f"accuracy checks failed: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
