"""Pictures of each model's evaluation on the test split, drawn from what ``evaluate`` saved.

For every model, into ``<out>/<model>/``:

- ``confusion.png``: the confusion matrix as a heatmap (counts written in the cells);
- ``misclassified.png``: the first ``figures.misclassified`` misclassified test images, in
  test order, each captioned "actual -> predicted" with the dataset's class names;
- for a detector only, ``precision_recall.png``: the precision-recall curve ``evaluate``
  computed from its scores, with the point its predictions sit at (the estimator's default
  threshold) marked.

Nothing here fits or scores a model again: the predictions, scores, curve and average
precision come from ``evaluate``'s predictions.npz, and every number drawn from them
(confusion counts, accuracy, precision and recall) from ``mnist_pipeline.scoring``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_pipeline.plumbing.drawing import new_figure, save_png, styled
from mnist_pipeline.plumbing.files import atomic_dir, load_arrays
from mnist_pipeline.labels import DIGITS, check_classes, class_names, plural, task_labels
from mnist_pipeline.plumbing.params import Dataset, Figures, Model
from mnist_pipeline.scoring import accuracy, confusion, per_class_scores

if TYPE_CHECKING:
    from matplotlib.figure import Figure

GALLERY_COLUMNS = 10
CAPTION_FONT = 7.5
CAPTION_CHARACTERS = 14
"""Captions up to this long fit a gallery cell at ``CAPTION_FONT`` points; longer ones (class
names such as "T-shirt/top -> Ankle boot") are set smaller, down to ``MIN_CAPTION_FONT``."""
MIN_CAPTION_FONT = 4.5
SQUARE_TICKS = 5
"""Confusion tick labels up to this long stay horizontal; longer class names are slanted."""
log = logging.getLogger("figures")


class FiguresError(ValueError):
    """The evaluation outputs do not fit together (lengths, labels)."""


@dataclass(frozen=True)
class Threshold:
    """Where a detector's default decision lies on the score ``evaluate`` saved."""

    value: float
    score: str
    """``decision_function`` or ``predict_proba`` (of the positive class), as ``evaluate``
    recorded it."""

    @property
    def rule(self) -> str:
        """The rule ``predict`` applies, e.g. ``decision_function > 0``."""
        return f"{self.score} > {self.value:g}"


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


def operating_point(matrix: np.ndarray) -> tuple[float, float | None]:
    """(recall, precision) of a detector's positive class, from its 2 x 2 confusion matrix as
    ``scoring`` computes them; precision is None (undefined) when nothing is predicted positive
    (scores/test.json reports 0 there)."""
    precision, recall, _ = per_class_scores(np.asarray(matrix))
    predicted = int(np.asarray(matrix)[:, 1].sum())
    return float(recall[1]), (float(precision[1]) if predicted else None)


@styled
def confusion_figure(matrix: np.ndarray, names: list[str], title: str) -> Figure:
    """Heatmap of a confusion matrix (rows actual, columns predicted). The colour is the share
    of the row's actual class on a power scale, so that a handful of errors still shows; the
    cells print the counts."""
    from matplotlib.colors import PowerNorm

    matrix = np.asarray(matrix)
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    norm = PowerNorm(gamma=0.35, vmin=0.0, vmax=1.0)
    extra = 0.3 * max(0, len(names) - 10)  # inches for classes beyond ten
    figure = new_figure(5.6 + extra, 4.8 + extra)
    ax = figure.add_subplot()
    image = ax.imshow(share, cmap="Blues", norm=norm)
    labels = [name.replace("_", " ") for name in names]
    ticks = np.arange(len(names))
    small = len(names) <= 3
    if not small and max(len(label) for label in labels) > SQUARE_TICKS:
        ax.set_xticks(ticks, labels, rotation=40, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(ticks, labels)
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title)
    ax.spines[:].set_visible(False)
    for (row, col), count in np.ndenumerate(matrix):
        dark = norm(share[row, col]) > 0.6
        ax.text(
            col,
            row,
            f"{count:d}",
            ha="center",
            va="center",
            fontsize=11 if small else max(4.0, 7.5 * min(1.0, 10 / len(names))),
            color="white" if dark else "black",
        )
    bar = figure.colorbar(image, ax=ax, shrink=0.85)
    bar.set_label("share of the actual class (power scale)")
    return figure


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


@styled
def pr_curve_figure(
    precision: np.ndarray,
    recall: np.ndarray,
    point: tuple[float, float | None],
    threshold: Threshold,
    prevalence: float,
    title: str,
) -> Figure:
    """The precision-recall curve (a step plot, as scikit-learn draws it) with the default
    threshold's operating point marked and the precision of always saying "positive".

    A point without precision (nothing predicted positive) is drawn where scikit-learn's
    curve ends, at recall 0 and precision 1, and says so."""
    figure = new_figure(5.6, 4.6)
    ax = figure.add_subplot()
    ax.plot(recall, precision, drawstyle="steps-post", color="C0", label="precision-recall curve")
    ax.axhline(
        prevalence,
        color="0.5",
        linestyle="--",
        linewidth=1,
        label=f"always positive: precision {prevalence:.3f}",
    )
    point_recall, point_precision = point
    if point_precision is None:
        note = f"{threshold.rule}\nnothing predicted positive:\nrecall 0, precision undefined"
        point_precision = 1.0
    else:
        note = f"{threshold.rule}\nprecision {point_precision:.3f}, recall {point_recall:.3f}"
    ax.plot(
        [point_recall],
        [point_precision],
        "o",
        color="C3",
        markersize=8,
        label=f"default threshold: {threshold.rule}",
        clip_on=False,
        zorder=3,
    )
    right = point_recall < 0.5
    ax.annotate(
        note,
        xy=(point_recall, point_precision),
        xytext=(14 if right else -14, -30),
        textcoords="offset points",
        ha="left" if right else "right",
        va="top",
        fontsize=8.5,
        color="C3",
        arrowprops={"arrowstyle": "-", "color": "C3", "linewidth": 0.8},
    )
    ax.set_xlim(-0.01, 1.02)
    ax.set_ylim(0.0, 1.05)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_title(title)
    ax.grid(True, linewidth=0.4, color="0.85")
    ax.legend(loc="lower left", fontsize=8)
    return figure


def load_predictions(
    predictions_dir: Path, test_size: int, detector: bool
) -> dict[str, np.ndarray]:
    """A model's test predictions (and a detector's scores), checked to be one per test image."""
    names = (
        (
            "test_pred",
            "test_score",
            "score_kind",
            "threshold",
            "curve_precision",
            "curve_recall",
            "test_ap",
        )
        if detector
        else ("test_pred",)
    )
    path = predictions_dir / "predictions.npz"
    predicted = load_arrays(path, names)
    if len(predicted["test_pred"]) != test_size:
        raise FiguresError(
            f"{path} holds {len(predicted['test_pred'])} predictions, but the "
            f"test split has {test_size} labels: they should be the same split"
        )
    return predicted


def draw_figures(
    models: list[Model],
    settings: Figures,
    evaluations: Path,
    images_path: Path,
    out: Path,
    dataset: Dataset,
) -> None:
    """Draw each model's pictures into ``out/<model>`` from ``evaluations/<model>`` (the
    evaluate stages' predictions.npz) and the decoded test images of ``dataset``, whose class
    names and nouns the pictures use (the labels must run over its classes:
    ``check_classes``); ``out`` is replaced as a whole."""
    decoded = load_arrays(images_path, ("images", "labels"))
    check_classes({str(images_path): decoded["labels"]}, dataset.classes, dataset.key)
    with atomic_dir(out) as tmp:
        for model in models:
            draw_model(
                model, settings, evaluations / model.name, decoded, tmp / model.name, dataset
            )
    log.info("pictures of %d models in %s", len(models), out)


def draw_model(
    model: Model,
    settings: Figures,
    predictions_dir: Path,
    decoded: dict[str, np.ndarray],
    out: Path,
    dataset: Dataset,
) -> None:
    """Draw one model's pictures into the new folder ``out``."""
    detector = model.target is not None
    data = {
        "labels": decoded["labels"],
        "images": decoded["images"],
        **load_predictions(predictions_dir, len(decoded["labels"]), detector),
    }
    classes = dataset.classes
    names = class_names(model.target, classes)
    y_true = task_labels(data["labels"], model.target)
    y_pred = data["test_pred"].astype(np.int64)
    matrix = confusion(y_true, y_pred, len(names))
    if detector:
        task = f"is it a {classes[model.target]}"
    else:
        task = f"{len(classes)} {plural(dataset.class_noun)}"
    images_noun = plural(dataset.image_noun)

    n_wrong = int(matrix.sum() - np.trace(matrix))
    shown = misclassified(y_true, y_pred, settings.misclassified)
    out.mkdir(parents=True)
    save_png(
        confusion_figure(
            matrix,
            names,
            f"{model.name} ({task}): test confusion matrix, accuracy {100 * accuracy(matrix):.2f}%",
        ),
        out / "confusion.png",
        settings.dpi,
    )
    save_png(
        gallery_figure(
            data["images"][shown],
            captions(data["labels"][shown], y_pred[shown], names, classes),
            f"{model.name}: {len(shown)} of {n_wrong} misclassified test "
            f"{images_noun}, in test order (actual -> predicted)",
            noun=images_noun,
        ),
        out / "misclassified.png",
        settings.dpi,
    )
    if detector:
        draw_pr_curve(model, y_true, matrix, data, out / "precision_recall.png", settings.dpi)
    log.info(
        "%s: %d of %d test %s misclassified, %d shown",
        model.name,
        n_wrong,
        len(y_true),
        images_noun,
        len(shown),
    )


def draw_pr_curve(
    model: Model,
    y_true: np.ndarray,
    matrix: np.ndarray,
    evaluation: dict[str, np.ndarray],
    dest: Path,
    dpi: int,
) -> None:
    """The precision-recall figure of a detector's test scores, from the curve, average
    precision and threshold that ``evaluate`` computed."""
    threshold = Threshold(float(evaluation["threshold"]), str(evaluation["score_kind"]))
    y_pred = evaluation["test_pred"].astype(bool)
    follows = (evaluation["test_score"] > threshold.value) == y_pred
    if not follows.all():
        log.warning(
            "%s: %d test predictions do not follow %s; the marked point is the "
            "predictions' own precision and recall",
            model.name,
            int((~follows).sum()),
            threshold.rule,
        )
    point = operating_point(matrix)
    save_png(
        pr_curve_figure(
            evaluation["curve_precision"],
            evaluation["curve_recall"],
            point,
            threshold,
            float(np.mean(y_true)),
            f"{model.name}: precision-recall on the test split "
            f"(AP {float(evaluation['test_ap']):.3f})",
        ),
        dest,
        dpi,
    )
