"""Stage `summary`: OUT/digits.png (the first training images of each class) and OUT/accuracy.png
(every model's test accuracy as scores/test.json reports it; a new model needs no dvc.yaml edit)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_pipeline.charts import load_evaluations, load_labelled, new_figure, save_png, style
from mnist_pipeline.params import load_params
from mnist_pipeline.plumbing.files import atomic_dir

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger("summary")


@style()
def digits_figure(images: np.ndarray, title: str, row_labels: Sequence[str]) -> Figure:
    """A grid of ``images`` (classes x samples x height x width), one labelled row per class."""
    digits, per_digit, height, width = images.shape
    pad = 2
    cells = np.pad(images, ((0, 0), (0, 0), (0, pad), (0, pad)))  # each image at a cell's top left
    mosaic = cells.transpose(0, 2, 1, 3).reshape(digits * (height + pad), per_digit * (width + pad))
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


@style()
def accuracy_figure(
    names: list[str],
    accuracy: list[float],
    detector: list[bool],
    published: list[float | None],
    reference: str,
    classifier: str,
) -> Figure:
    """Bars of test accuracy in params.yaml's order, detectors in another colour, ``reference``'s
    ``published`` numbers as ticks; ``classifier`` names the others."""
    from matplotlib.patches import Patch

    figure = new_figure(7.5, 1.4 + 0.36 * len(names))
    ax = figure.add_subplot()
    y = np.arange(len(names))[::-1]
    ax.barh(y, accuracy, color=["C1" if d else "C0" for d in detector], height=0.65)
    low = min(0.9, float(np.floor((min(accuracy) - 0.02) * 20) / 20)) if accuracy else 0.9
    for yi, value in zip(y, accuracy, strict=True):
        ax.text(value + 0.002, yi, f"{100 * value:.2f}%", va="center", fontsize=8.5)
    marks = [(yi, value) for yi, value in zip(y, published, strict=True) if value is not None]
    if marks:
        xs, ys = [v for _, v in marks], [yi for yi, _ in marks]
        ax.plot(xs, ys, "|", color="black", markersize=16, markeredgewidth=2, label=reference)
    ax.set_yticks(y, names)
    ax.set_xlim(low, 1.0)
    ax.xaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    ax.set_xlabel(f"accuracy on the test split (axis starts at {100 * low:.0f}%)")
    ax.set_title("test accuracy of every model")
    handles = [
        Patch(color="C0", label=classifier),
        Patch(color="C1", label="'is it a d' detector (binary task: not comparable)"),
        *ax.get_legend_handles_labels()[0],  # the published ticks' line, if any
    ]
    figure.legend(
        handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8, frameon=False
    )
    return figure


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after one line for a bad input."""
    parser = argparse.ArgumentParser(prog="summary", description=__doc__)
    for option, text in (
        ("--params", "params.yaml"),
        ("--images", "the decoded training split (train.npz)"),
        ("--evaluations", "the evaluate stages' folder (<model>/predictions.npz)"),
        ("--test", "the decoded test split (test.npz)"),
        ("--out", "the folder to write (replaced)"),
    ):
        parser.add_argument(option, type=Path, required=True, help=text)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        params = load_params(args.params)
        dataset, dpi = params.dataset, params.figures.dpi
        per_class = params.figures.samples_per_digit
        train = load_labelled(args.images, dataset, ("images", "labels"))
        picked = []
        for label, name in enumerate(dataset.classes):
            first = np.flatnonzero(train["labels"] == label)[:per_class]
            if len(first) < per_class:
                raise ValueError(
                    f"only {len(first)} training images of {dataset.class_noun} {name}, "
                    f"fewer than figures.samples_per_digit = {per_class}"
                )
            picked.append(first)
        labels = load_labelled(args.test, dataset)["labels"]
        found = load_evaluations(params.models.values(), args.evaluations, labels, dataset.classes)
        with atomic_dir(args.out) as tmp:
            title = f"the first {per_class} training images of each {dataset.class_noun}"
            digits = digits_figure(train["images"][np.stack(picked)], title, dataset.classes)
            save_png(digits, tmp / "digits.png", dpi)
            accuracy = accuracy_figure(
                [e.model.name for e in found],
                [e.accuracy for e in found],
                [e.detector for e in found],
                [dataset.references.test.get(e.model.name) for e in found],
                f"{dataset.references.source} reported accuracy",
                f"{len(dataset.classes)}-{dataset.class_noun} classifier",
            )
            save_png(accuracy, tmp / "accuracy.png", dpi)
        scores = ", ".join(f"{e.model.name} {e.accuracy:.4f}" for e in found)
        log.info("test accuracy of %d models: %s; pictures in %s", len(found), scores, args.out)
    except (ValueError, OSError) as err:  # bad params, a missing or bad input, an unwritable out
        print(f"summary: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
