"""Each model's gallery of mistakes on the test split, drawn from what ``evaluate`` saved.

For every model, ``<out>/<model>/misclassified.png``: the first ``figures.misclassified``
misclassified test images, in test order, each captioned "actual -> predicted" with the
dataset's class names. The charts of an evaluation (confusion matrix, per-class accuracy,
precision-recall curve) are DVC plots of its metrics/ tables, drawn by `dvc plots show`;
only images are PNGs.

Nothing here fits or scores a model again: the predictions come from ``evaluate``'s
predictions.npz, read by ``mnist_pipeline.evaluations``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_pipeline.evaluations import Evaluation, load_evaluations
from mnist_pipeline.labels import DIGITS, plural
from mnist_pipeline.plumbing.drawing import new_figure, save_png, styled
from mnist_pipeline.plumbing.files import atomic_dir, load_arrays
from mnist_pipeline.labels import DIGITS, check_classes, class_names, plural, task_labels
from mnist_pipeline.plumbing.params import Dataset, Figures, Model

if TYPE_CHECKING:
    from matplotlib.figure import Figure

GALLERY_COLUMNS = 10
CAPTION_FONT = 7.5
CAPTION_CHARACTERS = 14
"""Captions up to this long fit a gallery cell at ``CAPTION_FONT`` points; longer ones (class
names such as "T-shirt/top -> Ankle boot") are set smaller, down to ``MIN_CAPTION_FONT``."""
MIN_CAPTION_FONT = 4.5
log = logging.getLogger("figures")


class FiguresError(ValueError):
    """The evaluation outputs do not fit together (lengths, labels)."""


def misclassified(y_true: np.ndarray, y_pred: np.ndarray, limit: int) -> np.ndarray:
    """Indices of the first ``limit`` test items whose prediction is wrong, in test order."""
    if len(y_true) != len(y_pred):
        raise FiguresError(f"{len(y_true)} labels but {len(y_pred)} predictions")
    return np.flatnonzero(np.asarray(y_true) != np.asarray(y_pred))[: max(limit, 0)]


def captions(
    labels: np.ndarray, y_pred: np.ndarray, names: list[str], classes: Sequence[str] = DIGITS
) -> list[str]:
    """Captions "actual -> predicted" for each item: the actual label's class name (of
    ``classes``), the predicted class's name in ``names`` ("5" or "not 5" for a detector of 5)."""
    return [
        f"{classes[int(d)]} -> {names[int(p)].replace('_', ' ')}"
        for d, p in zip(labels, y_pred, strict=True)
    ]


def caption_font(labels: Sequence[str]) -> float:
    """The font size at which the longest caption fits its gallery cell."""
    longest = max((len(text) for text in labels), default=0)
    if longest <= CAPTION_CHARACTERS:
        return CAPTION_FONT
    return max(MIN_CAPTION_FONT, CAPTION_FONT * CAPTION_CHARACTERS / longest)


@styled
def gallery_figure(
    images: np.ndarray,
    labels: list[str],
    title: str,
    columns: int = GALLERY_COLUMNS,
    noun: str = "digits",
) -> Figure:
    """Images in a grid, dark ink on white, each with its caption underneath: one image
    drawn once (fast), whatever the number of images. An empty grid says "no misclassified
    test <noun>"."""
    images = np.asarray(images)
    rows = max(1, -(-len(images) // columns))
    height, width = images.shape[1:] if len(images) else (28, 28)
    caption = height // 2
    cell_h, cell_w = height + caption, width + 4
    mosaic = np.zeros((rows * cell_h, columns * cell_w), dtype=np.uint8)
    for i, image in enumerate(images):
        top, left = (i // columns) * cell_h, (i % columns) * cell_w + 2
        mosaic[top : top + height, left : left + width] = image
    fig_w = 0.78 * columns
    fig_h = fig_w * mosaic.shape[0] / mosaic.shape[1] + 0.45
    figure = new_figure(fig_w, fig_h, constrained=False)
    ax = figure.add_axes((0.0, 0.0, 1.0, 1.0 - 0.45 / fig_h))
    ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=255, aspect="auto")
    ax.set_axis_off()
    fontsize = caption_font(labels)
    for i, text in enumerate(labels):
        x = (i % columns) * cell_w + cell_w / 2 - 0.5
        y = (i // columns) * cell_h + height + caption / 2 - 1
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color="#b2182b")
    if not len(images):
        ax.text(
            0.5,
            0.5,
            f"no misclassified test {noun}",
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
    figure.suptitle(title, y=1.0 - 0.08 / fig_h, va="top", fontsize=10)
    return figure


def draw_figures(
    models: list[Model],
    settings: Figures,
    evaluations: Path,
    images_path: Path,
    out: Path,
    dataset: Dataset,
) -> None:
    """Draw each model's gallery into ``out/<model>`` from ``evaluations/<model>`` (the
    evaluate stages' predictions.npz) and the decoded test images of ``dataset``, whose class
    names and nouns the captions use (the labels must run over its classes:
    ``check_classes``); ``out`` is replaced as a whole."""
    decoded = load_arrays(images_path, ("images", "labels"))
    check_classes({str(images_path): decoded["labels"]}, dataset.classes, dataset.key)
    found = load_evaluations(models, evaluations, decoded["labels"], dataset.classes)
    with atomic_dir(out) as tmp:
        for evaluation in found:
            draw_gallery(evaluation, settings, decoded, tmp / evaluation.model.name, dataset)
    log.info("pictures of %d models in %s", len(found), out)


def draw_gallery(
    evaluation: Evaluation,
    settings: Figures,
    decoded: dict[str, np.ndarray],
    out: Path,
    dataset: Dataset,
) -> None:
    """Draw one model's misclassified.png into the new folder ``out``."""
    name, y_true, y_pred = evaluation.model.name, evaluation.y_true, evaluation.y_pred
    images_noun = plural(dataset.image_noun)
    n_wrong = int(np.count_nonzero(y_true != y_pred))
    shown = misclassified(y_true, y_pred, settings.misclassified)
    out.mkdir(parents=True)
    save_png(
        gallery_figure(
            decoded["images"][shown],
            captions(decoded["labels"][shown], y_pred[shown], evaluation.names, dataset.classes),
            f"{name}: {len(shown)} of {n_wrong} misclassified test "
            f"{images_noun}, in test order (actual -> predicted)",
            noun=images_noun,
        ),
        out / "misclassified.png",
        settings.dpi,
    )
    log.info(
        "%s: %d of %d test %s misclassified, %d shown",
        name,
        n_wrong,
        len(y_true),
        images_noun,
        len(shown),
    )
