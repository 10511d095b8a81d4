"""The experiments of a `dvc exp show --json` and the sweep they make: the swept parameters,
one point per successful experiment in the order of its values, the models those parameters
affect, and each model's chosen point (best on val, else on cross-validation, else none).

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
from typing import Any

from mnist_pipeline.significance import wilson_interval
from mnist_pipeline.tools.scores import AccuracyInterval, CrossValidation, parse_test_scores

UNFINISHED = ("queued", "running")
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


def value_key(value: Any) -> str:
    """A params value as sorted JSON: how values are compared, grouped and told apart."""
    return json.dumps(value, sort_keys=True)


def value_order(value: Any) -> tuple[int, float, str]:
    """A sort key of params values: numbers by value, before anything else (by its JSON)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return 0, float(value), ""
    return 1, 0.0, value_key(value)


def swept_params(experiments: Sequence[Experiment]) -> tuple[str, ...]:
    """The params.yaml keys whose value is not the same in every experiment, sorted."""
    keys = sorted({key for exp in experiments for key in exp.params})
    return tuple(
        key for key in keys if len({value_key(exp.params.get(key)) for exp in experiments}) > 1
    )


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
