"""Print `dvc exp show` cut to a terminal's width (`make exps`): a row per commit and experiment
(of HEAD, --rev, or all with -A), the params that differ and each changed model's test/val
accuracy (`97.56/97.84`)."""

import argparse
import sys
import textwrap
from pathlib import Path

import pandas as pd

from mnist_pipeline.results import ResultsError, aligned, experiments, shown


def accuracies(scores: dict) -> str:
    """``97.56/97.84``: test and val accuracy in percent (val empty without a val split)."""
    val = scores.get("val", {}).get("acc")
    return f"{100 * scores['test']['acc']:.2f}/" + ("" if val is None else f"{100 * val:.2f}")


def table(rows: list[dict]) -> str:
    """The rows with the params and models that differ, and a note on what was left out."""
    cells = pd.DataFrame(
        [
            {"experiment": r["name"], "state": r["state"]}
            | {k: shown(v) for k, v in r["params"].items()}
            | {f"model {m}": accuracies(s) for m, s in r["scores"].items()}
            for r in rows
        ]
    ).fillna("")
    scored = cells[[bool(r["scores"]) for r in rows]]
    params = [c for c in cells.columns[2:] if not c.startswith("model ") and cells[c].nunique() > 1]
    models = [c for c in cells.columns if c.startswith("model ") and scored[c].nunique() > 1]
    same = [c[6:] for c in cells.columns if c.startswith("model ") and c not in models]
    # each baseline before its experiments, these in the order of the changed values
    cells["_base"] = [(r["baseline"], r["state"] != "baseline") for r in rows]
    cells = cells.sort_values(["_base", *params, "experiment"], key=_numeric)
    show_state = not cells["state"].isin(["baseline", "success"]).all()
    keep = ["experiment", *(["state"] * show_state), *params, *models]
    header = [column.removeprefix("model ") for column in keep]
    text = aligned([header, *cells[keep].values.tolist()], range(1 + show_state), " ")
    note = "Accuracy (%) test/val of each model whose scores differ between the rows"
    note += f"; the same in every row: {', '.join(same)}." if same else "."
    note += "" if params else " No params key differs between the rows."
    return text + "\n" + textwrap.fill(note, 100) + "\n"


def _numeric(column: pd.Series) -> pd.Series:
    """Sort numbers by value: a params column of JSON numbers as floats."""
    if column.name in ("_base", "experiment"):
        return column
    return pd.to_numeric(column, errors="coerce").fillna(float("inf"))


def main(argv: list[str] | None = None) -> int:
    """Print the narrowed table; 1 after a one-line error."""
    parser = argparse.ArgumentParser(prog="exps", description=__doc__)
    parser.add_argument("--rev", metavar="COMMIT", help="experiments of this baseline commit")
    parser.add_argument("-A", "--all-commits", action="store_true", help="of every commit")
    parser.add_argument("--from-json", type=Path, help="a saved `dvc exp show --json`")
    args = parser.parse_args(argv)
    try:
        if not (runs := experiments(args.from_json, args.all_commits, args.rev, baselines=True)):
            raise ResultsError("no commit or experiment to show")
        sys.stdout.write(table(runs))
    except (ResultsError, OSError, ValueError) as err:
        print(f"exps: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
