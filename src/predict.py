"""Which digit is in each picture (PNG, JPEG, BMP, GIF to 4 MP; any colour or polarity), folder,
IDX file or .npy array of 28x28 uint8 images, by the models train wrote: a line per image, its
class, confidence and runner-up (docs/predict.md)."""

import argparse
import json
import sys
from pathlib import Path

from mnist_pipeline import answers as models  # first: it pins the BLAS kernel before NumPy loads
from mnist_pipeline.pictures import Picture, fit_box, ink_levels, read_inputs
from mnist_pipeline.plumbing.files import atomic_file

Results = dict[str, list[dict]]


def text_lines(pictures: list[Picture], results: Results) -> list[str]:
    """One line per image, its name and each model's answer; a header when there are several."""
    names = list(results)
    rows = [[p.name, *(models.text(results[m][i]) for m in names)] for i, p in enumerate(pictures)]
    if len(names) > 1:
        rows.insert(0, ["", *names])
    widths = [max(map(len, column)) for column in zip(*rows, strict=True)]
    return ["  ".join(map(str.ljust, row, widths)).rstrip() for row in rows]


def show(pictures: list[Picture], results: Results, dest: Path) -> None:
    """A PNG, a row per picture: the original, its ink on black, the ink scaled into 20x20 and
    the 28x28 image the models saw, titled with the first model's answer."""
    from matplotlib.figure import Figure

    first = next(iter(results))
    titles = ["original", "ink, background black", "scaled into 20x20"]
    figure = Figure(figsize=(8.0, 2.1 * len(pictures)), layout="constrained")
    axes = figure.subplots(len(pictures), 4, squeeze=False)
    for i, (row, picture) in enumerate(zip(axes, pictures, strict=True)):
        panels = [None, None, None, picture.image]
        if picture.original is not None:
            ink = ink_levels(picture.original)
            panels[:3] = [picture.original, ink, fit_box(ink)]
        seen = f"28x28: {first} says {results[first][i]['class']}"
        for ax, image, title in zip(row, panels, [*titles, seen], strict=True):
            if image is not None:
                ax.imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set(title=title, xticks=[], yticks=[])
        row[0].set_ylabel(Path(picture.name).name, fontsize=8)
    with atomic_file(dest) as tmp, tmp.open("wb") as out:
        figure.savefig(out, format="png", dpi=100, metadata={"Software": None})


def main(argv: list[str] | None = None) -> int:
    """Print each image's answer; 1 if a file could not be read (the others are still
    answered), 2 for a model that could not be loaded."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("images", nargs="+", type=Path, help="pictures, folders, .npy, IDX")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--model",
        help="a model of stages/train/, or its folder or model.skops (e.g. what `dvc artifacts "
        "get` fetched); default: the leaderboard's best model of every class",
    )
    which.add_argument("--all-models", action="store_true", help="every model, a column each")
    parser.add_argument("--json", action="store_true", help="JSON records instead of lines")
    parser.add_argument(
        "--show", type=Path, metavar="OUT.png", help="draw each original beside what the model saw"
    )
    args = parser.parse_args(argv)
    if (out := args.show) and not (out.parent.is_dir() and (out.is_file() or not out.exists())):
        # checked first: a device, FIFO or folder there is left as it is, no folder is made
        why = "no such folder" if not out.parent.is_dir() else "it is not a regular file"
        print(f"predict: error: {out}: cannot write: {why}", file=sys.stderr)
        return 1
    try:
        names = models.model_names() if args.all_models else [args.model or models.default_model()]
        loaded = [models.load(name) for name in names]
    except (FileNotFoundError, models.ModelFileError) as err:
        print(f"predict: error: {err}", file=sys.stderr)
        return 2
    pictures, errors = read_inputs(args.images)
    for line in errors:
        print(f"predict: error: {line}", file=sys.stderr)
    if not pictures:
        return 1 if errors else 0
    results = {m.name: models.answers(m, [p.image for p in pictures]) for m in loaded}
    if args.json:
        records = [
            {"file": p.name, "model": model, **found[i]}
            for i, p in enumerate(pictures)
            for model, found in results.items()
        ]
        print(json.dumps(records, indent=2))
    else:
        print("\n".join(text_lines(pictures, results)))
    try:
        if args.show:
            show(pictures, results, args.show)
    except OSError as err:
        print(f"predict: error: {args.show}: {err.strerror or err}", file=sys.stderr)
        return 1
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
