"""The pictures drawn once per run, over the data and all models, from files other stages wrote.

Into one folder:

- ``digits.png``: the first ``figures.samples_per_digit`` training images of each class;
- ``accuracy.png``: every model's test accuracy (as its scores/test.json reports it), detectors
  apart (their task is binary), with the selected dataset's published accuracies as ticks
  (none when it has none).

Each model's accuracy is counted from its predictions in the evaluate stages' folder, which the
summary stage depends on as a whole: a model added to params.yaml is drawn with no edit to
dvc.yaml. The charts DVC draws (PCA variance, loss per epoch, confusion matrices, the
overlays) are not drawn again here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_pipeline.evaluations import Evaluation, load_evaluations
from mnist_pipeline.plumbing.drawing import new_figure, save_png, styled
from mnist_pipeline.plumbing.files import atomic_dir, load_arrays
from mnist_pipeline.labels import DIGITS, check_classes
from mnist_pipeline.plumbing.params import Params, ParamsError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger("summary")


def samples_per_digit(
    labels: np.ndarray, per_digit: int, classes: Sequence[str] = DIGITS, noun: str = "digit"
) -> np.ndarray:
    """Indices of the first ``per_digit`` items of each class (label 0 to ``len(classes)`` - 1):
    row c holds class c's. ``noun`` is what the error calls a class ("digit")."""
    rows = []
    for label, name in enumerate(classes):
        found = np.flatnonzero(labels == label)[:per_digit]
        if len(found) < per_digit:
            raise ValueError(
                f"only {len(found)} training images of {noun} {name}, "
                f"fewer than figures.samples_per_digit = {per_digit}"
            )
        rows.append(found)
    return np.stack(rows)


@styled
def digits_figure(
    images: np.ndarray, title: str, row_labels: Sequence[str] | None = None
) -> Figure:
    """A grid of images: ``images`` is classes x samples x height x width, one row per class,
    labelled by ``row_labels`` (default: 0, 1, ...)."""
    digits, per_digit, height, width = images.shape
    pad = 2
    mosaic = np.zeros((digits * (height + pad), per_digit * (width + pad)), dtype=np.uint8)
    for d in range(digits):
        for s in range(per_digit):
            top, left = d * (height + pad), s * (width + pad)
            mosaic[top : top + height, left : left + width] = images[d, s]
    if row_labels is None:
        row_labels = [str(d) for d in range(digits)]
    margin = max(0.5, 0.2 + 0.08 * max(len(label) for label in row_labels))  # inches for labels
    fig_w = margin + 0.55 * per_digit
    fig_h = 0.4 + (fig_w - margin) * mosaic.shape[0] / mosaic.shape[1]
    figure = new_figure(fig_w, fig_h, constrained=False)
    ax = figure.add_axes((margin / fig_w, 0.0, 1.0 - margin / fig_w, 1.0 - 0.4 / fig_h))
    ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=255, aspect="auto")
    ax.set_xticks([])
    ax.set_yticks([d * (height + pad) + height / 2 for d in range(digits)], list(row_labels))
    ax.tick_params(length=0, labelsize=10)
    ax.spines[:].set_visible(False)
    figure.suptitle(title, y=1.0 - 0.08 / fig_h, va="top", fontsize=10)
    return figure


@styled
def accuracy_figure(
    names: list[str],
    accuracy: list[float],
    detector: list[bool],
    notebook: list[float | None],
    reference: str = "the notebook's reported accuracy",
    classifier: str = "10-digit classifier",
) -> Figure:
    """Horizontal bars of test accuracy, one per model in params.yaml's order, detectors in
    another colour, the published numbers (``notebook``, described by ``reference``) as ticks;
    ``classifier`` is the legend of the models of every class."""
    figure = new_figure(7.5, 1.4 + 0.36 * len(names))
    ax = figure.add_subplot()
    y = np.arange(len(names))[::-1]
    colours = ["C1" if d else "C0" for d in detector]
    ax.barh(y, accuracy, color=colours, height=0.65)
    low = min(0.9, float(np.floor((min(accuracy) - 0.02) * 20) / 20)) if accuracy else 0.9
    for yi, value in zip(y, accuracy, strict=True):
        ax.text(value + 0.002, yi, f"{100 * value:.2f}%", va="center", fontsize=8.5)
    marks = [(yi, value) for yi, value in zip(y, notebook, strict=True) if value is not None]
    if marks:
        ax.plot(
            [v for _, v in marks],
            [yi for yi, _ in marks],
            "|",
            color="black",
            markersize=16,
            markeredgewidth=2,
            label=reference,
        )
    ax.set_yticks(y, names)
    ax.set_xlim(low, 1.0)
    ax.xaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    ax.set_xlabel(f"accuracy on the test split (axis starts at {100 * low:.0f}%)")
    ax.set_title("test accuracy of every model")
    from matplotlib.patches import Patch

    handles = [
        Patch(color="C0", label=classifier),
        Patch(color="C1", label="'is it a d' detector (binary task: not comparable)"),
    ]
    if marks:
        handles.append(ax.get_legend_handles_labels()[0][0])
    figure.legend(
        handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False
    )
    return figure


def model_results(params: Params, evaluations: Sequence[Evaluation]) -> dict[str, list]:
    """Test accuracy, detector flag and published number (of the selected dataset's
    references) of each model, in params order."""
    return {
        "names": [e.model.name for e in evaluations],
        "accuracy": [e.accuracy for e in evaluations],
        "detector": [e.detector for e in evaluations],
        "notebook": [params.dataset.references.test.get(e.model.name) for e in evaluations],
    }


def draw_summary(params: Params, images_path: Path, evaluations: Path, test: Path, out: Path) -> None:
    """Draw the pictures into ``out`` (replaced as a whole) from the decoded training images
    and every model's predictions in ``evaluations`` against the decoded test split ``test``."""
    settings, dataset = params.figures, params.dataset
    decoded = load_arrays(images_path, ("images", "labels"))
    check_classes({str(images_path): decoded["labels"]}, dataset.classes, dataset.key)
    picked = samples_per_digit(
        decoded["labels"], settings.samples_per_digit, dataset.classes, dataset.class_noun
    )
    labels = load_arrays(test, ("labels",))["labels"]
    found = load_evaluations(params.models.values(), evaluations, labels, dataset.classes)
    results = model_results(params, found)
    legends = {
        "reference": f"{dataset.references.source} reported accuracy",
        "classifier": f"{len(dataset.classes)}-{dataset.class_noun} classifier",
    }

    dpi = settings.dpi
    with atomic_dir(out) as tmp:
        save_png(
            digits_figure(
                decoded["images"][picked],
                f"the first {settings.samples_per_digit} training images of each "
                f"{dataset.class_noun}",
                dataset.classes,
            ),
            tmp / "digits.png",
            dpi,
        )
        save_png(accuracy_figure(**results, **legends), tmp / "accuracy.png", dpi)
    log.info(
        "test accuracy of %d models: %s; pictures in %s",
        len(found),
        ", ".join(f"{e.model.name} {e.accuracy:.4f}" for e in found),
        out,
    )
