"""Every packaged model on handwritten digits that are not MNIST's: the honest test of the
preparation (``mnist_pipeline.preparation``) and of what the models learnt.

The digits are scikit-learn's bundled ``load_digits``: 1,797 handwritten digits by 43 people
(UCI's optdigits, Alpaydin and Kaynak, 1998), 8x8 pixels of 17 grey levels, shipped inside the
installed package, so offline, and never seen by the pipeline. Each is written as a PNG file,
dark ink on white paper as a scanner gives it, and read back by the predict path exactly as a
person's picture: grey levels, background made black, the ink scaled into 20x20, centred by
its mass in 28x28. A model at 99% on MNIST that gets far less here would say the preparation
is wrong; the 8x8 source is coarse (its 20x20 is an upscaled 8x8), so some loss is expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_pipeline.scoring import wilson_interval
from mnist_pipeline.tools.predict import Package, answers, gather


@dataclass(frozen=True)
class Score:
    """One model's accuracy on the digits from elsewhere, beside its MNIST test accuracy."""

    model: str
    task: str
    correct: int
    total: int
    mnist: float | None

    @property
    def accuracy(self) -> float:
        """The share answered right."""
        return self.correct / self.total


def write_digit_files(folder: Path) -> np.ndarray:
    """``load_digits`` as 8x8 PNG files ``<index>-<digit>.png`` in ``folder``, dark on white
    (its 0-16 levels spread over 255-0); returns their labels in file-name order."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    folder.mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(digits.images, digits.target, strict=True)):
        paper = np.round(255 - image * (255 / 16)).astype(np.uint8)
        Image.fromarray(paper).save(folder / f"{i:04d}-{label}.png")
    return digits.target


def score(packages: Sequence[Package], folder: Path, mnist: dict[str, float]) -> list[Score]:
    """Each package's accuracy on the digit files of ``folder`` (their label is the digit
    after the dash in the name), prepared by the predict path; a detector scored on its own
    question ("is it a 5")."""
    pictures, errors = gather([folder])
    if errors:
        raise ValueError(f"{len(errors)} digit files were refused, the first: {errors[0]}")
    labels = np.array([int(Path(p.name).stem.split("-")[1]) for p in pictures])
    images = np.stack([p.image for p in pictures])
    scores = []
    for package in packages:
        found = [a.answer for a in answers(package, images)]
        names = package.card["answers"]
        task = package.card.get("task", "every class")
        if task == "every class":
            truth = [names[label] for label in labels]
        else:
            truth = [names[1] if str(label) == names[1] else names[0] for label in labels]
        correct = sum(a == t for a, t in zip(found, truth, strict=True))
        scores.append(Score(package.name, task, correct, len(labels), mnist.get(package.name)))
    return scores


def markdown(scores: Sequence[Score]) -> str:
    """The scores as a Markdown table, with 95% Wilson intervals."""
    lines = [
        "| model | task | MNIST test acc | digits from elsewhere (load_digits) [95% CI] |",
        "|---|---|---:|---:|",
    ]
    for s in scores:
        low, high = wilson_interval(s.correct, s.total)
        mnist = "" if s.mnist is None else f"{100 * s.mnist:.2f}%"
        lines.append(
            f"| `{s.model}` | {s.task} | {mnist} | {100 * s.accuracy:.2f}% "
            f"[{100 * low:.2f}, {100 * high:.2f}] ({s.correct}/{s.total}) |"
        )
    return "\n".join(lines) + "\n"
