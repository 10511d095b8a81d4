"""A parameter sweep (``tools.sweep``) as a picture and Markdown tables, built to be chosen
from honestly: each affected model's val accuracy with its 95% Wilson interval against the
swept parameter, the best point on val marked, and the test accuracy of that point alone, the
one test number the choice leaves honest. A model without a val split is chosen on its
cross-validation, or not at all. The test curve at every point is a diagnostic, on request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mnist_pipeline.plumbing.drawing import new_figure, styled
from mnist_pipeline.tools.sweep import Choice, Sweep, value_key, value_order

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DODGE = 0.006
"""How far apart, as a share of the x range, neighbouring lines are drawn."""
MAX_TICKS = 20
LOG_SPAN = 50
"""A numeric parameter whose largest value is this many times its smallest is drawn on a
log axis (a training-set size from 500 to 50,000), unless told otherwise."""


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else value_key(value)


TEXT_COLUMNS = frozenset({"experiment", "model", "chosen on"})
"""Columns of words, left-aligned; the values and accuracies are right-aligned."""


def _markdown(rows: list[dict[str, str]]) -> str:
    """Rows of cells as a Markdown table, by pandas' ``to_markdown``."""
    import pandas as pd

    frame = pd.DataFrame(rows)
    align = ["left" if name in TEXT_COLUMNS else "right" for name in frame.columns]
    return frame.to_markdown(index=False, colalign=align, disable_numparse=True) + "\n"


def _curve_table(sweep: Sweep, splits: Mapping[str, str], chosen: set[tuple[str, str]]) -> str:
    """One row per point, one column per model of ``splits``: its accuracy on that split
    ("val", "test", or "cv": column ``<model> (cv)``); each (model, experiment) of
    ``chosen`` in bold."""
    rows = []
    for point in sweep.points:
        row = {key: _cell(value) for key, value in zip(sweep.params, point.values, strict=True)}
        row["experiment"] = point.experiment
        for model, split in splits.items():
            scores = point.scores.get(model)
            found = None if scores is None else getattr(scores, split)
            text = "" if found is None else str(found)
            column = f"{model} (cv)" if split == "cv" else model
            row[column] = f"**{text}**" if (model, point.experiment) in chosen else text
        rows.append(row)
    return _markdown(rows)


def _choice_table(sweep: Sweep, choices: Sequence[Choice]) -> str:
    """Per shown model: what it was chosen on, the chosen value(s), that point's selection
    score and its test accuracy, the one honest test number."""
    rows = []
    for choice in choices:
        row = {"model": choice.model}
        if choice.point is None:
            row["chosen on"] = "not chosen: no val split, no cross-validation"
            row.update(dict.fromkeys(sweep.params, ""))
            row.update({"val (cv) acc": "", "test acc, once": ""})
        else:
            scores = choice.point.scores[choice.model]
            row["chosen on"] = choice.basis
            row.update(
                {k: _cell(v) for k, v in zip(sweep.params, choice.point.values, strict=True)}
            )
            row["val (cv) acc"] = str(scores.val if choice.basis == "val" else scores.cv)
            row["test acc, once"] = str(scores.test)
        rows.append(row)
    return _markdown(rows)


def markdown_report(sweep: Sweep, show_test_curve: bool = False) -> str:
    """The sweep as Markdown: the val curve of every shown model (one row per experiment,
    ``97.48% [97.17, 97.76]``, the best point per model in bold), the chosen point of each
    model with its single test accuracy, then which models did not change and which
    experiments failed; with ``show_test_curve``, the test accuracy at every point after
    it, titled as the diagnostic it is."""
    choices = sweep.choices()
    selection = {c.model: c.basis for c in choices if c.basis is not None}
    chosen = {(c.model, c.point.experiment) for c in choices if c.point is not None}
    on_cv = (
        " (a model without val: its cross-validation, mean ± sd)"
        if "cv" in selection.values()
        else ""
    )
    lines = [
        f"Val accuracy with its 95% Wilson interval{on_cv}, the curve to choose from; in bold, "
        "the best point on val of each model.",
        "",
        _curve_table(sweep, selection, chosen) if selection else "No model has a val split.\n",
        "Each model's choice, and the test accuracy of the chosen point: the one honest test "
        "number of this sweep (test was not looked at to choose).",
        "",
        _choice_table(sweep, choices),
    ]
    for choice in choices:
        if choice.basis == "cv":
            lines.append(
                f"{choice.model} has no val split: chosen on its cross-validation accuracy "
                "(mean ± sd of the folds)."
            )
        elif choice.basis is None:
            lines.append(
                f"{choice.model} has no val split and no cross-validation: nothing to choose "
                "on without spending the test set, so no point is chosen."
            )
    if sweep.models and sweep.unaffected:
        lines.append(f"The same at every point: {', '.join(sweep.unaffected)}.")
    if len(sweep.points) == 1:
        lines.append("Only one experiment succeeded: no change can be seen.")
    elif not sweep.models:
        lines.append("No model's accuracy differs between the experiments.")
    for name in sweep.failed:
        lines.append(f"Failed, not shown: {name} (see `dvc queue logs {name}`).")
    if show_test_curve:
        lines += [
            "",
            "Diagnostic, not for choosing: test accuracy with its 95% Wilson interval at every "
            "point. A value picked from this table has no honest test score left.",
            "",
            _curve_table(sweep, dict.fromkeys(sweep.shown, "test"), set()).rstrip("\n"),
        ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip("\n") + "\n"


def use_log_axis(sweep: Sweep, scale: str = "auto") -> bool:
    """Whether x is drawn on a log axis: ``scale`` "log" or "linear", or with "auto" when
    every value of the first parameter is a positive number and the largest is at least
    ``LOG_SPAN`` times the smallest."""
    if scale != "auto":
        return scale == "log"
    values = [point.values[0] for point in sweep.points]
    if not all(value_order(v)[0] == 0 and v > 0 for v in values):
        return False
    return max(values) >= LOG_SPAN * min(values)


def _draw_lines(
    ax: Any, sweep: Sweep, splits: Mapping[str, str], chosen: set[tuple[str, str]], log_x: bool
) -> None:
    """One line per model of ``splits`` (and value of the second parameter): its accuracy on
    that split ("test", "val", or "cv", whose error bars are the folds' sd), error bars for
    the 95% interval; a star on each (model, experiment) of ``chosen``."""
    xs_all = list(dict.fromkeys(value_key(point.values[0]) for point in sweep.points))
    numeric = all(value_order(point.values[0])[0] == 0 for point in sweep.points)
    positions = {key: i for i, key in enumerate(xs_all)}
    groups = list(dict.fromkeys(point.values[1:] for point in sweep.points))
    lines = [(model, group) for model in splits for group in groups]
    xvalues = [p.values[0] for p in sweep.points] if numeric else list(positions.values())
    span = (max(xvalues) - min(xvalues)) or 1
    for index, (model, group) in enumerate(lines):
        split = splits[model]
        line = [
            p
            for p in sweep.points
            if p.values[1:] == group and model in p.scores and getattr(p.scores[model], split)
        ]
        if not line:
            continue
        # Each line is shifted sideways a little (by a factor on a log axis), so that error
        # bars at one x do not hide each other; the ticks stay on the swept values.
        offset = (index - (len(lines) - 1) / 2) * DODGE
        xs = [p.values[0] if numeric else positions[value_key(p.values[0])] for p in line]
        xs = [x * (1 + 4 * offset) if log_x else x + offset * span for x in xs]
        found = [getattr(p.scores[model], split) for p in line]
        acc = [100 * f.acc for f in found]
        if split == "cv":
            low = high = [100 * f.acc_sd for f in found]
        else:
            low = [100 * (f.acc - f.lo) for f in found]
            high = [100 * (f.hi - f.acc) for f in found]
        label = model if not group else f"{model}, {sweep.params[1]}={_cell(group[0])}"
        if split == "cv":
            label += " (cv, ± sd)"
        drawn = ax.errorbar(
            xs, acc, yerr=[low, high], marker="o", markersize=4, capsize=3, label=label
        )
        stars = [
            (x, a) for x, a, p in zip(xs, acc, line, strict=True) if (model, p.experiment) in chosen
        ]
        if stars:
            ax.plot(
                *zip(*stars, strict=True),
                marker="*",
                markersize=13,
                linestyle="none",
                color=drawn.lines[0].get_color(),
                markeredgecolor="black",
                zorder=5,
            )
    if log_x:
        ax.set_xscale("log")
    if numeric:
        ticks = sorted(set(xvalues))
        if len(ticks) <= MAX_TICKS:
            ax.set_xticks(ticks, [_cell(v) for v in ticks])
            ax.minorticks_off()
    else:
        ax.set_xticks(range(len(xs_all)), [_cell(json.loads(k)) for k in xs_all])
    ax.set_xlabel(sweep.params[0] + (" (log scale)" if log_x else ""))
    ax.grid(True, alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


@styled
def draw_sweep(sweep: Sweep, show_test_curve: bool = False, x_scale: str = "auto") -> Figure:
    """Val accuracy (percent) against the first swept parameter, error bars for the 95%
    interval, a star on each model's best point on val; one line per shown model, or per
    model and value of the second parameter. A model chosen on cross-validation is drawn by
    its folds' mean and sd; one with neither is named in the title. With
    ``show_test_curve``, a second panel below: test accuracy at every point, titled as a
    diagnostic. ``x_scale``: auto, linear or log (see ``use_log_axis``)."""
    choices = sweep.choices()
    log_x = use_log_axis(sweep, x_scale)
    figure = new_figure(6.4, 7.6 if show_test_curve else 4.2)
    axes = figure.subplots(2 if show_test_curve else 1, 1, squeeze=False)[:, 0]
    chosen = {(c.model, c.point.experiment) for c in choices if c.point is not None}
    selection = {c.model: c.basis for c in choices if c.basis is not None}
    _draw_lines(axes[0], sweep, selection, chosen, log_x)
    axes[0].set_ylabel("val accuracy (%), 95% interval")
    title = f"Val accuracy against {sweep.params[0]}: choose here (star: best on val)"
    if len(sweep.params) > 1:
        title += f", one line per {sweep.params[1]}"
    unchosen = [c.model for c in choices if c.basis is None]
    if unchosen:
        title += f"\nnot chosen (no val split, no cross-validation): {', '.join(unchosen)}"
    axes[0].set_title(title)
    if show_test_curve:
        _draw_lines(axes[1], sweep, dict.fromkeys(sweep.shown, "test"), set(), log_x)
        axes[1].set_ylabel("test accuracy (%), 95% interval")
        axes[1].set_title("Diagnostic, not for choosing: test accuracy at every point")
    return figure
