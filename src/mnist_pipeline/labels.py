"""The labels a model learns (every class, or one against the rest), their names, and the check
that the data's labels and the declared classes agree."""

from collections.abc import Mapping, Sequence

import numpy as np

DIGITS = tuple(str(d) for d in range(10))  # MNIST's class names


class ClassesError(ValueError):
    """The labels of the data and the classes params.yaml declares for them disagree."""


def check_classes(labels: Mapping[str, np.ndarray], classes: Sequence[str], dataset: str) -> None:
    """Refuse labels (each file's, by its name) unless 0 to the highest label are exactly the
    declared ``classes``: a class no image has would count as missed in every score."""
    declared, key = len(classes), f"{dataset}.classes"
    present = {source: y for source, y in labels.items() if y.size}
    high = max((int(y.max()) for y in present.values()), default=declared - 1)  # none: no fault
    if high + 1 == declared:
        return
    low = min(int(y.min()) for y in present.values())
    message = f"{key}: labels run {low}-{high} ({high + 1} classes), {declared} declared"
    if high >= declared:
        source, y = next((s, y) for s, y in present.items() if y.max() >= declared)
        index = int(np.argmax(y >= declared))
        message += f" (label {y[index]} at index {index} of {source})"
    raise ClassesError(message)


def task_labels(labels: np.ndarray, target: int | None) -> np.ndarray:
    """The dataset's labels, or for a detector of ``target`` 1 where the label is it."""
    return labels if target is None else (labels == target).astype(np.uint8)


def class_names(target: int | None, classes: Sequence[str] = DIGITS) -> list[str]:
    """Names of ``task_labels``' values: ``classes``, or ``not_<name>, <name>`` for a detector."""
    if target is None:
        return list(classes)
    return [f"not_{classes[target]}", classes[target]]


def plural(noun: str) -> str:
    """The English plural of a title noun: digits, classes, images."""
    return f"{noun}es" if noun.endswith(("s", "sh", "ch", "x")) else f"{noun}s"
