"""The pictures drawn once per run, over the data and all models, from files other stages wrote.

Into one folder:

- ``digits.png``: the first ``figures.samples_per_digit`` training images of each class;
- ``pca_variance.png``: the variance PCA keeps with 1..784 components (the pca stage's
  variance.csv), with ``pca.n`` marked;
- ``accuracy.png``: every model's test accuracy (its scores/test.json), detectors apart
  (their task is binary), with the selected dataset's published accuracies as ticks (none
  when it has none);
- ``loss.png``: the training loss per epoch of every model that records one (its
  history.csv: the MLP, the gradient-descent model), one panel each.

Only ``<metrics>/<model>/scores/test.json`` and ``<metrics>/<model>/history.csv`` of the models
in params.yaml are read from the metrics folder: dvc.yaml lists exactly those as the summary
stage's deps.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_pipeline.plumbing.drawing import new_figure, save_png, styled
from mnist_pipeline.plumbing.files import atomic_dir, load_arrays
from mnist_pipeline.labels import DIGITS, check_classes
from mnist_pipeline.plumbing.params import Params, ParamsError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

VARIANCE_LEVELS = (0.9, 0.95, 0.99)
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


def components_for(cumulative: np.ndarray, level: float) -> int:
    """The fewest components whose cumulative explained variance reaches ``level``."""
    return int(np.searchsorted(cumulative, level - 1e-12) + 1)


def read_variance(path: Path) -> np.ndarray:
    """Each component's share of the variance, from the pca stage's variance.csv."""
    with path.open(newline="", encoding="utf-8") as fh:
        return np.array([float(row["share"]) for row in csv.DictReader(fh)])


def read_history(path: Path) -> tuple[list[int], list[float]]:
    """Epochs and losses from a train stage's history.csv (empty for non-iterative models)."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return [int(r["epoch"]) for r in rows], [float(r["loss"]) for r in rows]


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
def variance_figure(ratio: np.ndarray, n: int) -> Figure:
    """Cumulative explained variance for 1..len(ratio) components with ``n`` marked (left), and
    each component's own share on a log scale (right)."""
    cumulative = np.cumsum(ratio)
    components = np.arange(1, len(ratio) + 1)
    figure = new_figure(9.0, 3.8)
    left, right = figure.subplots(1, 2, width_ratios=(3, 2))
    left.plot(components, cumulative, color="C0")
    for level in VARIANCE_LEVELS:
        k = components_for(cumulative, level)
        left.plot([k], [cumulative[k - 1]], "o", color="0.45", markersize=3.5)
        left.annotate(
            f"{100 * level:g}%: {k}",
            (k, cumulative[k - 1]),
            xytext=(6, -10),
            textcoords="offset points",
            fontsize=8,
            color="0.35",
        )
    mark = cumulative[n - 1]
    left.axvline(n, color="C3", linewidth=1, linestyle="--")
    left.plot([n], [mark], "o", color="C3")
    left.annotate(
        f"pca.n = {n}: {100 * mark:.2f}% of the variance",
        (n, mark),
        xytext=(12, -34),
        textcoords="offset points",
        color="C3",
        fontsize=8.5,
    )
    left.set_xscale("log")
    left.set_xlim(1, len(ratio))
    left.set_ylim(0, 1.02)
    left.set_xlabel("number of components (log scale)")
    left.set_ylabel("cumulative share of the variance")
    left.set_title("variance kept by the first k principal components")
    left.grid(True, linewidth=0.4, color="0.85")

    shown = ratio > 1e-9
    right.semilogy(components[shown], ratio[shown], color="C0", linewidth=1)
    right.axvline(n, color="C3", linewidth=1, linestyle="--")
    right.set_xlim(0, len(ratio))
    right.set_xlabel("component")
    right.set_ylabel("share of the variance")
    right.set_title("each component's share")
    right.grid(True, linewidth=0.4, color="0.85")
    figure.suptitle(
        f"PCA of the normalized training split: all {len(ratio)} components", fontsize=10
    )
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


ANNOTATE_ALL_UP_TO = 10
"""A curve of at most this many points has every loss written beside it; a longer one (the
gradient-descent model's 201 iterations) only its first three and its last."""


def annotated_indices(n: int) -> list[int]:
    """Indices of the points of an ``n``-point loss curve whose value is written on the plot."""
    if n <= ANNOTATE_ALL_UP_TO:
        return list(range(n))
    return [0, 1, 2, n - 1]


@styled
def loss_figure(histories: dict[str, tuple[list[int], list[float]]]) -> Figure:
    """Training loss per epoch: one panel per model that records it, side by side, since their
    epochs differ in number and meaning (5 MLP epochs, 201 gradient-descent iterations)."""
    panels = max(1, len(histories))
    figure = new_figure(max(6.0, 3.6 * panels), 3.6)
    axes = figure.subplots(1, panels, squeeze=False)[0]
    for i, (ax, (name, (epochs, losses))) in enumerate(zip(axes, histories.items(), strict=False)):
        few = len(epochs) <= ANNOTATE_ALL_UP_TO
        ax.plot(epochs, losses, "o-" if few else "-", color=f"C{i}", markersize=4)
        for k in annotated_indices(len(epochs)):
            ax.plot(epochs[k], losses[k], "o", color=f"C{i}", markersize=4)
            ax.annotate(
                f"{losses[k]:.3f}",
                (epochs[k], losses[k]),
                xytext=(5, 5),
                textcoords="offset points",
                ha="left",
                fontsize=7.5,
            )
        if few:
            ax.set_xticks(epochs)
        ax.set_title(name)
        ax.set_xlabel("epoch" if epochs[0] >= 1 else "iteration (0: before the first update)")
        ax.set_ylim(bottom=0)
        ax.grid(True, linewidth=0.4, color="0.85")
    if not histories:
        axes[0].text(
            0.5,
            0.5,
            "no model records a loss per epoch",
            ha="center",
            va="center",
            transform=axes[0].transAxes,
        )
        axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("training loss")
    figure.suptitle("training loss per epoch")
    return figure


def summary_files(metrics_dir: Path, model: str) -> tuple[Path, Path]:
    """The two files the summary reads for ``model``: its scores/test.json and history.csv."""
    return metrics_dir / model / "scores" / "test.json", metrics_dir / model / "history.csv"


def model_results(params: Params, metrics_dir: Path) -> dict[str, list]:
    """Test accuracy, detector flag and published number (of the selected dataset's
    references) of each model, in params order."""
    results: dict[str, list] = {"names": [], "accuracy": [], "detector": [], "notebook": []}
    for name, model in params.models.items():
        path, _ = summary_files(metrics_dir, name)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: no metrics for model {name} (run its evaluate stage first)"
            )
        results["names"].append(name)
        results["accuracy"].append(float(json.loads(path.read_text())["acc"]))
        results["detector"].append(model.target is not None)
        results["notebook"].append(params.dataset.references.test.get(name))
    return results


def draw_summary(
    params: Params, images_path: Path, variance_path: Path, metrics_dir: Path, out: Path
) -> None:
    """Draw the four pictures into ``out`` (replaced as a whole) from the decoded training
    images, the pca stage's variance spectrum and each model's files in ``metrics_dir``."""
    settings, dataset = params.figures, params.dataset
    decoded = load_arrays(images_path, ("images", "labels"))
    check_classes({str(images_path): decoded["labels"]}, dataset.classes, dataset.key)
    picked = samples_per_digit(
        decoded["labels"], settings.samples_per_digit, dataset.classes, dataset.class_noun
    )

    ratio = read_variance(variance_path)
    if not 1 <= params.pca.n <= len(ratio):
        raise ParamsError(f"pca.n: expected 1 to {len(ratio)} components, got {params.pca.n}")

    histories = {}
    for name in params.models:
        _, path = summary_files(metrics_dir, name)
        if path.is_file():
            epochs, losses = read_history(path)
            if epochs:
                histories[name] = (epochs, losses)
    results = model_results(params, metrics_dir)
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
        save_png(variance_figure(ratio, params.pca.n), tmp / "pca_variance.png", dpi)
        save_png(accuracy_figure(**results, **legends), tmp / "accuracy.png", dpi)
        save_png(loss_figure(histories), tmp / "loss.png", dpi)
    cumulative = float(np.cumsum(ratio)[params.pca.n - 1])
    log.info(
        "%d components keep %.4f of the variance; %d models compared; pictures in %s",
        params.pca.n,
        cumulative,
        len(results["names"]),
        out,
    )
