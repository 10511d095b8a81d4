"""A parameter sweep of `dvc exp` experiments as a picture and Markdown tables, built to be
chosen from honestly: each affected model's val accuracy with its 95% Wilson interval against
the swept parameter, the best point on val marked, and the test accuracy of that point alone,
the one test number the choice leaves honest. A model without a val split is chosen on its
cross-validation, or not at all. The test curve at every point is a diagnostic, on request.

The input is what `dvc exp show --json` prints (dvc 3.x): a list of baseline commits (the
first is the workspace), each with an ``experiments`` list; an experiment has a ``name``, an
``executor`` whose ``state`` is queued, running, success or failed (None for an experiment
run in the workspace with `dvc exp run`), and ``revs[0]`` holding ``error`` and ``data`` with
``params["params.yaml"].data`` and ``metrics[path].data``, where a directory declared as
metrics appears file by file (``metrics/<model>/scores/test.json``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_pipeline.plumbing.drawing import new_figure, styled
from mnist_pipeline.significance import wilson_interval
from mnist_pipeline.tools.scores import AccuracyInterval, CrossValidation, parse_test_scores

if TYPE_CHECKING:
    from matplotlib.figure import Figure

UNFINISHED = ("queued", "running")
DODGE = 0.006
"""How far apart, as a share of the x range, neighbouring lines are drawn."""
MAX_TICKS = 20
LOG_SPAN = 50
"""A numeric parameter whose largest value is this many times its smallest is drawn on a
log axis (a training-set size from 500 to 50,000), unless told otherwise."""
SCORES_PATH = re.compile(r"^metrics/([^/]+)/scores/(test|val|cv)\.json$")


class SweepError(ValueError):
    """The experiments cannot be reported (yet): unfinished, none, or no swept parameter."""


@dataclass(frozen=True)
class Experiment:
    """One experiment of `dvc exp show`."""

    name: str
    baseline: str
    """The commit the experiment was run from."""
    state: str
    """queued, running, success or failed."""
    params: dict[str, Any]
    """params.yaml flattened to dotted keys (``pca.n``, ``models.knn.k``)."""
    scores: dict[str, ModelScores]
    """Each model's accuracies (empty unless the experiment succeeded)."""


@dataclass(frozen=True)
class ModelScores:
    """One model's accuracies in one experiment: on test, on val (None without a val split)
    and of its cross-validation (None without ``cv``)."""

    test: AccuracyInterval
    val: AccuracyInterval | None = None
    cv: CrossValidation | None = None


@dataclass(frozen=True)
class Point:
    """One successful experiment: its values of the swept parameters and its accuracies."""

    experiment: str
    values: tuple[Any, ...]
    scores: dict[str, ModelScores]


@dataclass(frozen=True)
class Choice:
    """A model's chosen point: the best on val (``basis`` "val"), else on cross-validation
    ("cv"); ``point`` None and ``basis`` None when the model has neither. Ties go to the
    first point in the sweep's order (the smaller value)."""

    model: str
    basis: str | None
    point: Point | None


@dataclass(frozen=True)
class Sweep:
    """The successful experiments of a sweep, ordered by the swept parameters' values."""

    params: tuple[str, ...]
    """One swept parameter (x), or two (x, then the one that makes a line per value)."""
    points: tuple[Point, ...]
    models: tuple[str, ...]
    """The models whose test accuracy differs between points: those the parameters affect."""
    unaffected: tuple[str, ...]
    failed: tuple[str, ...]
    """Experiments that failed, left out of the points."""

    @property
    def shown(self) -> tuple[str, ...]:
        """The models the report draws: the affected ones, or every one if none is."""
        return self.models or self.unaffected

    def choices(self) -> list[Choice]:
        """Each shown model's chosen point (see ``Choice``)."""
        found = []
        for model in self.shown:
            line = [p for p in self.points if model in p.scores]
            basis = next(
                (
                    split
                    for split in ("val", "cv")
                    if line and all(selection_score(p.scores[model], split) for p in line)
                ),
                None,
            )
            best = None
            if basis is not None:
                best = max(line, key=lambda p: selection_score(p.scores[model], basis) or 0.0)
            found.append(Choice(model, basis, best))
        return found


def selection_score(scores: ModelScores, basis: str) -> float | None:
    """The accuracy a choice is made on: val's, or the cross-validation's mean."""
    found = scores.val if basis == "val" else scores.cv
    return None if found is None else found.acc


def validation_size(params: Mapping[str, Any], model: str) -> int | None:
    """How many images ``model``'s val split holds, from an experiment's flattened params:
    ``raw.validation`` for a model on raw pixels, ``split.validation`` for the others."""
    section = "raw" if params.get(f"models.{model}.features") == "raw" else "split"
    size = params.get(f"{section}.validation")
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None


def _val_interval(acc: float, size: int | None) -> AccuracyInterval:
    """A val accuracy (rounded to 4 decimals in val.json) with its 95% Wilson interval over
    ``size`` images; no interval (both ends the accuracy) when the size is unknown."""
    if size is None:
        return AccuracyInterval(acc, acc, acc)
    correct = round(acc * size)
    low, high = wilson_interval(correct, size)
    return AccuracyInterval(acc, round(low, 4), round(high, 4))


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping as ``{"a.b.c": value}``; lists stay values."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _state(entry: Mapping[str, Any], rev: Mapping[str, Any]) -> str:
    executor = entry.get("executor") or {}
    state = executor.get("state")
    if state:
        return str(state).lower()
    return "failed" if rev.get("error") else "success"


def parse_exp_show(
    data: Sequence[Mapping[str, Any]], all_baselines: bool = False, with_baselines: bool = False
) -> list[Experiment]:
    """The experiments in `dvc exp show --json` output: those of the first baseline listed
    after the workspace (the commit checked out, as `dvc exp show` orders them), or of every
    baseline if ``all_baselines``; ``with_baselines`` puts each baseline commit itself (state
    ``baseline``) before its experiments."""
    baselines = [b for b in data if b.get("rev") != "workspace"]
    if not all_baselines:
        baselines = baselines[:1]
    found = []
    for baseline in baselines:
        if with_baselines:
            body = baseline.get("data") or {}
            params = flatten(
                ((body.get("params") or {}).get("params.yaml") or {}).get("data") or {}
            )
            rev = str(baseline.get("rev"))
            found.append(
                Experiment(
                    name=f"{baseline['name']} ({rev[:7]})" if baseline.get("name") else rev[:7],
                    baseline=rev,
                    state="baseline",
                    params=params,
                    scores=_scores(body.get("metrics") or {}, params),
                )
            )
        for entry in baseline.get("experiments") or []:
            revs = entry.get("revs") or [{}]
            rev = revs[0]
            body = rev.get("data") or {}
            params = ((body.get("params") or {}).get("params.yaml") or {}).get("data") or {}
            state = _state(entry, rev)
            flat = flatten(params)
            found.append(
                Experiment(
                    name=str(entry.get("name") or rev.get("name") or rev.get("rev", "?")[:7]),
                    baseline=str(baseline.get("rev")),
                    state=state,
                    params=flat,
                    scores=_scores(body.get("metrics") or {}, flat) if state == "success" else {},
                )
            )
    return found


def _scores(metrics: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, ModelScores]:
    """Every model's test, val and cv accuracies in an experiment's ``metrics``; a model
    without test.json is left out."""
    files: dict[str, dict[str, tuple[str, Mapping[str, Any]]]] = {}
    for path, metric in metrics.items():
        match = SCORES_PATH.match(path)
        if match and (metric or {}).get("data"):
            files.setdefault(match[1], {})[match[2]] = (path, metric["data"])
    scores = {}
    for model, found in files.items():
        if "test" not in found:
            continue
        val, cv = found.get("val"), found.get("cv")
        scores[model] = ModelScores(
            test=parse_test_scores(found["test"][1], found["test"][0]).accuracy,
            val=None
            if val is None
            else _val_interval(val[1]["acc"], validation_size(params, model)),
            cv=None if cv is None else CrossValidation(cv[1]["acc"], cv[1].get("acc_sd", 0.0)),
        )
    return scores


def exp_show_text(
    repo: Path, output: str = "--json", all_baselines: bool = False, rev: str | None = None
) -> str:
    """What `dvc exp show <output>` (``--json`` or ``--csv``) prints in ``repo``, with ``-A``
    for every commit or ``--rev REV`` for the experiments of that baseline, not HEAD's."""
    args = [sys.executable, "-m", "dvc", "exp", "show", output]
    if all_baselines:
        args.append("-A")
    elif rev is not None:
        args += ["--rev", rev]
    result = subprocess.run(args, cwd=repo, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise SweepError(f"`dvc exp show {output}` exited {result.returncode}: {lines[-1]}")
    return result.stdout


def run_exp_show(
    repo: Path, all_baselines: bool = False, rev: str | None = None
) -> list[dict[str, Any]]:
    """`dvc exp show --json` in ``repo`` (see ``exp_show_text``), parsed."""
    return json.loads(exp_show_text(repo, "--json", all_baselines, rev))


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def value_order(value: Any) -> tuple[int, float, str]:
    """A sort key of params values: numbers by value, before anything else (by its JSON)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0, float(value), ""
    return 1, 0.0, _key(value)


def swept_params(experiments: Sequence[Experiment]) -> tuple[str, ...]:
    """The params.yaml keys whose value is not the same in every experiment, sorted."""
    keys = sorted({key for exp in experiments for key in exp.params})
    return tuple(key for key in keys if len({_key(exp.params.get(key)) for exp in experiments}) > 1)


def build_sweep(
    experiments: Sequence[Experiment],
    requested: Sequence[str] = (),
    only_models: Sequence[str] = (),
) -> Sweep:
    """The sweep of the experiments over ``requested`` parameters, or over those that vary
    between them, for every model or those ``only_models`` names. SweepError while any
    experiment is queued or running, when no experiment succeeded, when the swept
    parameters cannot be told (none, or more than two, vary), or for an unknown model."""
    if not experiments:
        raise SweepError(
            "no experiments to report: queue some with `dvc exp run --queue -S "
            "'pca.n=10,20'`, then `dvc queue start`"
        )
    unfinished = [exp for exp in experiments if exp.state in UNFINISHED]
    if unfinished:
        listed = ", ".join(f"{exp.name} ({exp.state})" for exp in unfinished)
        raise SweepError(
            f"{len(unfinished)} experiment(s) not finished: {listed}; wait until "
            "`dvc queue status` shows none queued or running"
        )
    params = tuple(requested) or swept_params(experiments)
    if not params:
        raise SweepError("no parameter differs between the experiments; name one with --param")
    if len(params) > 2:
        raise SweepError(
            f"{len(params)} parameters differ between the experiments "
            f"({', '.join(params)}); name one or two with --param"
        )
    for key in params:
        if not any(key in exp.params for exp in experiments):
            raise SweepError(f"{key}: not a parameter of params.yaml in these experiments")
    done = [exp for exp in experiments if exp.state == "success"]
    failed = tuple(exp.name for exp in experiments if exp.state == "failed")
    if not done:
        raise SweepError("no experiment succeeded: nothing to report")
    points = sorted(
        (Point(exp.name, tuple(exp.params.get(key) for key in params), exp.scores) for exp in done),
        key=lambda point: (*(value_order(v) for v in point.values), point.experiment),
    )
    names = list(dict.fromkeys(name for point in points for name in point.scores))
    if only_models:
        unknown = [name for name in only_models if name not in names]
        if unknown:
            raise SweepError(f"{unknown[0]}: no model of that name has scores in the sweep")
        names = [name for name in names if name in only_models]
    varying = tuple(name for name in names if len({point.scores.get(name) for point in points}) > 1)
    return Sweep(
        params=params,
        points=tuple(points),
        models=varying,
        unaffected=tuple(name for name in names if name not in varying),
        failed=failed,
    )


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else _key(value)


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
    xs_all = list(dict.fromkeys(_key(point.values[0]) for point in sweep.points))
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
        xs = [p.values[0] if numeric else positions[_key(p.values[0])] for p in line]
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
