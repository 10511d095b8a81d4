"""Paired comparison of each model between two revisions (or of two models of one revision),
from their committed test predictions: the accuracies, the test images only one side got
right, the exact McNemar test of whether the two really differ, that p-value adjusted for
the family of models compared (Holm), and the smallest difference the test could have seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from mnist_pipeline.significance import (
    LEVEL,
    POWER,
    detectable_difference,
    holm_adjusted,
    mcnemar_exact,
)
from mnist_pipeline.tools.revisions import Revision, RevisionError, scored_models
from mnist_pipeline.tools.scores import Predictions, percent, read_predictions

HEADER = (
    "model",
    "A acc",
    "B acc",
    "B - A (points)",
    "right in A only",
    "right in B only",
    "McNemar p",
    "Holm p",
    "detectable (points)",
    "at 5% (Holm p)",
)


class ComparisonError(ValueError):
    """The two revisions' predictions cannot be paired."""


@dataclass(frozen=True)
class ModelComparison:
    """One model's paired result: ``only_a`` images right in A and wrong in B, ``only_b`` the
    reverse, out of ``total`` test images."""

    name: str
    total: int
    correct_a: int
    correct_b: int
    only_a: int
    only_b: int
    p_value: float
    """The exact McNemar p-value of this model alone."""
    adjusted_p: float
    """``p_value`` adjusted by Holm's method for the family of models compared with it."""

    @property
    def acc_a(self) -> float:
        """Accuracy of revision A on the test set."""
        return self.correct_a / self.total

    @property
    def acc_b(self) -> float:
        """Accuracy of revision B on the test set."""
        return self.correct_b / self.total

    @property
    def difference_points(self) -> float:
        """B's accuracy minus A's, in percentage points."""
        return 100 * (self.correct_b - self.correct_a) / self.total

    @property
    def significant(self) -> bool:
        """Whether the Holm-adjusted p-value is below ``LEVEL``."""
        return self.adjusted_p < LEVEL

    @property
    def detectable_points(self) -> float | None:
        """The smallest difference, in points, that the test finds with ``POWER`` at
        ``LEVEL`` given these disagreements; None when none can be significant."""
        found = detectable_difference(self.only_a + self.only_b, self.total)
        return None if found is None else 100 * found

    def cells(self) -> tuple[str, ...]:
        """The row's text, one string per column of ``HEADER``."""
        return (
            self.name,
            percent(self.acc_a),
            percent(self.acc_b),
            f"{self.difference_points:+.2f}",
            str(self.only_a),
            str(self.only_b),
            format_p(self.p_value),
            format_p(self.adjusted_p),
            "none" if self.detectable_points is None else f"{self.detectable_points:.2f}",
            "significant" if self.significant else "not significant",
        )


@dataclass(frozen=True)
class Comparison:
    """Every model of both revisions compared (the family the p-values are adjusted for),
    and the models only one of them has; or two models of one revision (``pair``)."""

    a: Revision
    b: Revision
    models: tuple[ModelComparison, ...]
    added: tuple[str, ...] = ()
    """Models in B and not in A."""
    removed: tuple[str, ...] = ()
    """Models in A and not in B."""
    pair: tuple[str, str] | None = None
    """The two models of one revision compared, A's then B's; None: one model per row."""

    @property
    def family(self) -> int:
        """How many comparisons the Holm adjustment allows for."""
        return len(self.models)


def format_p(p: float) -> str:
    """A p-value with three decimals, or in scientific notation below 0.001."""
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def pair(name: str, a: Predictions, b: Predictions) -> ModelComparison:
    """Pair one model's predictions image by image (p-value not yet adjusted: ``adjusted_p``
    is the raw one). ComparisonError unless both list the same true classes in the same
    order (the same test set)."""
    if a.actual != b.actual:
        raise ComparisonError(
            f"{name}: the `actual` columns of predictions/test.csv differ between A and B "
            f"({len(a.actual)} and {len(b.actual)} rows): not the same test images, so the "
            "predictions cannot be paired"
        )
    if not a.actual:
        raise ComparisonError(f"{name}: predictions/test.csv has no rows")
    right_a, right_b = a.correct, b.correct
    only_a = sum(ra and not rb for ra, rb in zip(right_a, right_b, strict=True))
    only_b = sum(rb and not ra for ra, rb in zip(right_a, right_b, strict=True))
    p_value = mcnemar_exact(only_a, only_b)
    return ModelComparison(
        name=name,
        total=len(a.actual),
        correct_a=sum(right_a),
        correct_b=sum(right_b),
        only_a=only_a,
        only_b=only_b,
        p_value=p_value,
        adjusted_p=p_value,
    )


def adjusted(models: Sequence[ModelComparison]) -> tuple[ModelComparison, ...]:
    """The models with their p-values adjusted by Holm's method for this family."""
    holm = holm_adjusted([m.p_value for m in models])
    return tuple(replace(m, adjusted_p=p) for m, p in zip(models, holm, strict=True))


def _predictions(revision: Revision, name: str) -> Predictions:
    found = read_predictions(revision, name)
    if found is None:
        raise RevisionError(
            f"metrics/{name}/predictions/test.csv: missing at {revision.label}; "
            "run `dvc repro` first"
        )
    return found


def compare(a: Revision, b: Revision, only: Sequence[str] | None = None) -> Comparison:
    """Compare every model that has scores in both revisions (or only the models ``only``
    names), in A's order. RevisionError for a name of ``only`` that neither revision has."""
    in_a, in_b = scored_models(a), scored_models(b)
    if only:
        unknown = [name for name in only if name not in in_a and name not in in_b]
        if unknown:
            raise RevisionError(f"{unknown[0]}: no such model at {a.label} or {b.label}")
        in_a = [name for name in in_a if name in only]
        in_b = [name for name in in_b if name in only]
    both = [name for name in in_a if name in in_b]
    return Comparison(
        a=a,
        b=b,
        models=adjusted(
            [pair(name, _predictions(a, name), _predictions(b, name)) for name in both]
        ),
        added=tuple(name for name in in_b if name not in in_a),
        removed=tuple(name for name in in_a if name not in in_b),
    )


def compare_models(revision: Revision, model_a: str, model_b: str) -> Comparison:
    """Compare two models of one revision on the same test images, with the same test: a
    family of one. RevisionError for a model without predictions there; ComparisonError if
    the two were scored on other labels (a detector against a 10-class model)."""
    if model_a == model_b:
        raise ComparisonError(f"{model_a}: give two different models to compare")
    a, b = _predictions(revision, model_a), _predictions(revision, model_b)
    if a.actual != b.actual:
        raise ComparisonError(
            f"{model_a} and {model_b}: the `actual` columns of their predictions/test.csv "
            f"differ at {revision.label}: not the same test labels (a detector and a "
            "10-class model?), so the predictions cannot be paired"
        )
    row = pair(f"{model_a} vs {model_b}", a, b)
    return Comparison(a=revision, b=revision, models=(row,), pair=(model_a, model_b))


def format_comparison(comparison: Comparison) -> str:
    """The comparison as a text table for a terminal, a note on its columns, then the added
    and removed models."""
    if comparison.pair is None:
        lines = [f"A: {comparison.a.label}", f"B: {comparison.b.label}"]
    else:
        lines = [
            f"{side}: {model} at {comparison.a.label}"
            for side, model in zip("AB", comparison.pair, strict=True)
        ]
    if comparison.models:
        table = [HEADER, *(m.cells() for m in comparison.models)]
        widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
        lines.append("")
        for row in table:
            cells = [
                row[0].ljust(widths[0]),
                *(cell.rjust(w) for cell, w in zip(row[1:-1], widths[1:-1], strict=True)),
                row[-1],
            ]
            lines.append("  ".join(cells).rstrip())
        total = "/".join(map(str, sorted({m.total for m in comparison.models})))
        family = comparison.family
        lines += [
            "",
            f"Paired on {total} test images; exact two-sided McNemar test of the images right "
            "in one side only.",
            (
                f"Holm p: McNemar p adjusted for the family of {family} comparisons (the models "
                f"compared); significant if Holm p < {LEVEL:g}."
                if family > 1
                else f"Holm p: a family of 1 comparison, so Holm p = McNemar p; significant if "
                f"it is < {LEVEL:g}."
            ),
            f"Detectable: the smallest |B - A| this test finds with {POWER:.0%} power at "
            f"{LEVEL:.0%}, given {total} images and the model's flips (none: too few flips).",
        ]
    else:
        lines.append("no model present in both")
    if comparison.added:
        lines.append(f"added (only in B): {', '.join(comparison.added)}")
    if comparison.removed:
        lines.append(f"removed (only in A): {', '.join(comparison.removed)}")
    return "\n".join(lines) + "\n"
