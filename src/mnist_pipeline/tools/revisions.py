"""Reading the pipeline's git-tracked files as they are in the workspace, at a git revision, or
in a `dvc exp` experiment, and which models a revision holds.

Everything read here is tracked by git (params.yaml, datasets.yaml and the `cache: false`
files under metrics/), so it works in any clone, with no DVC remote and no DVC cache. An
experiment's name is resolved through its git ref, ``refs/exps/<2 hex>/<38 hex of the
baseline>/<name>``, which `dvc exp run` and `dvc queue` write and `dvc exp push/pull` share.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mnist_pipeline.params import CATALOGUE
from mnist_pipeline.plumbing.safe_yaml import ParamsError, check_size, parse_yaml, read_yaml

WORKSPACE = "workspace"
"""The revision name of the files on disk, as `dvc metrics diff` and `dvc exp show` call it."""


class RevisionError(ValueError):
    """A revision that names nothing, or a file at it that cannot be read or parsed."""


@dataclass(frozen=True)
class Revision:
    """One place to read files from: the workspace of ``repo`` or a commit of it."""

    repo: Path
    name: str
    """What the user typed (a branch, tag, commit, experiment name, or ``workspace``)."""
    commit: str | None
    """The full commit hash, or None for the workspace."""

    @property
    def label(self) -> str:
        """The name, and the short commit where it is not the name itself."""
        if self.commit is None or self.commit.startswith(self.name):
            return self.name
        return f"{self.name} ({self.commit[:7]})"


@dataclass(frozen=True)
class ModelSpec:
    """A model's entry of params.yaml at some revision: what the leaderboard shows of it."""

    name: str
    features: str
    estimator: str
    target: int | None

    @property
    def is_detector(self) -> bool:
        """Whether the model is a one-vs-rest detector (it has a ``target``)."""
        return self.target is not None


def _git(repo: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, check=False)
    except FileNotFoundError as err:
        raise RevisionError("git is not installed") from err


def experiment_refs(repo: Path) -> dict[str, list[str]]:
    """Every experiment name under refs/exps and the commits it names (one per baseline that
    has an experiment of that name)."""
    result = _git(repo, "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps")
    found: dict[str, list[str]] = {}
    for line in result.stdout.decode().splitlines():
        commit, _, ref = line.partition(" ")
        parts = ref.split("/")
        # refs/exps/<2 hex>/<38 hex>/<name>; dvc's own bookkeeping refs (refs/exps/celery/...,
        # refs/exps/exec/...) have another shape.
        if len(parts) == 5 and len(parts[2]) == 2 and len(parts[3]) == 38:
            found.setdefault(parts[4], []).append(commit)
    return found


def resolve(repo: Path, name: str) -> Revision:
    """The revision ``name`` means in ``repo``: ``workspace``, anything `git rev-parse` accepts
    (branch, tag, commit, ``HEAD~1``), else a `dvc exp` name. Raises RevisionError if it is
    none of these, or an experiment name that several baselines share."""
    repo = Path(repo)
    if name == WORKSPACE:
        return Revision(repo, name, None)
    if not name or name.startswith("-"):
        raise RevisionError(f"{name!r}: not a revision name")
    if _git(repo, "rev-parse", "--git-dir").returncode != 0:
        raise RevisionError(f"{repo}: not a git repository")
    parsed = _git(repo, "rev-parse", "--verify", "--quiet", f"{name}^{{commit}}")
    if parsed.returncode == 0:
        return Revision(repo, name, parsed.stdout.decode().strip())
    commits = experiment_refs(repo).get(name, [])
    if len(commits) == 1:
        return Revision(repo, name, commits[0])
    if len(commits) > 1:
        raise RevisionError(
            f"{name}: the name of {len(commits)} experiments of different "
            "baselines; give its commit instead (see `dvc exp show`)"
        )
    raise RevisionError(f"{name}: no such git revision or dvc experiment")


def read_bytes(revision: Revision, path: str) -> bytes | None:
    """The bytes of ``path`` (relative to the repository root) at ``revision``, or None if the
    file does not exist there."""
    if revision.commit is None:
        file = revision.repo / path
        return file.read_bytes() if file.is_file() else None
    result = _git(revision.repo, "cat-file", "blob", f"{revision.commit}:{path}")
    return result.stdout if result.returncode == 0 else None


def read_text(revision: Revision, path: str) -> str | None:
    """Like ``read_bytes``, decoded as UTF-8."""
    data = read_bytes(revision, path)
    return None if data is None else data.decode("utf-8")


def list_dir(revision: Revision, path: str) -> list[str]:
    """The names in the folder ``path`` at ``revision``, sorted; empty if there is none."""
    if revision.commit is None:
        folder = revision.repo / path
        return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    result = _git(revision.repo, "ls-tree", "--name-only", f"{revision.commit}:{path}")
    return sorted(result.stdout.decode().splitlines()) if result.returncode == 0 else []


def read_params(revision: Revision, path: str = "params.yaml") -> dict[str, Any]:
    """The params file ``path`` (params.yaml, or its catalogue datasets.yaml) at ``revision``
    as plain data, empty if absent there; read as safely as a stage reads it (``safe_yaml``:
    no FIFO, no 1 GB blob, no alias bomb), but not checked against today's schema: an old
    revision may have other sections."""
    source = f"{path} at {revision.label}"
    try:
        if revision.commit is None:
            file = revision.repo / path
            data = read_yaml(file, source) if file.exists() or file.is_symlink() else None
        else:
            size = _git(revision.repo, "cat-file", "-s", f"{revision.commit}:{path}")
            if size.returncode != 0:
                return {}
            check_size(int(size.stdout), source)
            data = parse_yaml(read_bytes(revision, path) or b"", source)
    except ParamsError as err:
        raise RevisionError(str(err)) from None
    return data if isinstance(data, Mapping) else {}


def model_specs(revision: Revision) -> dict[str, ModelSpec]:
    """params.yaml's ``models`` at ``revision``, in file order."""
    models = read_params(revision).get("models") or {}
    specs = {}
    for name, entry in models.items():
        entry = entry if isinstance(entry, Mapping) else {}
        target = entry.get("target")
        specs[str(name)] = ModelSpec(
            name=str(name),
            features=str(entry.get("features", "")),
            estimator=str(entry.get("estimator", "")),
            target=None if target is None else int(target),
        )
    return specs


def notebook_accuracies(revision: Revision, section: str = "notebooks") -> dict[str, float]:
    """The published accuracies at ``revision``: the test accuracy per model (``notebook_cv``:
    the cross-validated accuracy) of the selected dataset's references
    (``datasets.<dataset>.references.test`` or ``.cv``, in datasets.yaml or, before the
    catalogue had a file of its own, in params.yaml), or, in a params.yaml from before the
    dataset switch, its top-level ``notebooks`` (``notebook_cv``)."""
    params = read_params(revision)
    descriptions = read_params(revision, CATALOGUE).get("datasets") or params.get("datasets")
    if isinstance(descriptions, Mapping) and isinstance(params.get("dataset"), str):
        description = descriptions.get(params["dataset"])
        references = description.get("references") if isinstance(description, Mapping) else None
        found = (
            references.get("test" if section == "notebooks" else "cv")
            if isinstance(references, Mapping)
            else None
        )
    else:
        found = params.get(section)
    return {str(name): float(value) for name, value in (found or {}).items()}


def scored_models(revision: Revision) -> list[str]:
    """The models that have ``metrics/<model>/scores/test.json`` at ``revision``: those of
    params.yaml first, in its order, then any other such folder, by name."""
    folders = [
        name
        for name in list_dir(revision, "metrics")
        if read_bytes(revision, f"metrics/{name}/scores/test.json") is not None
    ]
    in_params = [name for name in model_specs(revision) if name in folders]
    return in_params + sorted(set(folders) - set(in_params))
