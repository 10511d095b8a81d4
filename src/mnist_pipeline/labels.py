"""The labels a model learns and their names: the ten digits, or one digit against the rest."""

from __future__ import annotations

import numpy as np


def task_labels(digits: np.ndarray, target: int | None) -> np.ndarray:
    """The labels a model learns: the digits, or for a detector 1 where the digit is ``target``."""
    return digits if target is None else (digits == target).astype(np.uint8)


def class_names(target: int | None) -> list[str]:
    """Names of the label values ``task_labels`` produces, for tables and plots."""
    return [str(d) for d in range(10)] if target is None else [f"not_{target}", str(target)]
