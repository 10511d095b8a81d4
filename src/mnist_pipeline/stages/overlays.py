"""Every model's test results in one table per overlay chart (stage ``overlays``).

Into one folder, each table with a ``model`` column, models in params.yaml's order:

- ``per_class.csv``: ``model,class,test``, each class's test accuracy, for every model of all
  classes (a detector's two classes are another task);
- ``pr_curve.csv``: ``model,recall,precision``, the test precision-recall curve of every
  detector, in the order ``evaluate`` computed it.

The values are those of each model's own ``metrics/<model>/per_class.csv`` and
``pr_curve.csv``, counted by ``mnist_pipeline.scoring`` from the same predictions. One table
per chart, whatever the models, is what lets `dvc plots show` draw a new model with no edit to
dvc.yaml, one colour per model (the templates in .dvc/plots/).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from mnist_pipeline.evaluations import Evaluation, load_evaluations
from mnist_pipeline.plumbing.files import csv_text, load_arrays, write_text
from mnist_pipeline.labels import check_classes
from mnist_pipeline.plumbing.params import Dataset, Model
from mnist_pipeline.scoring import per_class_scores, rounded

log = logging.getLogger("overlays")


def per_class_table(evaluations: Sequence[Evaluation]) -> str:
    """``model,class,test``: each class's test accuracy (its recall) of every classifier."""
    rows = [
        [e.model.name, name, rounded(recall)]
        for e in evaluations
        if not e.detector
        for name, recall in zip(e.names, per_class_scores(e.matrix)[1], strict=True)
    ]
    return csv_text(["model", "class", "test"], rows)


def pr_curve_table(evaluations: Sequence[Evaluation]) -> str:
    """``model,recall,precision``: every detector's test precision-recall curve."""
    rows = [
        [e.model.name, rounded(recall), rounded(precision)]
        for e in evaluations
        if e.curve is not None
        for precision, recall in zip(*e.curve, strict=True)
    ]
    return csv_text(["model", "recall", "precision"], rows)


def write_overlays(
    models: Sequence[Model], evaluations: Path, test: Path, dataset: Dataset, out: Path
) -> None:
    """Write ``out``/per_class.csv and pr_curve.csv from ``evaluations/<model>/`` (the evaluate
    stages' folder) and the decoded test split ``test``, whose labels must run over
    ``dataset``'s classes (``check_classes``)."""
    labels = load_arrays(test, ("labels",))["labels"]
    check_classes({str(test): labels}, dataset.classes, dataset.key)
    found = load_evaluations(models, evaluations, labels, dataset.classes)
    write_text(out / "per_class.csv", per_class_table(found))
    write_text(out / "pr_curve.csv", pr_curve_table(found))
    detectors = [e.model.name for e in found if e.detector]
    log.info(
        "%d classifiers and %d detectors side by side in %s",
        len(found) - len(detectors),
        len(detectors),
        out,
    )
