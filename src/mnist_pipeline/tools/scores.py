"""A model's committed scores (``metrics/<model>/scores/<split>.json``) and test predictions
(``metrics/<model>/predictions/test.csv``), read at any revision as typed records.

The schema is the one evaluate@<model> writes: ``test.json`` holds ``acc``, its 95% Wilson
interval ``acc_lo``/``acc_hi`` and ``f1``, plus ``p``, ``r`` and ``ap`` for a detector;
``val.json`` (absent when a model has no validation split) holds ``acc``, plus ``f1``, ``p``,
``r`` and ``ap`` for a detector; ``cv.json`` (only for a model with ``cv`` in its params) the
mean ``acc`` and ``acc_sd`` of its cross-validation folds.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mnist_pipeline.tools.revisions import Revision, RevisionError, read_text


def percent(value: float) -> str:
    """A proportion as a percentage with two decimals: ``97.08%``."""
    return f"{100 * value:.2f}%"


@dataclass(frozen=True)
class AccuracyInterval:
    """A test accuracy and its 95% confidence interval, as proportions."""

    acc: float
    lo: float
    hi: float

    def __str__(self) -> str:
        """``97.08% [96.74, 97.40]``: the interval's ends in percent."""
        return f"{percent(self.acc)} [{100 * self.lo:.2f}, {100 * self.hi:.2f}]"


@dataclass(frozen=True)
class TestScores:
    """``scores/test.json``; p, r and ap are None for a 10-class model."""

    __test__ = False  # not a pytest test class

    accuracy: AccuracyInterval
    f1: float
    p: float | None = None
    r: float | None = None
    ap: float | None = None


@dataclass(frozen=True)
class ValScores:
    """``scores/val.json``; f1, p, r and ap are None for a 10-class model."""

    acc: float
    f1: float | None = None
    p: float | None = None
    r: float | None = None
    ap: float | None = None


@dataclass(frozen=True)
class CrossValidation:
    """``scores/cv.json``: the mean and standard deviation of the folds' accuracies."""

    acc: float
    acc_sd: float

    def __str__(self) -> str:
        """``97.29% ± 0.16``: the mean in percent, the deviation in points."""
        return f"{percent(self.acc)} ± {100 * self.acc_sd:.2f}"


@dataclass(frozen=True)
class Predictions:
    """The test images' true and predicted class names, in test order."""

    actual: tuple[str, ...]
    predicted: tuple[str, ...]

    @property
    def correct(self) -> tuple[bool, ...]:
        """Per test image, whether the prediction equals the actual label."""
        return tuple(a == p for a, p in zip(self.actual, self.predicted, strict=True))


def _number(data: Mapping[str, Any], key: str, where: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RevisionError(f"{where}: {key}: expected a number, got {value!r}")
    return float(value)


def _optional(data: Mapping[str, Any], key: str, where: str) -> float | None:
    return _number(data, key, where) if key in data else None


def _json(revision: Revision, path: str) -> dict[str, Any] | None:
    text = read_text(revision, path)
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise RevisionError(f"{path} at {revision.label}: not JSON: {err}") from err
    if not isinstance(data, dict):
        raise RevisionError(f"{path} at {revision.label}: expected a JSON object")
    return data


def parse_test_scores(data: Mapping[str, Any], where: str) -> TestScores:
    """The test scores in one ``test.json`` object (also as `dvc exp show` reports it);
    ``where`` names it in errors."""
    return TestScores(
        accuracy=AccuracyInterval(
            _number(data, "acc", where),
            _number(data, "acc_lo", where),
            _number(data, "acc_hi", where),
        ),
        f1=_number(data, "f1", where),
        p=_optional(data, "p", where),
        r=_optional(data, "r", where),
        ap=_optional(data, "ap", where),
    )


def read_test_scores(revision: Revision, model: str) -> TestScores:
    """``metrics/<model>/scores/test.json`` at ``revision``; RevisionError if it is missing."""
    path = f"metrics/{model}/scores/test.json"
    data = _json(revision, path)
    if data is None:
        raise RevisionError(f"{path}: missing at {revision.label}; run `dvc repro` first")
    return parse_test_scores(data, f"{path} at {revision.label}")


def read_val_scores(revision: Revision, model: str) -> ValScores | None:
    """``metrics/<model>/scores/val.json`` at ``revision``, or None if the model has none."""
    path = f"metrics/{model}/scores/val.json"
    data = _json(revision, path)
    if data is None:
        return None
    where = f"{path} at {revision.label}"
    return ValScores(
        acc=_number(data, "acc", where),
        f1=_optional(data, "f1", where),
        p=_optional(data, "p", where),
        r=_optional(data, "r", where),
        ap=_optional(data, "ap", where),
    )


def read_cv_scores(revision: Revision, model: str) -> CrossValidation | None:
    """``metrics/<model>/scores/cv.json`` at ``revision``, or None if the model has none."""
    path = f"metrics/{model}/scores/cv.json"
    data = _json(revision, path)
    if data is None:
        return None
    where = f"{path} at {revision.label}"
    return CrossValidation(acc=_number(data, "acc", where), acc_sd=_number(data, "acc_sd", where))


def read_predictions(revision: Revision, model: str) -> Predictions | None:
    """``metrics/<model>/predictions/test.csv`` at ``revision`` (header ``actual,predicted``),
    or None if it is absent."""
    path = f"metrics/{model}/predictions/test.csv"
    text = read_text(revision, path)
    if text is None:
        return None
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or rows[0] != ["actual", "predicted"]:
        raise RevisionError(f"{path} at {revision.label}: expected the header actual,predicted")
    body = rows[1:]
    if any(len(row) != 2 for row in body):
        raise RevisionError(f"{path} at {revision.label}: expected two columns on every row")
    return Predictions(tuple(row[0] for row in body), tuple(row[1] for row in body))
