"""A revision's scores and test predictions through dvc.api's file system (git-tracked: any clone,
no remote), and the experiments of `dvc exp show --json`; for the tools that compare runs."""

import json
import subprocess
import sys
from collections.abc import Container, Mapping
from pathlib import Path
from typing import Any

import yaml
from dvc.api import DVCFileSystem
from dvc.exceptions import DvcException
from dvc.scm import RevError

WORKSPACE = "workspace"


class ResultsError(ValueError):
    """A revision that names nothing, or a results file that is missing or unreadable."""


def open_revision(name: str) -> DVCFileSystem:
    """The files at ``name``: ``workspace``, a git revision or a `dvc exp` name."""
    try:
        fs = DVCFileSystem(".", rev=None if name == WORKSPACE else name)
        fs.ls("/", detail=False)  # opens the revision now: an unknown one fails here
        return fs
    except RevError:
        raise ResultsError(f"{name}: no such git revision or dvc experiment") from None
    except DvcException as err:
        raise ResultsError(f"{name}: {err}") from None


def read_yaml(fs: DVCFileSystem, path: str) -> dict[str, Any]:
    """A YAML file as a mapping, empty where it is absent."""
    data = yaml.safe_load(fs.read_text(path)) if fs.isfile(path) else {}
    return data if isinstance(data, Mapping) else {}


def scored_models(fs: DVCFileSystem) -> list[str]:
    """The models with ``metrics/<model>/scores/test.json``: params.yaml's order, then others."""
    found = {path.split("/")[1] for path in fs.glob("metrics/*/scores/test.json")}
    listed = [name for name in read_yaml(fs, "params.yaml").get("models") or {} if name in found]
    return listed + sorted(found - set(listed))


def model_scores(fs: DVCFileSystem, model: str) -> dict[str, dict[str, Any]]:
    """A model's ``scores/{test,val,cv}.json``, those present; ResultsError if one is not JSON."""
    found = {}
    for split in ("test", "val", "cv"):
        path = f"metrics/{model}/scores/{split}.json"
        try:
            found |= {split: dict(json.loads(fs.read_text(path)))} if fs.isfile(path) else {}
        except (ValueError, TypeError) as err:
            raise ResultsError(f"{path}: not a JSON object ({err})") from None
    return found


def read_predictions(fs: DVCFileSystem, model: str) -> list[tuple[str, str]]:
    """``metrics/<model>/predictions/test.csv`` as (actual, predicted) rows."""
    path = f"metrics/{model}/predictions/test.csv"
    if not fs.isfile(path):
        raise ResultsError(f"{path}: missing; run `dvc repro` first")
    header, *rows = (line.split(",") for line in fs.read_text(path).splitlines())
    if header != ["actual", "predicted"] or any(len(row) != 2 for row in rows):
        raise ResultsError(f"{path}: expected two columns, actual,predicted")
    return [(actual, predicted) for actual, predicted in rows]


def shown(value: Any) -> str:
    """A params value as params.yaml and `dvc exp run -S` write it: ``true``, ``[1, 2]``."""
    return value if isinstance(value, str) else json.dumps(getattr(value, "item", lambda: value)())


def aligned(table: list[list[str]], left: Container[int]) -> str:
    """The rows as columns two spaces apart, those in ``left`` left-aligned, the others right."""
    widths = [max(map(len, column)) for column in zip(*table, strict=True)]
    pads = [str.ljust if i in left else str.rjust for i in range(len(widths))]
    lines = ("  ".join(p(c, w) for p, c, w in zip(pads, row, widths, strict=True)) for row in table)
    return "".join(line.rstrip() + "\n" for line in lines)


def _flatten(mapping: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in mapping.items():
        nested = isinstance(value, Mapping)
        flat |= _flatten(value, f"{prefix}{key}.") if nested else {f"{prefix}{key}": value}
    return flat


def _record(name: str, baseline: str, state: str, body: Mapping[str, Any]) -> dict[str, Any]:
    params = ((body.get("params") or {}).get("params.yaml") or {}).get("data") or {}
    scores: dict[str, dict[str, dict]] = {}
    for path, metric in (body.get("metrics") or {}).items():
        parts = path.split("/")
        if len(parts) == 4 and parts[2] == "scores" and (metric or {}).get("data"):
            scores.setdefault(parts[1], {})[parts[3].removesuffix(".json")] = metric["data"]
    ok = state == "success"
    scores = {model: found for model, found in scores.items() if ok and "test" in found}
    return dict(name=name, baseline=baseline, state=state, params=_flatten(params), scores=scores)


def experiments(source: Path | None, rev: str | None = None) -> list[dict[str, Any]]:
    """The experiments of HEAD (or ``rev``) in `dvc exp show --json` (or ``source``, its saved
    output), each ``{name, baseline, state, params (dotted), scores {model: {split: ...}}}``."""
    if source:
        data = json.loads(source.read_text())
    else:
        args = [sys.executable, "-m", "dvc", "exp", "show", "--json", *(["--rev", rev] * bool(rev))]
        result = subprocess.run(args, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            last = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
            raise ResultsError(f"`dvc exp show --json` exited {result.returncode}: {last[-1]}")
        data = json.loads(result.stdout)
    found = []
    for commit in [entry for entry in data if entry.get("rev") != WORKSPACE][:1]:
        for entry in commit.get("experiments") or []:
            run = (entry.get("revs") or [{}])[0]
            state = str((entry.get("executor") or {}).get("state") or "").lower()
            state = state or ("failed" if run.get("error") else "success")
            name = str(entry.get("name") or run.get("name") or str(run.get("rev", "?"))[:7])
            found.append(_record(name, str(commit.get("rev")), state, run.get("data") or {}))
    return found
