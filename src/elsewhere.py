"""Every trained model on handwritten digits that are not MNIST's: the honest test of the
picture preparation and of what the models learnt (the table is in docs/predict.md).

scikit-learn's bundled load_digits (1,797 digits by 43 people, 8x8, 17 grey levels; offline),
each written as a PNG file, dark on white as a scan, and read as a person's picture.
"""

from __future__ import annotations

import mnist_pipeline  # noqa: F401  first: it pins the BLAS kernel before NumPy loads

# isort: split

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from mnist_pipeline import answers as models
from mnist_pipeline.pictures import read_inputs
from mnist_pipeline.plumbing.model_files import ModelFileError


def write_digit_files(folder: Path) -> np.ndarray:
    """load_digits as 8x8 PNGs ``<index>-<digit>.png`` in ``folder``, dark on white (its 0-16
    levels spread over 255-0); their labels in file-name order."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        paper = np.round(255 - image * (255 / 16)).astype(np.uint8)
        Image.fromarray(paper).save(folder / f"{i:04d}-{label}.png")
    return digits.target


def table(loaded: list[models.Model], folder: Path) -> str:
    """A Markdown table of each model's accuracy on the digit files of ``folder`` (the digit
    after the dash in a name is its label), with its 95% Wilson interval, beside its MNIST
    test accuracy; a detector is scored on its own question ("is it a 5")."""
    from statsmodels.stats.proportion import proportion_confint

    pictures, errors = read_inputs([folder])
    if errors:
        raise ValueError(f"{len(errors)} digit files were refused, the first: {errors[0]}")
    labels = [Path(p.name).stem.split("-")[1] for p in pictures]
    images = np.stack([p.image for p in pictures])
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
        low, high = proportion_confint(correct, total, alpha=0.05, method="wilson")
        mnist = models.test_scores(model.name)
        acc = "" if mnist is None else f"{100 * mnist['acc']:.2f}%"
        lines.append(
            f"| `{model.name}` | {model.task} | {acc} | {100 * correct / total:.2f}% "
            f"[{100 * low:.2f}, {100 * high:.2f}] ({correct}/{total}) |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the Markdown table of accuracies."""
    parser = argparse.ArgumentParser(
        description="Score every trained model on scikit-learn's load_digits (1,797 "
        "handwritten 8x8 digits by 43 people, not MNIST), each written as a PNG file and "
        "prepared as a person's picture; a Markdown table beside the MNIST test accuracy.",
    )
    parser.add_argument("--out", type=Path, help="folder for the PNGs (default: a temporary one)")
    args = parser.parse_args(argv)
    try:
        loaded = [models.load(name) for name in models.model_names()]
        with tempfile.TemporaryDirectory() as scratch:
            folder = args.out or Path(scratch) / "load_digits"
            write_digit_files(folder)
            found = table(loaded, folder)
    except (FileNotFoundError, ModelFileError, ValueError) as err:
        print(f"elsewhere: error: {err}", file=sys.stderr)
        return 1
    print(found, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
