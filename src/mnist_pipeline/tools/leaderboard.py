"""The leaderboard: one row per model of a revision, as an aligned text table or Markdown, and
the README's Results section that is that Markdown table.

Rows are sorted: the 10-class models by test accuracy, best first, then the one-vs-rest
detectors by their positive class's test F1, best first (a detector's accuracy mostly says how
rare its class is); ties by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mnist_pipeline.tools.revisions import (
    Revision,
    RevisionError,
    model_specs,
    notebook_accuracies,
    scored_models,
)
from mnist_pipeline.tools.scores import (
    CrossValidation,
    TestScores,
    ValScores,
    percent,
    read_cv_scores,
    read_test_scores,
    read_val_scores,
)

START, END = "<!-- results:start -->", "<!-- results:end -->"
HEADER = (
    "model",
    "features",
    "estimator",
    "test acc [95% CI]",
    "val acc",
    "F1",
    "AP",
    "notebook",
    "cv acc ± sd",
    "notebook cv",
)
"""F1 and AP are the detectors' positive class on test; "notebook" the notebook's test
accuracy; "cv acc ± sd" the mean and standard deviation of the cross-validation folds'
accuracies on the training split (models with ``cv``), "notebook cv" the notebook's."""
RIGHT_ALIGNED = frozenset(HEADER[3:])


@dataclass(frozen=True)
class Row:
    """One model's line of the leaderboard."""

    name: str
    features: str
    estimator: str
    target: int | None
    test: TestScores
    val: ValScores | None
    notebook: float | None
    cv: CrossValidation | None = None
    notebook_cv: float | None = None

    @property
    def is_detector(self) -> bool:
        """Whether the model is a one-vs-rest detector (it has a ``target``)."""
        return self.target is not None

    def cells(self) -> tuple[str, ...]:
        """The row's text, one string per column of ``HEADER`` (F1 and AP for detectors only,
        val accuracy and notebook empty where there is none)."""
        estimator = self.estimator
        if self.is_detector:
            estimator += f", is it a {self.target}"
        detector_only = (
            (f"{self.test.f1:.3f}", "" if self.test.ap is None else f"{self.test.ap:.3f}")
            if self.is_detector
            else ("", "")
        )
        return (
            self.name,
            self.features,
            estimator,
            str(self.test.accuracy),
            "" if self.val is None else percent(self.val.acc),
            *detector_only,
            "" if self.notebook is None else percent(self.notebook),
            "" if self.cv is None else str(self.cv),
            "" if self.notebook_cv is None else percent(self.notebook_cv),
        )


def sort_key(row: Row) -> tuple[bool, float, str]:
    """10-class models first, by test accuracy descending; then detectors by test F1
    descending; then by name."""
    score = row.test.f1 if row.is_detector else row.test.accuracy.acc
    return row.is_detector, -score, row.name


def leaderboard(revision: Revision) -> list[Row]:
    """The sorted rows of every model of params.yaml at ``revision`` (and of any other model
    with committed scores there). RevisionError if a model of params.yaml has no scores or
    the revision has no model at all."""
    specs = model_specs(revision)
    scored = scored_models(revision)
    missing = [name for name in specs if name not in scored]
    if missing:
        raise RevisionError(
            f"metrics/{missing[0]}/scores/test.json: missing at "
            f"{revision.label}; run `dvc repro` first"
        )
    if not scored:
        raise RevisionError(f"no model has metrics/<model>/scores/test.json at {revision.label}")
    notebooks = notebook_accuracies(revision)
    notebooks_cv = notebook_accuracies(revision, "notebook_cv")
    rows = []
    for name in scored:
        spec = specs.get(name)
        rows.append(
            Row(
                name=name,
                features=spec.features if spec else "?",
                estimator=spec.estimator if spec else "?",
                target=spec.target if spec else None,
                test=read_test_scores(revision, name),
                val=read_val_scores(revision, name),
                notebook=notebooks.get(name),
                cv=read_cv_scores(revision, name),
                notebook_cv=notebooks_cv.get(name),
            )
        )
    return sorted(rows, key=sort_key)


def markdown_table(rows: list[Row]) -> str:
    """The rows as a GitHub Markdown table, model names as code."""
    lines = [
        "| " + " | ".join(HEADER) + " |",
        "|" + "|".join("---:" if h in RIGHT_ALIGNED else "---" for h in HEADER) + "|",
    ]
    for row in rows:
        name, *rest = row.cells()
        lines.append("| " + " | ".join((f"`{name}`", *rest)) + " |")
    return "\n".join(lines) + "\n"


def text_table(rows: list[Row]) -> str:
    """The rows as columns aligned with spaces, numbers right-aligned, for a terminal."""
    table = [HEADER, *(row.cells() for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    out = []
    for line in table:
        cells = [
            cell.rjust(w) if h in RIGHT_ALIGNED else cell.ljust(w)
            for cell, w, h in zip(line, widths, HEADER, strict=True)
        ]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out) + "\n"


def splice(readme: str, table: str) -> str:
    """Replace what stands between the README's results markers with ``table``."""
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(readme):
        raise ValueError(f"README has no {START} ... {END} section")
    return pattern.sub(lambda _: f"{START}\n{table}{END}", readme)
