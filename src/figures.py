"""Stage `figures`: OUT/<model>/misclassified.png, each model's first mistakes on the test split,
captioned "actual -> predicted". One process for every model: starting matplotlib costs more."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_pipeline.charts import load_evaluations, load_labelled, new_figure, save_png, style
from mnist_pipeline.labels import plural
from mnist_pipeline.params import load_params
from mnist_pipeline.plumbing.files import atomic_dir

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLUMNS = 10
CAPTION_FONT = 7.5
CAPTION_CHARACTERS = 14  # captions this long fit a cell at CAPTION_FONT; longer ones shrink
log = logging.getLogger("figures")


def captions(
    labels: np.ndarray, y_pred: np.ndarray, names: Sequence[str], classes: Sequence[str]
) -> list[str]:
    """Captions "actual -> predicted", the prediction in the model's task ``names``."""
    return [
        f"{classes[int(d)]} -> {names[int(p)].replace('_', ' ')}"
        for d, p in zip(labels, y_pred, strict=True)
    ]


def caption_font(texts: Sequence[str]) -> float:
    """The font size at which the longest caption fits its cell (4.5 at the least)."""
    longest = max([1, *map(len, texts)])
    return max(4.5, CAPTION_FONT * min(CAPTION_CHARACTERS, longest) / longest)


@style()
def gallery(images: np.ndarray, texts: list[str], title: str, noun: str) -> Figure:
    """The images in a grid, dark ink on white, captioned underneath, drawn as one image (fast
    whatever their number); an empty grid says "no misclassified test <noun>"."""
    rows = max(1, -(-len(images) // COLUMNS))
    height, width = images.shape[1:] if len(images) else (28, 28)
    caption = height // 2
    cell_h, cell_w = height + caption, width + 4
    mosaic = np.zeros((rows * cell_h, COLUMNS * cell_w), dtype=np.uint8)
    for i, image in enumerate(images):
        top, left = (i // COLUMNS) * cell_h, (i % COLUMNS) * cell_w + 2
        mosaic[top : top + height, left : left + width] = image
    fig_w = 0.78 * COLUMNS
    fig_h = fig_w * mosaic.shape[0] / mosaic.shape[1] + 0.45
    figure = new_figure(fig_w, fig_h, constrained=False)
    ax = figure.add_axes((0.0, 0.0, 1.0, 1.0 - 0.45 / fig_h))
    ax.imshow(mosaic, cmap="gray_r", vmin=0, vmax=255, aspect="auto")
    ax.set_axis_off()
    fontsize = caption_font(texts)
    for i, text in enumerate(texts):
        x = (i % COLUMNS) * cell_w + cell_w / 2 - 0.5
        y = (i // COLUMNS) * cell_h + height + caption / 2 - 1
        ax.text(x, y, text, ha="center", va="center", fontsize=fontsize, color="#b2182b")
    if not len(images):
        empty = f"no misclassified test {noun}"
        ax.text(0.5, 0.5, empty, ha="center", va="center", transform=ax.transAxes)
    figure.suptitle(title, y=1.0 - 0.08 / fig_h, va="top", fontsize=10)
    return figure


def main(argv: list[str] | None = None) -> int:
    """Run the stage with the command line ``argv``; 0, or 1 after one line for a bad input."""
    parser = argparse.ArgumentParser(prog="figures", description=__doc__)
    for option, text in (
        ("--params", "params.yaml"),
        ("--evaluations", "the evaluate stages' folder (<model>/predictions.npz)"),
        ("--images", "the decoded test split (test.npz)"),
        ("--out", "the folder to write, one subfolder per model (replaced)"),
    ):
        parser.add_argument(option, type=Path, required=True, help=text)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        params = load_params(args.params)
        dataset, settings = params.dataset, params.figures
        test = load_labelled(args.images, dataset, ("images", "labels"))
        found = load_evaluations(
            params.models.values(), args.evaluations, test["labels"], dataset.classes
        )
        noun = plural(dataset.image_noun)
        with atomic_dir(args.out) as tmp:
            for e in found:
                wrong = np.flatnonzero(e.y_true != e.y_pred)
                shown = wrong[: settings.misclassified]
                texts = captions(test["labels"][shown], e.y_pred[shown], e.names, dataset.classes)
                title = (
                    f"{e.model.name}: {len(shown)} of {len(wrong)} misclassified test {noun}, "
                    "in test order (actual -> predicted)"
                )
                (tmp / e.model.name).mkdir()
                figure = gallery(test["images"][shown], texts, title, noun)
                save_png(figure, tmp / e.model.name / "misclassified.png", settings.dpi)
                counts = (len(wrong), len(e.y_true), noun, len(shown))
                log.info("%s: %d of %d test %s misclassified, %d shown", e.model.name, *counts)
    except (ValueError, OSError) as err:  # bad params, a missing or bad input, an unwritable out
        print(f"figures: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
