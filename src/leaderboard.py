"""Print the leaderboard of metrics/<model>/scores/ at the workspace, a git revision or a `dvc
exp`: 10-class models by test accuracy, then detectors by F1, beside the published figures.
--readme rewrites the README's table between its results:start and results:end comments."""

import argparse
import logging
import sys
from pathlib import Path

from mnist_pipeline import results
from mnist_pipeline.plumbing.files import write_text
from mnist_pipeline.results import ResultsError

START, END = "<!-- results:start -->", "<!-- results:end -->"
HEADER = ["model", "features", "estimator", "test acc [95% CI]", "val acc", "F1", "AP"]
HEADER += ["notebook", "cv acc ± sd", "notebook cv"]


def _percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def rows(rev: str) -> list[list[str]]:
    """One row of cells per scored model at ``rev``, in the leaderboard's order."""
    fs = results.open_revision(rev)
    params, datasets = (results.read_yaml(fs, name) for name in ("params.yaml", "datasets.yaml"))
    specs, scored = params.get("models") or {}, results.scored_models(fs)
    if missing := [m for m in specs if m not in scored] or ([] if scored else ["<model>"]):
        path = f"metrics/{missing[0]}/scores/test.json"
        raise ResultsError(f"{path}: missing at {rev}; run dvc repro")
    dataset = (datasets.get("datasets") or {}).get(params.get("dataset")) or {}
    references = dataset.get("references") or {}
    notebooks = references.get("test") or params.get("notebooks") or {}
    notebooks_cv = references.get("cv") or params.get("notebook_cv") or {}
    found = []
    for model in scored:
        spec, scores = specs.get(model) or {}, results.model_scores(fs, model)
        test, cv, target = scores["test"], scores.get("cv"), spec.get("target")
        detector = target is not None
        cells = [
            model,
            str(spec.get("features", "?")),
            f"{spec.get('estimator', '?')}" + (f", is it a {target}" if detector else ""),
            f"{_percent(test['acc'])} [{100 * test['acc_lo']:.2f}, {100 * test['acc_hi']:.2f}]",
            _percent(scores.get("val", {}).get("acc")),
            f"{test['f1']:.3f}" if detector else "",
            f"{test['ap']:.3f}" if detector and "ap" in test else "",
            _percent(notebooks.get(model)),
            "" if cv is None else f"{_percent(cv['acc'])} ± {100 * cv['acc_sd']:.2f}",
            _percent(notebooks_cv.get(model)),
        ]
        found.append(((detector, -test["f1" if detector else "acc"], model), cells))
    return [cells for _, cells in sorted(found)]


def markdown(table: list[list[str]]) -> str:
    """The rows as a GitHub Markdown table, model names as code, numbers right-aligned."""
    lines = ["| " + " | ".join(HEADER) + " |", "|---|---|---|" + "---:|" * (len(HEADER) - 3)]
    lines += ["| " + " | ".join([f"`{name}`", *rest]) + " |" for name, *rest in table]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print or splice the leaderboard; 1 after a one-line error."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="leaderboard", description=__doc__)
    parser.add_argument("--rev", default=results.WORKSPACE, help="git revision or experiment name")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--readme", type=Path, help="rewrite this README's Results table")
    args = parser.parse_args(argv)
    try:
        table = rows(args.rev)
        if args.readme is None:
            text = results.aligned([HEADER, *table], {0, 1, 2})
            sys.stdout.write(markdown(table) if args.markdown else text)
            return 0
        head, start, rest = args.readme.read_text().partition(START)
        if not (start and END in rest):
            raise ResultsError(f"README has no {START} ... {END} section")
        write_text(args.readme, f"{head}{START}\n{markdown(table)}{rest[rest.index(END) :]}")
    except (ResultsError, OSError) as err:
        print(f"leaderboard: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
