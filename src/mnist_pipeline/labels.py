"""The labels a model learns and their names: every class of the dataset, or one class against
the rest; and the words titles use for them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DIGITS = tuple(str(d) for d in range(10))
"""MNIST's class names, label ``d`` called ``"d"``."""


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
