"""Score every trained model on scikit-learn's load_digits (1,797 8x8 digits by 43 people, not
MNIST's), each written as a PNG and read as a person's picture, the honest test of the
preparation: a Markdown table beside each model's MNIST test accuracy."""

import argparse
import sys
import tempfile
from pathlib import Path

from mnist_pipeline import answers as models  # first: it pins the BLAS kernel before NumPy loads
from mnist_pipeline.pictures import read_inputs
from mnist_pipeline.scoring import wilson_interval


def write_digit_files(folder: Path) -> None:
    """load_digits as 8x8 PNGs ``<index>-<digit>.png``, dark on white (0-16 over 255-0)."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        paper = (255 - image * (255 / 16)).round().astype("uint8")
        Image.fromarray(paper).save(folder / f"{i:04d}-{label}.png")


def table(loaded: list[models.Model], folder: Path) -> str:
    """A Markdown table of each model's accuracy (95% Wilson interval) on ``folder``'s digits,
    labelled after the dash, beside its MNIST test accuracy; a detector on its own question."""
    pictures, errors = read_inputs([folder])
    if errors:
        raise ValueError(f"{len(errors)} digit files were refused, the first: {errors[0]}")
    labels = [Path(p.name).stem.split("-")[1] for p in pictures]
    images = [p.image for p in pictures]
    lines = [
        "| model | task | MNIST test acc | digits from elsewhere (load_digits) [95% CI] |",
        "|---|---|---:|---:|",
    ]
    for model in loaded:
        names, total = model.names, len(labels)
        if model.task == "every class":
            truth = [names[int(label)] for label in labels]
        else:
            truth = [names[1] if label == names[1] else names[0] for label in labels]
        found = [answer["class"] for answer in models.answers(model, images)]
        correct = sum(a == t for a, t in zip(found, truth, strict=True))
        low, high = wilson_interval(correct, total)
        mnist = models.test_scores(model.name)
        acc = "" if mnist is None else f"{100 * mnist['acc']:.2f}%"
        lines.append(
            f"| `{model.name}` | {model.task} | {acc} | {100 * correct / total:.2f}% "
            f"[{100 * low:.2f}, {100 * high:.2f}] ({correct}/{total}) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the Markdown table of accuracies."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, help="folder for the PNGs (default: a temporary one)")
    args = parser.parse_args(argv)
    try:
        loaded = [models.load(name) for name in models.model_names()]
        with tempfile.TemporaryDirectory() as scratch:
            folder = args.out or Path(scratch) / "load_digits"
            write_digit_files(folder)
            found = table(loaded, folder)
    except (FileNotFoundError, ValueError) as err:  # ModelFileError is a ValueError
        print(f"elsewhere: error: {err}", file=sys.stderr)
        return 1
    print(found, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
