"""Stage `overlays`: every model's test results in one table per overlay chart, so that `dvc plots
show` draws a new model in a colour of its own with no edit to dvc.yaml."""

import argparse
import logging
import sys
from pathlib import Path

from mnist_pipeline.charts import load_evaluations, load_labelled
from mnist_pipeline.params import load_params
from mnist_pipeline.plumbing.files import csv_text, write_text
from mnist_pipeline.scoring import per_class_scores, rounded

log = logging.getLogger("overlays")


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after one line for a bad input."""
    parser = argparse.ArgumentParser(prog="overlays", description=__doc__)
    for option, text in (
        ("--params", "params.yaml"),
        ("--evaluations", "the evaluate stages' folder (<model>/predictions.npz)"),
        ("--test", "the decoded test split (test.npz)"),
        ("--out", "the folder for the two CSVs"),
    ):
        parser.add_argument(option, type=Path, required=True, help=text)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        params = load_params(args.params)
        labels = load_labelled(args.test, params.dataset)["labels"]
        found = load_evaluations(
            params.models.values(), args.evaluations, labels, params.dataset.classes
        )
        per_class = [
            [e.model.name, name, rounded(recall)]
            for e in found
            if not e.detector
            for name, recall in zip(e.names, per_class_scores(e.matrix)[1], strict=True)
        ]
        pr_curve = [
            [e.model.name, rounded(recall), rounded(precision)]
            for e in found
            if e.curve is not None
            for precision, recall in zip(*e.curve, strict=True)
        ]
        write_text(args.out / "per_class.csv", csv_text(["model", "class", "test"], per_class))
        write_text(args.out / "pr_curve.csv", csv_text(["model", "recall", "precision"], pr_curve))
        log.info("%d models side by side in %s", len(found), args.out)
    except (ValueError, OSError) as err:  # bad params, a missing or bad input, an unwritable out
        print(f"overlays: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
