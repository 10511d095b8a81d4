"""A parameter sweep of `dvc exp` experiments as a picture and a Markdown table: the swept
parameter on x, each affected model's test accuracy with its 95% Wilson interval on y.

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
from mnist_pipeline.tools.scores import AccuracyInterval, parse_test_scores

if TYPE_CHECKING:
    from matplotlib.figure import Figure

UNFINISHED = ("queued", "running")
DODGE = 0.006
"""How far apart, as a share of the x range, neighbouring lines are drawn."""
MAX_TICKS = 20
SCORES_PATH = re.compile(r"^metrics/([^/]+)/scores/test\.json$")


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
    scores: dict[str, AccuracyInterval]
    """Each model's test accuracy and interval (empty unless the experiment succeeded)."""


@dataclass(frozen=True)
class Point:
    """One successful experiment: its values of the swept parameters and its accuracies."""

    experiment: str
    values: tuple[Any, ...]
    scores: dict[str, AccuracyInterval]


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
    data: Sequence[Mapping[str, Any]], all_baselines: bool = False
) -> list[Experiment]:
    """The experiments in `dvc exp show --json` output: those of the first baseline listed
    after the workspace (the commit checked out, as `dvc exp show` orders them), or of every
    baseline if ``all_baselines``."""
    baselines = [b for b in data if b.get("rev") != "workspace"]
    if not all_baselines:
        baselines = baselines[:1]
    found = []
    for baseline in baselines:
        for entry in baseline.get("experiments") or []:
            revs = entry.get("revs") or [{}]
            rev = revs[0]
            body = rev.get("data") or {}
            params = ((body.get("params") or {}).get("params.yaml") or {}).get("data") or {}
            state = _state(entry, rev)
            scores = {}
            if state == "success":
                for path, metric in (body.get("metrics") or {}).items():
                    match = SCORES_PATH.match(path)
                    if match and (metric or {}).get("data"):
                        scores[match[1]] = parse_test_scores(metric["data"], path).accuracy
            found.append(
                Experiment(
                    name=str(entry.get("name") or rev.get("name") or rev.get("rev", "?")[:7]),
                    baseline=str(baseline.get("rev")),
                    state=state,
                    params=flatten(params),
                    scores=scores,
                )
            )
    return found


def run_exp_show(repo: Path, all_baselines: bool = False) -> list[dict[str, Any]]:
    """Run `dvc exp show --json` (with ``-A`` for every commit) in ``repo``; its output."""
    args = [sys.executable, "-m", "dvc", "exp", "show", "--json"]
    if all_baselines:
        args.append("-A")
    result = subprocess.run(args, cwd=repo, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise SweepError(f"`dvc exp show --json` exited {result.returncode}: {lines[-1]}")
    return json.loads(result.stdout)


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def _order(value: Any) -> tuple[int, float, str]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0, float(value), ""
    return 1, 0.0, _key(value)


def swept_params(experiments: Sequence[Experiment]) -> tuple[str, ...]:
    """The params.yaml keys whose value is not the same in every experiment, sorted."""
    keys = sorted({key for exp in experiments for key in exp.params})
    return tuple(key for key in keys if len({_key(exp.params.get(key)) for exp in experiments}) > 1)


def build_sweep(experiments: Sequence[Experiment], requested: Sequence[str] = ()) -> Sweep:
    """The sweep of the experiments over ``requested`` parameters, or over those that vary
    between them. SweepError while any experiment is queued or running, when no experiment
    succeeded, or when the swept parameters cannot be told (none, or more than two, vary)."""
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
        key=lambda point: (*(_order(v) for v in point.values), point.experiment),
    )
    names = list(dict.fromkeys(name for point in points for name in point.scores))
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


def markdown_report(sweep: Sweep) -> str:
    """The sweep as a Markdown table, one row per experiment and one column per affected
    model (``97.08% [96.74, 97.40]``), then which models did not change and which
    experiments failed."""
    models = sweep.models or sweep.unaffected
    header = [*sweep.params, "experiment", *models]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---:|" * len(sweep.params) + "---|" + "---:|" * len(models),
    ]
    for point in sweep.points:
        accuracies = [str(point.scores[m]) if m in point.scores else "" for m in models]
        lines.append(
            "| " + " | ".join([*map(_cell, point.values), point.experiment, *accuracies]) + " |"
        )
    lines.append("")
    lines.append("Test accuracy with its 95% Wilson interval.")
    if sweep.models and sweep.unaffected:
        lines.append(f"The same at every point: {', '.join(sweep.unaffected)}.")
    if len(sweep.points) == 1:
        lines.append("Only one experiment succeeded: no change can be seen.")
    elif not sweep.models:
        lines.append("No model's test accuracy differs between the experiments.")
    for name in sweep.failed:
        lines.append(f"Failed, not shown: {name} (see `dvc queue logs {name}`).")
    return "\n".join(lines) + "\n"


@styled
def draw_sweep(sweep: Sweep) -> Figure:
    """Test accuracy (percent) against the first swept parameter, error bars for the 95%
    interval; one line per affected model, or per model and value of the second parameter."""
    figure = new_figure(6.4, 4.0)
    ax = figure.add_subplot()
    xs_all = list(dict.fromkeys(_key(point.values[0]) for point in sweep.points))
    numeric = all(_order(point.values[0])[0] == 0 for point in sweep.points)
    positions = {key: i for i, key in enumerate(xs_all)}
    groups = list(dict.fromkeys(point.values[1:] for point in sweep.points))
    lines = [(model, group) for model in sweep.models or sweep.unaffected for group in groups]
    # Each line is shifted sideways a little, so that error bars at one x do not hide each
    # other; the ticks stay on the swept values.
    xvalues = [p.values[0] for p in sweep.points] if numeric else list(positions.values())
    span = (max(xvalues) - min(xvalues)) or 1
    for index, (model, group) in enumerate(lines):
        line = [p for p in sweep.points if p.values[1:] == group and model in p.scores]
        if not line:
            continue
        shift = (index - (len(lines) - 1) / 2) * span * DODGE
        xs = [(p.values[0] if numeric else positions[_key(p.values[0])]) + shift for p in line]
        acc = [100 * p.scores[model].acc for p in line]
        low = [100 * (p.scores[model].acc - p.scores[model].lo) for p in line]
        high = [100 * (p.scores[model].hi - p.scores[model].acc) for p in line]
        label = model if not group else f"{model}, {sweep.params[1]}={_cell(group[0])}"
        ax.errorbar(xs, acc, yerr=[low, high], marker="o", markersize=4, capsize=3, label=label)
    if numeric:
        ticks = sorted(set(xvalues))
        if len(ticks) <= MAX_TICKS:
            ax.set_xticks(ticks, [_cell(v) for v in ticks])
    else:
        ax.set_xticks(range(len(xs_all)), [_cell(json.loads(k)) for k in xs_all])
    ax.set_xlabel(sweep.params[0])
    ax.set_ylabel("test accuracy (%), 95% interval")
    title = f"Test accuracy against {sweep.params[0]}"
    if len(sweep.params) > 1:
        title += f", one line per {sweep.params[1]}"
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return figure
