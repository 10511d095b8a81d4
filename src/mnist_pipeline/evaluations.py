"""Each model's test predictions as the evaluate stages left them, read back by the stages over
every model (figures, overlays, summary).

Those stages depend on the whole ``stages/evaluate`` folder and loop over params.yaml's models,
so that a new model needs no other edit. Each ``predictions.npz`` is paired here with the
decoded test labels and its confusion matrix counted once, by ``mnist_pipeline.scoring``: the
numbers drawn are those of ``metrics/<model>/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_pipeline.labels import class_names, task_labels
from mnist_pipeline.plumbing.files import load_arrays
from mnist_pipeline.plumbing.params import Model
from mnist_pipeline.scoring import accuracy, confusion, rounded

CURVE = ("curve_precision", "curve_recall")
"""The arrays of a detector's test precision-recall curve in its predictions.npz."""


class EvaluationError(ValueError):
    """A predictions.npz that does not fit the test split it should be of."""


@dataclass(frozen=True)
class Evaluation:
    """One model's predictions on the test split, beside the labels it learnt."""

    model: Model
    names: list[str]
    """The names of its task's classes: the dataset's, or ``not_5``, ``5`` for a detector."""
    y_true: np.ndarray
    y_pred: np.ndarray
    matrix: np.ndarray
    curve: tuple[np.ndarray, np.ndarray] | None
    """A detector's precision-recall curve (precision, recall); None for a classifier."""

    @property
    def detector(self) -> bool:
        """Whether the model is a one-vs-rest detector of its ``target`` class."""
        return self.model.target is not None

    @property
    def accuracy(self) -> float:
        """Test accuracy, rounded as ``scores/test.json`` reports it."""
        return rounded(accuracy(self.matrix))


def load_evaluation(
    model: Model, folder: Path, labels: np.ndarray, classes: Sequence[str]
) -> Evaluation:
    """``model``'s evaluation in ``folder`` (its ``predictions.npz``) against the dataset's
    test ``labels``, whose classes are called ``classes``."""
    detector = model.target is not None
    path = folder / "predictions.npz"
    arrays = load_arrays(path, ("test_pred", *(CURVE if detector else ())))
    y_pred = arrays["test_pred"].astype(np.int64)
    if len(y_pred) != len(labels):
        raise EvaluationError(
            f"{path} holds {len(y_pred)} predictions, but the test split has {len(labels)} "
            "labels: they should be the same split"
        )
    names = class_names(model.target, classes)
    y_true = task_labels(labels, model.target)
    return Evaluation(
        model=model,
        names=names,
        y_true=y_true,
        y_pred=y_pred,
        matrix=confusion(y_true, y_pred, len(names)),
        curve=(arrays[CURVE[0]], arrays[CURVE[1]]) if detector else None,
    )


def load_evaluations(
    models: Iterable[Model], evaluations: Path, labels: np.ndarray, classes: Sequence[str]
) -> list[Evaluation]:
    """Every model's evaluation, from ``evaluations/<model>/``, in the order given."""
    return [load_evaluation(m, evaluations / m.name, labels, classes) for m in models]
