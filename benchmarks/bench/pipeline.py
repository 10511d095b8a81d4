"""The pipeline measured in a copy of the project (the working tree's stages/ and cache are
never touched): each stage's command wrapped in ``kernels.timed``, its work read from dvc's
output (the ``<stage>: done in N s`` every stage logs); the scaling table's training sets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml
from bench.kernels import BENCHMARKS

REPO = BENCHMARKS.parent
sys.path.insert(0, str(REPO / "tests"))  # repo_copy: the test support that makes fresh clones
from repo_copy import copy_repo, tool_env  # noqa: E402

from mnist_pipeline.estimators.cnn import shifted  # noqa: E402
from mnist_pipeline.params import CATALOGUE  # noqa: E402
from mnist_pipeline.plumbing.idx import MNIST_FILE_NAMES, read_idx, write_idx_dataset  # noqa: E402

DVC = str(Path(sys.executable).parent / "dvc")
TIMED = "python -I -S benchmarks/bench/kernels.py timed "
MNIST = REPO / "data" / "mnist"
VALIDATION = 10_000
SHIFTS = ((0, 1), (1, 0), (0, -1), (-1, 0))
"""(rows, columns) each successive copy of the training images is moved by, zeros filling in."""


@dataclass
class Stage:
    """One stage's process: wall, CPU, peak memory, and the seconds of its work as it logged
    them (to 0.1 s); ``startup`` is the rest: interpreter, imports, arguments, exit."""

    wall: float
    cpu: float
    peak_rss_mb: float
    work: float | None = None

    @property
    def startup(self) -> float:
        return 0.0 if self.work is None else round(self.wall - self.work, 3)


@dataclass
class DvcRun:
    """One timed dvc command and the stages it ran."""

    wall: float
    stages: dict[str, Stage] = field(default_factory=dict)

    cpu = property(lambda self: round(sum(s.cpu for s in self.stages.values()), 3))
    startup = property(lambda self: round(sum(s.startup for s in self.stages.values()), 3))


def wrap_commands(dvc_yaml: str) -> str:
    """dvc.yaml with every stage's ``python ...`` command run through ``kernels.timed``, which
    is given the stage's name (``train@${key}`` in a foreach: dvc fills it in)."""
    stages = yaml.safe_load(dvc_yaml)
    for name, spec in stages["stages"].items():
        body = spec.get("do", spec)
        if body["cmd"].startswith("python "):
            body["cmd"] = f"{TIMED}{name}{'@${key}' if 'do' in spec else ''} {body['cmd']}"
    return yaml.safe_dump(stages, sort_keys=False)


def make_copy(dest: Path) -> Path:
    """The working tree's project files, less metrics/ and plots/ (every stage runs, the
    pictures too), in a new git repository whose dvc.yaml wraps the commands."""
    copy_repo(REPO, dest, leave_out=("metrics", "plots"), identity="benchmark")
    (dest / "dvc.yaml").write_text(wrap_commands((dest / "dvc.yaml").read_text()))
    git(dest, "commit", "-q", "-am", "benchmark: stage commands timed")
    return dest


def env(log: Path | None = None) -> dict[str, str]:
    """The environment of dvc and git in the copy; the stages log to ``log``."""
    return tool_env(identity="benchmark", extra={"BENCH_STAGE_LOG": str(log or "/dev/null")})


def git(copy: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=copy, env=env(), check=True)


def work_seconds(output: str) -> dict[str, float]:
    """Each stage's ``done in N s`` line from dvc's output, under its ``Running stage`` line."""
    work, stage = {}, None
    for line in output.splitlines():
        if running := re.match(r"Running stage '([^']+)'", line):
            stage = running.group(1)
        elif (done := re.match(r"\w+: done in ([\d.]+) s$", line)) and stage:
            work[stage] = float(done.group(1))
    return work


def read_stages(log: Path, output: str) -> dict[str, Stage]:
    """The stages ``kernels.timed`` logged, with the work seconds of dvc's ``output``."""
    work, stages = work_seconds(output), {}
    for line in log.read_text().splitlines() if log.is_file() else []:
        r = json.loads(line)
        if r["exit"] != 0:
            raise RuntimeError(f"stage {r['stage']} exited {r['exit']}")
        stages[r["stage"]] = Stage(r["wall"], r["cpu"], r["peak_rss_mb"], work.get(r["stage"]))
    return stages


def dvc(copy: Path, *args: str) -> DvcRun:
    """Run ``dvc <args>`` in the copy; its wall time and every stage it ran."""
    log = copy.parent / f"{copy.name}-stages.jsonl"
    log.unlink(missing_ok=True)
    started, output = time.perf_counter(), {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}
    result = subprocess.run([DVC, *args], cwd=copy, env=env(log), text=True, **output)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"dvc {' '.join(args)} exited {result.returncode}:\n{result.stdout}")
    return DvcRun(round(wall, 3), read_stages(log, result.stdout))


def reset(copy: Path) -> None:
    """Back to the copy's last commit, outputs included (after a ``dvc exp run``)."""
    git(copy, "reset", "-q", "--hard", "HEAD")
    subprocess.run([DVC, "checkout", "-q", "--force"], cwd=copy, env=env(), check=True)


def outputs(repo: Path) -> dict[Path, bytes]:
    """Every file under ``repo``'s metrics/ and plots/, by its path in the repository."""
    found = [p for folder in ("metrics", "plots") for p in (repo / folder).rglob("*")]
    return {p.relative_to(repo): p.read_bytes() for p in found if p.is_file()}


def training_set(images: np.ndarray, labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training file resized to ``n`` training images and then its last 10,000 (the
    validation split): the first n originals, or all of them followed by shifted copies
    (``SHIFTS``). At n = 50,000 this is the file itself."""
    originals, original_labels = images[:-VALIDATION], labels[:-VALIDATION]
    copies, moves = -(-n // len(originals)), ((0, 0), *SHIFTS)
    if copies > len(moves):
        raise ValueError(f"n = {n}: at most {len(moves) * len(originals)} images")
    tiled = [shifted(originals, np.tile(move, (len(originals), 1))) for move in moves[:copies]]
    train, train_labels = np.concatenate(tiled)[:n], np.tile(original_labels, copies)[:n]
    return (np.concatenate([train, images[-VALIDATION:]]),
            np.concatenate([train_labels, labels[-VALIDATION:]]))  # fmt: skip


def use_training_set(copy: Path, n: int) -> None:
    """Point the copy's dataset at a training set of ``n`` images (``training_set``), written
    beside the copy, and commit it."""
    folder = copy.parent / f"{copy.name}-data"
    arrays = {role: read_idx(MNIST / name) for role, name in MNIST_FILE_NAMES.items()}
    train = "train_images", "train_labels"
    arrays.update(zip(train, training_set(*(arrays[role] for role in train), n), strict=True))
    files = write_idx_dataset(folder, arrays)
    selected = yaml.safe_load((copy / "params.yaml").read_text())["dataset"]
    catalogue = yaml.safe_load((copy / CATALOGUE).read_text())
    catalogue["datasets"][selected].update(mirrors=[str(folder)], files=files)
    (copy / CATALOGUE).write_text(yaml.safe_dump(catalogue, sort_keys=False))
    git(copy, "commit", "-q", "-am", f"benchmark: {n} training images")
