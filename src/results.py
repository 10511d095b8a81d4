"""Write the README's Results table from metrics/ (never typed by hand)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from mnist_pipeline.files import write_text
from mnist_pipeline.params import ParamsError, load_params

START, END = "<!-- results:start -->", "<!-- results:end -->"


def _pct(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def results_table(metrics_dir: Path, params_path: Path) -> str:
    """One row per model of params.yaml: what it is, val/test accuracy, the notebook's number,
    and for detectors the positive class's precision/recall/F1 on test."""
    params = load_params(params_path)
    rows = [
        "| model | features | estimator | val accuracy | test accuracy | notebook | "
        "test P / R / F1 (detectors) |",
        "|---|---|---|---:|---:|---:|---|",
    ]
    for name, model in params.models.items():
        scores = metrics_dir / name / "scores"
        if not (scores / "test.json").is_file():
            raise FileNotFoundError(f"{scores / 'test.json'}: no metrics for model {name}; "
                                    "run `dvc repro` first")
        test = json.loads((scores / "test.json").read_text())
        # A model trained on every training image (gd_4, raw.validation 0) has no val split.
        val_path = scores / "val.json"
        val = json.loads(val_path.read_text()) if val_path.is_file() else {}
        detector = (
            f"{test['p']:.3f} / {test['r']:.3f} / {test['f1']:.3f}"
            if model.target is not None else ""
        )
        kind = model.estimator
        if model.target is not None:
            kind += f", is it a {model.target}"
        rows.append(
            f"| `{name}` | {model.features} | {kind} | {_pct(val.get('acc'))} | "
            f"{_pct(test['acc'])} | {_pct(params.notebooks.get(name))} | {detector} |"
        )
    return "\n".join(rows) + "\n"


def splice(readme: str, table: str) -> str:
    """Replace what stands between the README's results markers with ``table``."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(readme):
        raise ValueError(f"README has no {START} ... {END} section")
    return pattern.sub(lambda _: f"{START}\n{table}{END}", readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", type=Path, required=True, help="the metrics/ folder")
    parser.add_argument("--params", type=Path, required=True, help="params.yaml")
    parser.add_argument("--readme", type=Path, help="README to update in place (else: print)")
    args = parser.parse_args(argv)
    try:
        table = results_table(args.metrics, args.params)
        if args.readme is None:
            sys.stdout.write(table)
        else:
            write_text(args.readme, splice(args.readme.read_text(), table))
    except (ParamsError, FileNotFoundError, ValueError) as err:
        print(f"results: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
