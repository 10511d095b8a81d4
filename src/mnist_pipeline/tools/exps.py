"""The `dvc exp show` table narrowed to what a sweep changes, so that it fits a terminal: one
row per baseline commit and experiment, the params.yaml keys whose value differs between the
rows, and for each model whose scores differ, its test and val accuracy in one column.

dvc's own table has a column per params key, per metric and per dependency's hash, each
named by its file (``metrics/knn/scores/test.json:acc``): a sweep of ten points is hundreds
of characters wide. The full table stays a `dvc exp show --csv` away (`make exps-csv`).
"""

from __future__ import annotations

import io
import json
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mnist_pipeline.plumbing.files import write_text
from mnist_pipeline.tools.sweep import Experiment, ModelScores, value_order

WIDTH = 100
"""The note under the table is wrapped to this many columns."""

SPLITS_NOTE = "test/val"


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _accuracies(scores: ModelScores | None) -> str:
    """``97.56/97.84``: test and val accuracy in percent (val empty without a val split)."""
    if scores is None:
        return ""
    val = "" if scores.val is None else f"{100 * scores.val.acc:.2f}"
    return f"{100 * scores.test.acc:.2f}/{val}"


def changed_params(rows: Sequence[Experiment]) -> list[str]:
    """The params keys whose value is not the same in every row, in params.yaml's order."""
    keys = list(dict.fromkeys(key for row in rows for key in row.params))
    return [key for key in keys if len({_value(row.params.get(key)) for row in rows}) > 1]


def changed_models(rows: Sequence[Experiment]) -> tuple[list[str], list[str]]:
    """The models whose test or val accuracy differs between the rows that have scores, and
    the models that are the same in every such row."""
    scored = [row for row in rows if row.scores]
    names = list(dict.fromkeys(name for row in scored for name in row.scores))
    differ = [name for name in names if len({_accuracies(r.scores.get(name)) for r in scored}) > 1]
    return differ, [name for name in names if name not in differ]


def exps_table(rows: Sequence[Experiment]) -> str:
    """The rows as an aligned text table (pandas' ``to_string``), each
    baseline before its experiments, these in the order of the changed params' values; then
    a note naming the models left out because they did not change."""
    import pandas as pd

    params = changed_params(rows)
    models, same = changed_models(rows)
    rows = sorted(
        rows,
        key=lambda row: (
            row.baseline,
            row.state != "baseline",
            *(value_order(row.params.get(key)) for key in params),
            row.name,
        ),
    )
    show_state = any(row.state not in ("baseline", "success") for row in rows)
    records = []
    for row in rows:
        record = {"experiment": row.name}
        if show_state:
            record["state"] = row.state
        record.update({key: _value(row.params.get(key, "")) for key in params})
        record.update({name: _accuracies(row.scores.get(name)) for name in models})
        records.append(record)
    frame = pd.DataFrame(records)
    # to_string right-aligns every column and parts them by one space; the words go left.
    for column in frame.columns[: 2 if show_state else 1]:
        width = max(len(column), *frame[column].str.len())
        frame[column] = frame[column].str.ljust(width)
        frame = frame.rename(columns={column: column.ljust(width)})
    table = "\n".join(line.rstrip() for line in frame.to_string(index=False).splitlines())
    note = f"Accuracy (%) {SPLITS_NOTE} of each model whose scores differ between the rows"
    note += f"; the same in every row: {', '.join(same)}." if same else "."
    if not params:
        note += " No params key differs between the rows."
    return f"{table}\n\n" + textwrap.fill(note, WIDTH) + "\n"


def write_csv(text: str, dest: Path) -> str:
    """Check that pandas reads ``text`` as a table, write it to ``dest`` (whole or not at
    all) and say how large it is."""
    import pandas as pd

    table = pd.read_csv(io.StringIO(text))
    write_text(dest, text)
    return f"{dest}: {len(table)} rows (commits and experiments) x {len(table.columns)} columns"
