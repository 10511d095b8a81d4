"""What one point of a cluster sweep does on a Dask worker (`src/cluster.py` submits it).

In a scratch clone of the git origin at the baseline commit, `dvc exp run --pull` under the
point's own name: the stages the point leaves unchanged are pulled from the DVC remote (their
outputs are in the baseline's dvc.lock), the others run. Then its data and run-cache go to the
remote (`dvc push --run-cache`) and, last, its git ref to the origin (`dvc exp push
--no-cache`), so an experiment on the origin always has its data on the remote; `dvc exp push`
alone pushes the ref first, and a worker dying between the two would leave one half pushed.

A point whose ref is already on the origin is skipped; a second attempt that finds the ref
pushed by the first (a worker thought dead that was not) keeps the first. Credentials come
from the worker's environment (AWS_* for an S3 remote), never from the task or from git.
The worker's scratch folder is ``$MNIST_CLUSTER_SCRATCH``, else the Dask worker's local
directory: ``cache/`` (one DVC cache for every task of the worker), ``runs/`` (a clone per
task, removed after it) and ``logs/<name>.log`` (dvc's output, appended per attempt).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENT_TOPIC = "mnist-cluster-sweep"
SCRATCH_ENV = "MNIST_CLUSTER_SCRATCH"
GIT_TIMEOUT = 120.0
RAN = re.compile(r"^Running stage '([^']+)':", re.MULTILINE)
REUSED = re.compile(
    r"^(?:Pulling data for stage: '([^']+)'|Stage '([^']+)' didn't change, skipping)", re.MULTILINE
)
RESTORED = re.compile(r"^Stage '([^']+)' is cached - skipping run", re.MULTILINE)
SCORES = re.compile(r"^metrics/([^/]+)/scores/test\.json$")


class PointFailed(RuntimeError):
    """A point could not be run or pushed; the message is one line naming the step."""


@dataclass(frozen=True)
class PointTask:
    """One grid point, as sent to a worker: no credentials, only where and what to run."""

    sweep: str
    """An id of the submission, so that its events can be told from another's."""
    origin: str
    """The git origin's URL, as the workers reach it."""
    baseline: str
    """The full sha of the commit the experiment starts from."""
    name: str
    overrides: tuple[str, ...]
    """The point's `-S` arguments."""
    remote: str | None = None
    """The DVC remote to use; None for the repository's default."""
    run_timeout: float = 4 * 3600.0
    push_timeout: float = 1800.0

    @property
    def ref(self) -> str:
        """The git ref `dvc exp run -n <name>` makes from the baseline."""
        return exp_ref(self.baseline, self.name)


@dataclass
class PointRecord:
    """What a worker sends back for one point."""

    name: str
    overrides: tuple[str, ...]
    status: str
    """"done", or "skipped" (already on the origin, by an earlier run or another attempt)."""
    worker: str = ""
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall seconds of clone, fetch (the baseline's outputs), run (`dvc exp run`), push and
    total, and of the stages' own work within run (their start-up aside)."""
    ran: list[str] = field(default_factory=list)
    """Stages whose command ran."""
    reused: list[str] = field(default_factory=list)
    """Stages unchanged since the baseline's dvc.lock: their outputs fetched from the remote
    (or found in the worker's cache), not run."""
    restored: list[str] = field(default_factory=list)
    """Changed stages found in the run-cache, their outputs checked out instead of run."""
    test_accuracy: dict[str, float] = field(default_factory=dict)
    """Each model's test accuracy in the experiment's metrics/<model>/scores/test.json."""

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON data."""
        return {**self.__dict__, "overrides": list(self.overrides)}


def exp_ref(baseline: str, name: str) -> str:
    """``refs/exps/<2>/<38>/<name>``: where DVC keeps experiment ``name`` of ``baseline``."""
    return f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"


def tool_environment() -> dict[str, str]:
    """The worker's environment, with its interpreter's folder first on PATH, so that `dvc`
    and the `python` of dvc.yaml are the project's venv; dvc's analytics off."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["DVC_NO_ANALYTICS"] = "1"
    env.setdefault("GIT_TERMINAL_PROMPT", "0")
    return env


def last_line(text: str) -> str:
    """The last non-empty line of ``text`` (a tool's error), or "no output"."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def run_logged(
    args: list[str],
    cwd: Path,
    timeout: float,
    log: Path | None = None,
    step: str = "",
    env: dict[str, str] | None = None,
) -> str:
    """Run ``args`` in ``cwd``; its output (appended to ``log`` as it comes, if given) is
    returned. PointFailed, naming ``step``, if it exits non-zero or outlasts ``timeout``
    seconds (then it and its children are killed)."""
    import psutil

    step = step or " ".join(args[:3])
    sink = open(log, "a") if log else subprocess.PIPE  # noqa: SIM115
    try:
        if log:
            sink.write(f"$ {' '.join(args)}\n")
            sink.flush()
        process = subprocess.Popen(
            args,
            cwd=cwd,
            env={**tool_environment(), **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            out, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for child in psutil.Process(process.pid).children(recursive=True):
                child.kill()
            process.kill()
            process.wait()
            raise PointFailed(f"{step}: no result after {timeout:.0f} s, stopped") from None
    finally:
        if log:
            sink.close()
    output = out if out is not None else log.read_text() if log else ""
    if process.returncode != 0:
        raise PointFailed(f"{step} exited {process.returncode}: {last_line(output)}")
    return output


def origin_refs(origin: str, timeout: float = GIT_TIMEOUT, cwd: Path | None = None) -> dict:
    """``{ref: sha}`` of every ref on the origin (`git ls-remote`), bounded by ``timeout``.
    PointFailed with git's own last line if the origin cannot be reached."""
    where = cwd or Path.cwd()
    output = run_logged(
        ["git", "ls-remote", origin], where, timeout, step=f"git ls-remote {origin}"
    )
    refs = {}
    for line in output.splitlines():
        sha, _, ref = line.partition("\t")
        if ref:
            refs[ref] = sha
    return refs


def probe_origin(origin: str, timeout: float = GIT_TIMEOUT) -> dict[str, Any]:
    """Run on a worker before a sweep: the origin's refs as that worker sees them, and the
    worker's address, so that an origin the workers cannot reach fails before any task."""
    return {"worker": worker_address(), "refs": origin_refs(origin, timeout)}


def worker_address() -> str:
    """The Dask worker's address, or this host's name outside a worker."""
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:
        return socket.gethostname()


def scratch_folder() -> Path:
    """``$MNIST_CLUSTER_SCRATCH``, else the Dask worker's local directory."""
    if os.environ.get(SCRATCH_ENV):
        return Path(os.environ[SCRATCH_ENV])
    from distributed import get_worker

    return Path(get_worker().local_directory) / "mnist-cluster"


def log_event(task: PointTask, kind: str, **data: Any) -> None:
    """Tell the submitter (Dask's event log, topic `EVENT_TOPIC`) what this task does."""
    try:
        from distributed import get_worker

        get_worker().log_event(
            EVENT_TOPIC, {"sweep": task.sweep, "name": task.name, "kind": kind, **data}
        )
    except ValueError:
        pass


def read_test_accuracy(clone: Path) -> dict[str, float]:
    """Each model's test accuracy from the experiment's metrics/<model>/scores/test.json."""
    found = {}
    for path in sorted((clone / "metrics").glob("*/scores/test.json")):
        match = SCORES.match(path.relative_to(clone).as_posix())
        if match:
            found[match[1]] = json.loads(path.read_text())["acc"]
    return found


DONE = re.compile(r"^\w+: done in ([\d.]+) s$", re.MULTILINE)
"""The line each stage's `run_stage` logs after its work (its start-up excluded)."""


def stage_seconds(output: str) -> float:
    """The seconds of the stages' own work in dvc's ``output``: the sum of their ``done in``
    lines."""
    return round(sum(float(seconds) for seconds in DONE.findall(output)), 2)


def run_point(task: PointTask) -> dict[str, Any]:
    """Run one point on this worker and push it; return its `PointRecord` as JSON data."""
    started = time.monotonic()
    worker = worker_address()
    log_event(task, "started", worker=worker)
    record = PointRecord(task.name, task.overrides, "skipped", worker)
    scratch = scratch_folder()
    log = scratch / "logs" / f"{task.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as header:
        header.write(f"\n# {time.strftime('%Y-%m-%d %H:%M:%S')} {task.name} on {worker}\n")
    if task.ref in origin_refs(task.origin, cwd=scratch):
        record.seconds = {"total": round(time.monotonic() - started, 2)}
        return record.to_json()
    clone = scratch / "runs" / f"{task.name}-{uuid.uuid4().hex[:8]}"
    clone.parent.mkdir(parents=True, exist_ok=True)
    try:
        record.seconds["clone"] = _timed(lambda: _clone(task, clone, scratch / "cache", log))
        remote = ["-r", task.remote] if task.remote else []
        # One `dvc fetch` of everything the baseline's dvc.lock names: `dvc exp run --pull`
        # alone pulls stage by stage, one dvc pull each (23 here, most of a point's time on
        # the slice). The experiment then checks the unchanged stages out of the cache.
        record.seconds["fetch"] = _timed(
            lambda: run_logged(
                ["dvc", "fetch", *remote], clone, task.push_timeout, log, step="dvc fetch"
            )
        )
        settings = [arg for override in task.overrides for arg in ("-S", override)]
        output = ""

        def experiment() -> None:
            nonlocal output
            output = run_logged(
                ["dvc", "exp", "run", "-n", task.name, "--pull", *settings],
                clone,
                task.run_timeout,
                log,
                step="dvc exp run",
            )

        record.seconds["run"] = _timed(experiment)
        record.seconds["stages"] = stage_seconds(output)
        record.ran = RAN.findall(output)
        record.reused = [pulled or skipped for pulled, skipped in REUSED.findall(output)]
        record.restored = RESTORED.findall(output)
        record.test_accuracy = read_test_accuracy(clone)

        def push() -> None:
            run_logged(
                ["dvc", "push", "--run-cache", *remote],
                clone,
                task.push_timeout,
                log,
                step="dvc push --run-cache",
            )
            run_logged(
                ["dvc", "exp", "push", "--no-cache", "origin", task.name],
                clone,
                task.push_timeout,
                log,
                step="dvc exp push",
            )

        record.seconds["push"] = _timed(push)
        local = run_logged(["git", "rev-parse", task.ref], clone, GIT_TIMEOUT).strip()
        on_origin = origin_refs(task.origin, cwd=clone).get(task.ref)
        if on_origin is None:
            raise PointFailed(f"dvc exp push: {task.ref} is not on the origin after the push")
        record.status = "done" if on_origin == local else "skipped"
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    record.seconds["total"] = round(time.monotonic() - started, 2)
    log_event(task, "finished", worker=worker, status=record.status)
    return record.to_json()


def _timed(step: Any) -> float:
    start = time.monotonic()
    step()
    return round(time.monotonic() - start, 2)


def _clone(task: PointTask, clone: Path, cache: Path, log: Path) -> None:
    """A clone of the origin at the baseline, its DVC cache the worker's shared one."""
    run_logged(
        ["git", "clone", "-q", "--no-checkout", task.origin, str(clone)],
        clone.parent,
        GIT_TIMEOUT,
        log,
        step="git clone",
    )
    run_logged(
        ["git", "checkout", "-q", "--detach", task.baseline],
        clone,
        GIT_TIMEOUT,
        log,
        step="git checkout",
    )
    cache.mkdir(parents=True, exist_ok=True)
    run_logged(
        ["dvc", "cache", "dir", "--local", str(cache)],
        clone,
        GIT_TIMEOUT,
        log,
        step="dvc cache dir",
    )
