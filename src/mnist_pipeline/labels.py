"""The labels a model learns and their names: every class of the dataset, or one class against
the rest; the check that the data's labels and the declared classes agree; and the words
titles use for them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

DIGITS = tuple(str(d) for d in range(10))
"""MNIST's class names, label ``d`` called ``"d"``."""


class ClassesError(ValueError):
    """The labels of the data and the classes params.yaml declares for them disagree."""


def check_classes(labels: Mapping[str, np.ndarray], classes: Sequence[str], dataset: str) -> None:
    """Refuse labels (``labels``: each file's, by its name) whose classes, 0 to the highest
    label, are not the ``classes`` that params key ``<dataset>.classes`` declares: a label past
    the last declared class, or declared classes past the last label, which no image has and
    every score would count as missed. One line naming the key, e.g.
    ``datasets.mnist.classes: labels run 0-9 (10 classes), 11 declared``."""
    declared, key = len(classes), f"{dataset}.classes"
    present = {source: y for source, y in labels.items() if y.size}
    if not present:
        return
    low = min(int(y.min()) for y in present.values())
    high = max(int(y.max()) for y in present.values())
    if high + 1 == declared:
        return
    message = f"{key}: labels run {low}-{high} ({high + 1} classes), {declared} declared"
    if high >= declared:
        source, y = next((s, y) for s, y in present.items() if y.max() >= declared)
        index = int(np.argmax(y >= declared))
        message += f" (label {y[index]} at index {index} of {source})"
    raise ClassesError(message)


def task_labels(labels: np.ndarray, target: int | None) -> np.ndarray:
    """The labels a model learns: the dataset's, or for a detector 1 where the label is
    ``target``."""
    return labels if target is None else (labels == target).astype(np.uint8)


def class_names(target: int | None, classes: Sequence[str] = DIGITS) -> list[str]:
    """Names of the label values ``task_labels`` produces, for tables and plots: ``classes``
    for a model of every class, ``["not_<name>", "<name>"]`` for a detector of ``target``."""
    if target is None:
        return list(classes)
    return [f"not_{classes[target]}", classes[target]]


def plural(noun: str) -> str:
    """The English plural of a title noun: digits, classes, images."""
    return f"{noun}es" if noun.endswith(("s", "sh", "ch", "x")) else f"{noun}s"
