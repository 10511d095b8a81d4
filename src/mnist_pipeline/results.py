"""The results of a revision or experiment as DVC serves them: each model's scores and test
predictions through dvc.api's file system (git-tracked, so any clone works, no remote), and
the experiments of `dvc exp show --json`. Shared by compare, leaderboard, sweep and exps."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

import yaml
from dvc.api import DVCFileSystem
from dvc.exceptions import DvcException
from dvc.scm import RevError

WORKSPACE = "workspace"
SPLITS = ("test", "val", "cv")


class ResultsError(ValueError):
    """A revision that names nothing, or a results file that is missing or unreadable."""


def open_revision(name: str, repo: str = ".") -> DVCFileSystem:
    """The files of ``repo`` at ``name``: ``workspace``, a git revision or a `dvc exp` name."""
    if name.startswith("-"):
        raise ResultsError(f"{name!r}: not a revision name")
    try:
        fs = DVCFileSystem(repo, rev=None if name == WORKSPACE else name)
        fs.ls("/", detail=False)  # opens the revision now: an unknown one fails here
        return fs
    except RevError:
        raise ResultsError(f"{name}: no such git revision or dvc experiment") from None
    except DvcException as err:
        raise ResultsError(f"{name}: {err}") from None


def read_yaml(fs: DVCFileSystem, path: str) -> dict[str, Any]:
    """A YAML file as a mapping, empty where it is absent."""
    if not fs.isfile(path):
        return {}
    data = yaml.safe_load(fs.read_text(path))
    return data if isinstance(data, Mapping) else {}


def read_json(fs: DVCFileSystem, path: str) -> dict[str, Any] | None:
    """A JSON object, or None where the file is absent; ResultsError if it is not JSON."""
    if not fs.isfile(path):
        return None
    try:
        return dict(json.loads(fs.read_text(path)))
    except (ValueError, TypeError) as err:
        raise ResultsError(f"{path}: not a JSON object ({err})") from None


def scored_models(fs: DVCFileSystem) -> list[str]:
    """The models with ``metrics/<model>/scores/test.json``: params.yaml's order, then others."""
    found = {path.split("/")[1] for path in fs.glob("metrics/*/scores/test.json")}
    listed = [name for name in read_yaml(fs, "params.yaml").get("models") or {} if name in found]
    return listed + sorted(found - set(listed))


def model_scores(fs: DVCFileSystem, model: str) -> dict[str, dict[str, Any]]:
    """A model's ``scores/{test,val,cv}.json``, those present."""
    found = {split: read_json(fs, f"metrics/{model}/scores/{split}.json") for split in SPLITS}
    return {split: data for split, data in found.items() if data is not None}


def read_predictions(fs: DVCFileSystem, model: str) -> list[tuple[str, str]]:
    """``metrics/<model>/predictions/test.csv`` as (actual, predicted) rows."""
    path = f"metrics/{model}/predictions/test.csv"
    if not fs.isfile(path):
        raise ResultsError(f"{path}: missing; run `dvc repro` first")
    header, *rows = (line.split(",") for line in fs.read_text(path).splitlines())
    if header != ["actual", "predicted"] or any(len(row) != 2 for row in rows):
        raise ResultsError(f"{path}: expected two columns, actual,predicted")
    return [(actual, predicted) for actual, predicted in rows]


def leaderboard(name: str = WORKSPACE, repo: str = ".") -> list[dict[str, Any]]:
    """One row per scored model at ``name``: its params entry, scores and the dataset's
    published accuracies; 10-class models by test accuracy, then detectors by test F1."""
    fs = open_revision(name, repo)
    params = read_yaml(fs, "params.yaml")
    specs = params.get("models") or {}
    scored = scored_models(fs)
    missing = [model for model in specs if model not in scored]
    if missing or not scored:
        model = (missing or ["<model>"])[0]
        raise ResultsError(f"metrics/{model}/scores/test.json: missing at {name}; run dvc repro")
    dataset = (read_yaml(fs, "datasets.yaml").get("datasets") or {}).get(params.get("dataset"))
    references = (dataset or {}).get("references") or {}
    notebooks = references.get("test") or params.get("notebooks") or {}
    notebooks_cv = references.get("cv") or params.get("notebook_cv") or {}
    rows = []
    for model in scored:
        spec = specs.get(model) or {}
        rows.append(
            {
                "name": model,
                "features": spec.get("features", "?"),
                "estimator": spec.get("estimator", "?"),
                "target": spec.get("target"),
                **model_scores(fs, model),
                "notebook": notebooks.get(model),
                "notebook_cv": notebooks_cv.get(model),
            }
        )
    return sorted(rows, key=_rank)


def _rank(row: Mapping[str, Any]) -> tuple[bool, float, str]:
    detector = row["target"] is not None
    return detector, -row["test"]["f1" if detector else "acc"], row["name"]


def exp_show(fmt: str = "--json", all_commits: bool = False, rev: str | None = None) -> str:
    """What `dvc exp show <fmt>` prints here: HEAD's experiments, ``rev``'s, or all (``-A``)."""
    args = [sys.executable, "-m", "dvc", "exp", "show", fmt]
    args += ["-A"] if all_commits else ["--rev", rev] if rev else []
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise ResultsError(f"`dvc exp show {fmt}` exited {result.returncode}: {last[-1]}")
    return result.stdout


def flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping as ``{"a.b": value}``."""
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _record(name: str, baseline: str, state: str, body: Mapping[str, Any]) -> dict[str, Any]:
    params = ((body.get("params") or {}).get("params.yaml") or {}).get("data") or {}
    scores: dict[str, dict[str, dict]] = {}
    for path, metric in (body.get("metrics") or {}).items():
        parts = path.split("/")
        if len(parts) == 4 and parts[2] == "scores" and (metric or {}).get("data"):
            scores.setdefault(parts[1], {})[parts[3].removesuffix(".json")] = metric["data"]
    scores = {model: found for model, found in scores.items() if "test" in found}
    ok = state in ("baseline", "success")
    return {"name": name, "baseline": baseline, "state": state, "params": flatten(params)} | {
        "scores": scores if ok else {}
    }


def experiments(
    data: list[dict[str, Any]], all_commits: bool = False, with_baselines: bool = False
) -> list[dict[str, Any]]:
    """The experiments in `dvc exp show --json` output (of its first commit, or of all), each
    ``{name, baseline, state, params (dotted keys), scores {model: {split: data}}}``; with
    ``with_baselines`` each commit itself first (state ``baseline``)."""
    commits = [entry for entry in data if entry.get("rev") != WORKSPACE]
    found = []
    for commit in commits if all_commits else commits[:1]:
        rev = str(commit.get("rev"))
        if with_baselines:
            label = f"{commit['name']} ({rev[:7]})" if commit.get("name") else rev[:7]
            found.append(_record(label, rev, "baseline", commit.get("data") or {}))
        for entry in commit.get("experiments") or []:
            run = (entry.get("revs") or [{}])[0]
            state = str((entry.get("executor") or {}).get("state") or "").lower()
            state = state or ("failed" if run.get("error") else "success")
            name = str(entry.get("name") or run.get("name") or str(run.get("rev", "?"))[:7])
            found.append(_record(name, rev, state, run.get("data") or {}))
    return found
