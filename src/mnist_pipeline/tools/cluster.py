"""The submitting side of a cluster sweep: for the points of the grid (`cluster_grid`), one Dask
task per point (`cluster_task.run_point`), progress while they run, a summary, and `dvc exp
pull` of every experiment into the repository it runs in.

A worker that dies takes its task back to the scheduler, which gives it to another worker
(Dask's `allowed-failures`); a point whose workers died more often than that comes back as
`KilledWorker` and is submitted once more, up to ``resubmits`` times. Names are derived from
the parameters, so a retried point cannot make a second experiment.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mnist_pipeline.tools.cluster_task import (
    EVENT_TOPIC,
    GIT_TIMEOUT,
    PointFailed,
    PointTask,
    exp_ref,
    last_line,
    probe_origin,
    run_point,
)

if TYPE_CHECKING:
    from mnist_pipeline.tools.cluster_grid import GridPoint

POLL_SECONDS = 1.0


class ClusterError(RuntimeError):
    """The sweep cannot start or finish; the message is one line."""


def git_output(repo: Path, *args: str, timeout: float = GIT_TIMEOUT) -> str:
    """The stdout of git in ``repo``; ClusterError with its last line if it fails."""
    try:
        result = subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise ClusterError(f"git {' '.join(args)}: no answer after {timeout:.0f} s") from None
    if result.returncode != 0:
        raise ClusterError(f"git {' '.join(args)}: {last_line(result.stderr or result.stdout)}")
    return result.stdout


def resolve_baseline(repo: Path, rev: str) -> str:
    """The full sha of ``rev`` in ``repo``."""
    return git_output(repo, "rev-parse", "--verify", f"{rev}^{{commit}}").strip()


def baseline_is_on_origin(repo: Path, baseline: str, refs: dict[str, str]) -> bool:
    """Whether a branch or tag of the origin (its ``refs``) holds ``baseline``."""
    heads = {sha for ref, sha in refs.items() if ref.startswith(("refs/heads/", "refs/tags/"))}
    if baseline in heads:
        return True
    for sha in heads:
        known = subprocess.run(
            ["git", "merge-base", "--is-ancestor", baseline, sha],
            cwd=repo,
            check=False,
            capture_output=True,
        )
        if known.returncode == 0:
            return True
    return False


@dataclass
class Progress:
    """Where each point stands, from the futures and the workers' events."""

    names: list[str]
    done: set[str] = field(default_factory=set)
    failed: dict[str, str] = field(default_factory=dict)
    starts: dict[str, list[str]] = field(default_factory=dict)
    """The workers each point started on, in order."""

    @property
    def running(self) -> set[str]:
        """Points started (on their latest worker) and not yet back."""
        return {name for name in self.starts if name not in self.done | set(self.failed)}

    def line(self, started: float) -> str:
        """``[  12 s] 2/6 done, 2 running, 0 failed, 2 waiting``."""
        waiting = len(self.names) - len(self.done) - len(self.running) - len(self.failed)
        return (
            f"[{time.monotonic() - started:5.0f} s] {len(self.done)}/{len(self.names)} done, "
            f"{len(self.running)} running, {len(self.failed)} failed, {waiting} waiting"
        )


@dataclass(frozen=True)
class SweepSettings:
    """Everything the submitter needs besides the grid."""

    scheduler: str
    origin: str
    repo: Path
    baseline_rev: str = "HEAD"
    remote: str | None = None
    connect_timeout: float = 10.0
    probe_timeout: float = 60.0
    run_timeout: float = 4 * 3600.0
    resubmits: int = 1
    pull_data: bool = False


def connect(address: str, timeout: float) -> Any:
    """A Dask client of the scheduler at ``address``, with at least one worker; ClusterError
    after ``timeout`` seconds of trying."""
    import dask
    from distributed import Client

    with dask.config.set({"distributed.comm.timeouts.connect": f"{timeout}s"}):
        try:
            client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as err:
            raise ClusterError(
                f"no Dask scheduler answered at {address} within {timeout:.0f} s "
                f"({last_line(str(err)) if str(err) else type(err).__name__})"
            ) from None
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError):
        client.close()
        raise ClusterError(
            f"the scheduler at {address} has no worker after {timeout:.0f} s: start one with "
            f"`dask worker {address}`"
        ) from None
    return client


def submit_sweep(
    settings: SweepSettings, points: Sequence[GridPoint], say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run the grid on the cluster and fetch its experiments; return the summary (JSON
    data): the baseline, each point's record or error, and the wall seconds."""
    started = time.monotonic()
    baseline = resolve_baseline(settings.repo, settings.baseline_rev)
    client = connect(settings.scheduler, settings.connect_timeout)
    try:
        workers = sorted(client.scheduler_info()["workers"])
        say(f"cluster: {settings.scheduler}, {len(workers)} worker(s); baseline {baseline[:7]}")
        refs = _probe(client, settings)
        if not baseline_is_on_origin(settings.repo, baseline, refs):
            raise ClusterError(
                f"the baseline {baseline[:7]} is not on the origin {settings.origin}: "
                "git push it first"
            )
        present = [p for p in points if exp_ref(baseline, p.name) in refs]
        todo = [p for p in points if p not in present]
        if present:
            say(f"{len(present)} of {len(points)} point(s) already on the origin, skipped")
        records: dict[str, dict] = {
            p.name: {"name": p.name, "overrides": list(p.overrides), "status": "skipped"}
            for p in present
        }
        failed: dict[str, str] = {}
        if todo:
            sweep_id = uuid.uuid4().hex[:12]
            tasks = {
                p.name: PointTask(
                    sweep=sweep_id,
                    origin=settings.origin,
                    baseline=baseline,
                    name=p.name,
                    overrides=p.overrides,
                    remote=settings.remote,
                    run_timeout=settings.run_timeout,
                )
                for p in todo
            }
            say(f"submitting {len(todo)} point(s): {', '.join(tasks)}")
            done, failed = _run_tasks(client, tasks, settings.resubmits, say)
            records.update(done)
        else:
            say(f"all {len(points)} point(s) are already on the origin: nothing to run")
    finally:
        client.close()
    names = [p.name for p in points if p.name in records]
    fetched = fetch_experiments(settings, names, baseline)
    for name in names:
        if not records[name].get("test_accuracy"):
            records[name]["test_accuracy"] = _accuracy_at(settings.repo, exp_ref(baseline, name))
    summary = {
        "scheduler": settings.scheduler,
        "origin": settings.origin,
        "baseline": baseline,
        "workers": workers,
        "points": [
            records.get(p.name)
            or {"name": p.name, "status": "failed", "error": failed.get(p.name, "")}
            for p in points
        ],
        "fetched": fetched,
        "seconds": round(time.monotonic() - started, 2),
    }
    return summary


def _probe(client: Any, settings: SweepSettings) -> dict[str, str]:
    """The origin's refs, as a worker sees them; ClusterError if it cannot reach it."""
    future = client.submit(probe_origin, settings.origin, settings.probe_timeout, pure=False)
    try:
        result = future.result(timeout=settings.probe_timeout + settings.connect_timeout)
    except PointFailed as err:
        raise ClusterError(f"the workers cannot reach the git origin: {err}") from None
    except TimeoutError:
        raise ClusterError(
            f"no worker answered within {settings.probe_timeout:.0f} s whether it reaches "
            f"{settings.origin}"
        ) from None
    return result["refs"]


def _run_tasks(
    client: Any, tasks: dict[str, PointTask], resubmits: int, say: Callable[[str], None]
) -> tuple[dict[str, dict], dict[str, str]]:
    """Submit one task per point and follow them to the end; (records, errors) by name."""
    from distributed import KilledWorker

    started = time.monotonic()
    progress = Progress(list(tasks))
    futures = {
        name: client.submit(run_point, task, key=f"point-{task.sweep}-{name}", pure=False)
        for name, task in tasks.items()
    }
    attempts = dict.fromkeys(tasks, 0)
    records: dict[str, dict] = {}
    seen_events = 0
    last = ""
    while futures:
        time.sleep(POLL_SECONDS)
        events = client.get_events(EVENT_TOPIC)
        for _, event in events[seen_events:]:
            if event.get("sweep") != next(iter(tasks.values())).sweep:
                continue
            if event["kind"] == "started":
                before = progress.starts.setdefault(event["name"], [])
                if before:
                    say(
                        f"retrying {event['name']} on {event['worker']} "
                        f"(its worker {before[-1]} left)"
                    )
                before.append(event["worker"])
        seen_events = len(events)
        for name, future in list(futures.items()):
            if future.status == "finished":
                record = future.result()
                records[name] = record
                progress.done.add(name)
                del futures[name]
                say(_done_line(record))
            elif future.status == "error":
                error = future.exception()
                if isinstance(error, KilledWorker) and attempts[name] < resubmits:
                    attempts[name] += 1
                    task = tasks[name]
                    say(f"resubmitting {name}: its workers died ({last_line(str(error))})")
                    futures[name] = client.submit(
                        run_point,
                        task,
                        key=f"point-{task.sweep}-{name}-{attempts[name]}",
                        pure=False,
                    )
                    continue
                message = (
                    f"workers died running it ({last_line(str(error))})"
                    if isinstance(error, KilledWorker)
                    else last_line(str(error)) or type(error).__name__
                )
                progress.failed[name] = message
                del futures[name]
                say(f"failed {name}: {message}")
        line = progress.line(started)
        if line.split("] ", 1)[1] != last:
            say(line)
            last = line.split("] ", 1)[1]
    return records, progress.failed


def _done_line(record: dict) -> str:
    if record["status"] == "skipped":
        return f"skipped {record['name']} on {record['worker']}: already on the origin"
    seconds = record["seconds"]
    return (
        f"done {record['name']} on {record['worker']} in {seconds['total']:.0f} s "
        f"(clone {seconds['clone']:.0f}, fetch {seconds['fetch']:.0f}, run {seconds['run']:.0f}, "
        f"push {seconds['push']:.0f}): {len(record['ran'])} stage(s) ran, "
        f"{len(record['reused'])} reused"
    )


def fetch_experiments(settings: SweepSettings, names: Sequence[str], baseline: str) -> list[str]:
    """`dvc exp pull` the experiments ``names`` of ``baseline`` not yet in ``settings.repo``
    (their git refs, and their data too with ``pull_data``); the names fetched."""
    missing = [
        name
        for name in names
        if subprocess.run(
            ["git", "rev-parse", "-q", "--verify", exp_ref(baseline, name)],
            cwd=settings.repo,
            capture_output=True,
            check=False,
        ).returncode
        != 0
    ]
    if not missing:
        return []
    args = [sys.executable, "-m", "dvc", "exp", "pull"]
    if not settings.pull_data:
        args.append("--no-cache")
    args += [settings.origin, *missing]
    result = subprocess.run(
        args,
        cwd=settings.repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=settings.run_timeout,
    )
    if result.returncode != 0:
        raise ClusterError(f"dvc exp pull: {last_line(result.stderr or result.stdout)}")
    return missing


def _accuracy_at(repo: Path, ref: str) -> dict[str, float]:
    """Each model's test accuracy in the scores of git ref ``ref`` of ``repo``."""
    listed = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", ref, "metrics"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    found = {}
    for path in listed.stdout.splitlines():
        match = re.match(r"^metrics/([^/]+)/scores/test\.json$", path)
        if match:
            shown = subprocess.run(
                ["git", "show", f"{ref}:{path}"],
                cwd=repo,
                capture_output=True,
                text=True,
                check=True,
            )
            found[match[1]] = json.loads(shown.stdout)["acc"]
    return found


def summary_table(summary: dict[str, Any]) -> str:
    """The summary as Markdown: one row per point, then the totals."""
    points = summary["points"]
    ran_models = sorted(
        {
            stage.split("@", 1)[1]
            for p in points
            for stage in p.get("ran", [])
            if stage.startswith("evaluate@")
        }
    )
    models = ran_models or sorted({m for p in points for m in p.get("test_accuracy", {})})[:3]
    lines = [
        "| point | status | worker | seconds | stages ran | " + " | ".join(models) + " |",
        "|---|---|---|---:|---:|" + "---:|" * len(models),
    ]
    for p in points:
        accuracy = p.get("test_accuracy") or {}
        cells = [f"{100 * accuracy[m]:.2f}%" if m in accuracy else "" for m in models]
        seconds = p.get("seconds", {}).get("total")
        lines.append(
            f"| {p['name']} | {p['status']} | {p.get('worker', '')} | "
            f"{'' if seconds is None or p['status'] != 'done' else f'{seconds:.0f}'} | "
            f"{len(p['ran']) if 'ran' in p and p['status'] == 'done' else ''} | "
            + " | ".join(cells)
            + " |"
        )
    counts = {s: sum(p["status"] == s for p in points) for s in ("done", "skipped", "failed")}
    lines.append("")
    lines.append(
        f"{counts['done']} done, {counts['skipped']} skipped (already on the origin), "
        f"{counts['failed']} failed, in {summary['seconds']:.0f} s on "
        f"{len(summary['workers'])} worker(s); {len(summary['fetched'])} experiment(s) fetched."
    )
    for p in points:
        if p["status"] == "failed":
            lines.append(f"Failed: {p['name']}: {p.get('error', '')}")
    return "\n".join(lines) + "\n"
