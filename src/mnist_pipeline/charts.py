"""What the stages over every model share: each model's test predictions from evaluate, and
matplotlib PNGs whose bytes depend only on the data (git sees no change when nothing changed)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_pipeline.labels import check_classes, class_names, task_labels
from mnist_pipeline.params import Dataset, Model
from mnist_pipeline.plumbing.files import atomic_file, load_arrays
from mnist_pipeline.scoring import accuracy, confusion, rounded

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# over matplotlib's default style, whatever a matplotlibrc says: with matplotlib and Pillow
# pinned, the same figure is then the same PNG bytes
STYLE = {
    "font.size": 9.0,
    "axes.titlesize": 10.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "image.interpolation": "nearest",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Within the block (or the decorated function: artists read rcParams when they are created):
    matplotlib's default style plus ``STYLE``, ignoring any matplotlibrc."""
    import matplotlib.style  # here: only the stages that draw pay for matplotlib

    with matplotlib.style.context(["default", STYLE]):
        yield


def new_figure(width: float, height: float, *, constrained: bool = True) -> Figure:
    """A bare figure (no pyplot, no GUI backend) of ``width`` x ``height`` inches."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained" if constrained else None)


def png_bytes(figure: Figure, dpi: int) -> bytes:
    """The figure as PNG, without the "Software" chunk that would name matplotlib's version."""
    buffer = io.BytesIO()
    with style():
        figure.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    return buffer.getvalue()


def save_png(figure: Figure, dest: Path, dpi: int) -> None:
    """Write the figure's PNG to ``dest`` atomically."""
    with atomic_file(dest) as tmp:
        tmp.write_bytes(png_bytes(figure, dpi))


def load_labelled(path: Path, dataset: Dataset, names: tuple[str, ...] = ("labels",)) -> dict:
    """The arrays ``names`` of a decoded split, its labels checked against the dataset's classes."""
    arrays = load_arrays(path, names)
    check_classes({str(path): arrays["labels"]}, dataset.classes, dataset.key)
    return arrays


@dataclass(frozen=True)
class Evaluation:
    """One model's test predictions against its task's labels (a detector's are 0/1)."""

    model: Model
    names: list[str]  # its task's class names: the dataset's, or "not_5", "5" for a detector
    y_true: np.ndarray
    y_pred: np.ndarray
    matrix: np.ndarray
    curve: tuple[np.ndarray, np.ndarray] | None  # a detector's (precision, recall) on test
    detector: bool  # a one-vs-rest detector of its model's ``target`` class
    accuracy: float  # rounded as scores/test.json reports it


def load_evaluations(
    models: Iterable[Model], folder: Path, labels: np.ndarray, classes: Sequence[str]
) -> list[Evaluation]:
    """Each model's ``folder/<model>/predictions.npz`` against the test ``labels``, in the order
    given; predictions of another split are refused."""
    found = []
    for model in models:
        path = folder / model.name / "predictions.npz"
        curve = ("curve_precision", "curve_recall") if model.target is not None else ()
        arrays = load_arrays(path, ("test_pred", *curve))
        y_pred = arrays["test_pred"].astype(np.int64)
        if len(y_pred) != len(labels):
            raise ValueError(
                f"{path} holds {len(y_pred)} predictions, but the test split has {len(labels)} "
                "labels: they should be the same split"
            )
        names = class_names(model.target, classes)
        y_true = task_labels(labels, model.target)
        matrix = confusion(y_true, y_pred, len(names))
        pr = (arrays[curve[0]], arrays[curve[1]]) if curve else None
        score = rounded(accuracy(matrix))
        found.append(Evaluation(model, names, y_true, y_pred, matrix, pr, bool(curve), score))
    return found
