"""Run the grid of `dvc exp run -S` points that several -S make on a Dask cluster, each in a
worker's clone of the git origin, pushing the experiment there and its data to the DVC remote,
then `dvc exp pull` them here; points on the origin are skipped (docs/cluster.md)."""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from mnist_pipeline import results

GIT_TIMEOUT = 120.0


class ClusterError(RuntimeError):
    """The sweep cannot start or a step failed; the message is one line."""


def _last_line(text: str) -> str:
    return ([line.strip() for line in text.splitlines() if line.strip()] or ["no output"])[-1]


def _why(err: BaseException) -> str:
    return _last_line(str(err)) if str(err) else type(err).__name__


def _run(args: list[str], cwd: Path, timeout: float = GIT_TIMEOUT, log: Path | None = None) -> str:
    """``args``' output (appended to ``log`` as it comes), this interpreter's bin first on PATH;
    ClusterError on failure or after ``timeout`` s, its process tree killed."""
    import psutil

    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "GIT_TERMINAL_PROMPT": "0"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    what = " ".join(args[:3])
    with open(log, "a+") if log else tempfile.TemporaryFile("w+") as sink:
        print(f"$ {' '.join(args)}", file=sink, flush=True)
        begin = sink.tell()
        process = subprocess.Popen(args, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            for child in [*psutil.Process(process.pid).children(recursive=True), process]:
                child.kill()
            process.wait()
            raise ClusterError(f"{what}: no result after {timeout:.0f} s") from None
        sink.seek(begin)
        output = sink.read()
    if process.returncode != 0:
        raise ClusterError(f"{what} exited {process.returncode}: {_last_line(output)}")
    return output


def _git_ok(*args: str) -> bool:
    return subprocess.run(["git", *args], capture_output=True, check=False).returncode == 0


def exp_ref(baseline: str, name: str) -> str:
    """Where DVC keeps experiment ``name`` of commit ``baseline``."""
    return f"refs/exps/{baseline[:2]}/{baseline[2:]}/{name}"


def point_name(overrides: tuple[str, ...]) -> str:
    """``pca.n-40_models.knn.k-3``, the same each time (a retried point makes the same ref),
    with a digest where a value has characters a git ref cannot hold."""
    readable = "_".join(override.replace("=", "-", 1) for override in overrides)
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", readable).strip(".-_")
    if safe == readable and len(safe) <= 60 and ".." not in safe and not safe.endswith(".lock"):
        return safe
    digest = hashlib.sha256("\0".join(overrides).encode()).hexdigest()[:10]
    return f"{safe[:60] or 'point'}-{digest}"


def grid(settings: list[str]) -> dict[str, tuple[str, ...]]:
    """{name: overrides} of the -S ``settings``' points, as `dvc exp run --queue` queues them."""
    from dvc.utils.cli_parse import to_path_overrides
    from dvc.utils.hydra import get_hydra_sweeps

    try:
        sweeps = get_hydra_sweeps(to_path_overrides(settings))
    except Exception as err:  # DVC's InvalidArgumentError and hydra's parse errors
        raise ClusterError(f"-S {' -S '.join(settings)}: {_last_line(str(err))}") from None
    points = [
        tuple(f"{f}:{o}".removeprefix("params.yaml:") for f, v in s.items() for o in v)
        for s in sweeps
    ]
    return {point_name(p): p for p in points}


def _origin_refs(origin: str) -> dict[str, str]:
    listed = _run(["git", "ls-remote", origin], Path.cwd())
    return {ref: sha for sha, _, ref in (line.partition("\t") for line in listed.splitlines())}


def _run_point(task: dict) -> dict:
    """On a worker: `dvc exp run` the point in a clone of the origin at the baseline, push its
    data and run records, then its ref (so a ref on the origin has its data)."""
    from distributed import get_worker

    worker, name, origin, timeout = get_worker(), task["name"], task["origin"], task["timeout"]
    worker.log_event("mnist-cluster", {"name": name, "worker": worker.address})
    started, ref = time.monotonic(), exp_ref(task["baseline"], name)
    record = {"name": name, "overrides": task["overrides"], "worker": worker.address, "ran": []}
    if ref in _origin_refs(origin):
        return {**record, "status": "skipped", "seconds": 0}
    scratch = Path(os.environ.get("MNIST_CLUSTER_SCRATCH") or worker.local_directory)
    clone = scratch / "runs" / f"{name}-{uuid.uuid4().hex[:8]}"
    log = scratch / "logs" / f"{name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    remote = ["-r", task["remote"]] if task["remote"] else []
    settings = [arg for override in task["overrides"] for arg in ("-S", override)]
    try:
        _run(["git", "clone", "-q", "--no-checkout", origin, str(clone)], scratch, log=log)
        _run(["git", "checkout", "-q", "--detach", task["baseline"]], clone, log=log)
        # One DVC cache per worker, outliving its tasks; one fetch, not --pull's stage by stage.
        _run(["dvc", "cache", "dir", "--local", str(scratch / "cache")], clone, log=log)
        _run(["dvc", "fetch", *remote], clone, timeout, log)
        run = ["dvc", "exp", "run", "-n", name, "--pull", *settings, *task["targets"]]
        output = _run(run, clone, timeout, log)
        _run(["dvc", "push", "--run-cache", *remote], clone, timeout, log)
        _run(["dvc", "exp", "push", "--no-cache", "origin", name], clone, timeout, log)
        mine = _run(["git", "rev-parse", ref], clone).strip()
        # Another attempt of the same point (a worker thought dead) may have pushed first.
        status = "done" if _origin_refs(origin).get(ref) == mine else "skipped"
    finally:
        shutil.rmtree(clone, ignore_errors=True)
    ran = re.findall(r"^Running stage '([^']+)':", output, re.MULTILINE)
    return {**record, "status": status, "seconds": round(time.monotonic() - started, 1), "ran": ran}


def _sweep(args: argparse.Namespace, points: dict[str, tuple[str, ...]]) -> list[dict]:
    """Run the points not yet on the origin; the records of all of them, in grid order."""
    from distributed import Client, as_completed

    address, wait = args.scheduler, args.connect_timeout
    try:
        client = Client(address, timeout=wait, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        why = f"no Dask scheduler answered at {address} within {wait:.0f} s ({_why(err)})"
        raise ClusterError(why) from None
    with client:
        try:
            client.wait_for_workers(1, timeout=wait)
        except (OSError, TimeoutError):
            why = f"the scheduler at {address} has no worker in {wait:.0f} s"
            raise ClusterError(why) from None
        baseline = _run(["git", "rev-parse", "--verify", f"{args.rev}^{{commit}}"], Path.cwd())[:40]
        try:
            refs = client.submit(_origin_refs, args.origin, pure=False).result(GIT_TIMEOUT)
        except Exception as err:  # our ClusterError, as the worker raised it, or a timeout
            raise ClusterError(f"the workers cannot reach the git origin: {_why(err)}") from None
        heads = {sha for ref, sha in refs.items() if ref.startswith(("refs/heads/", "refs/tags/"))}
        if not any(_git_ok("merge-base", "--is-ancestor", baseline, head) for head in heads):
            raise ClusterError(f"the baseline {baseline[:7]} is not on the origin: push it first")
        records = {
            name: {"name": name, "overrides": list(o), "status": "skipped", "ran": []}
            for name, o in points.items()
            if exp_ref(baseline, name) in refs
        }
        todo = {name: o for name, o in points.items() if name not in records}
        if not todo:
            print(f"all {len(points)} point(s) are already on the origin: nothing to run")
        starts: dict[str, str] = {}

        def started(event: tuple[float, dict]) -> None:
            name, worker = event[1]["name"], event[1]["worker"]
            if starts.setdefault(name, worker) != worker:
                print(f"retrying {name} on {worker} (its worker {starts[name]} left)", flush=True)
            starts[name] = worker

        client.subscribe_topic("mnist-cluster", started)
        # No credential in a task: the workers have their own.
        job = {"origin": args.origin, "baseline": baseline, "remote": args.remote}
        job["targets"] = args.targets  # tune's: only the stages of the model it tunes
        job["timeout"], names = args.run_timeout, {}
        for name, o in todo.items():
            key, task = f"{name}-{uuid.uuid4().hex[:8]}", {**job, "name": name, "overrides": o}
            names[client.submit(_run_point, task, key=key, retries=args.retries, pure=False)] = name
        print(f"submitting {len(todo)} point(s): {', '.join(todo)}", flush=True)
        for future in as_completed(names, loop=client.loop):
            name = names[future]
            try:
                records[name] = future.result()
            except Exception as err:  # the task's own error, or KilledWorker
                records[name] = {"name": name, "status": "failed", "error": _why(err), "ran": []}
            said = records[name].get("error") or f"{len(records[name]['ran'])} stage(s) ran"
            print(f"{records[name]['status']} {name}: {said}", flush=True)
    done = [n for n in points if records[n]["status"] != "failed"]
    missing = [n for n in done if not _git_ok("rev-parse", "-q", "--verify", exp_ref(baseline, n))]
    if missing:
        no_cache = [] if args.pull_data else ["--no-cache"]
        pull = [sys.executable, "-m", "dvc", "exp", "pull", *no_cache, args.origin, *missing]
        _run(pull, Path.cwd(), args.run_timeout)
    for name in points:
        records[name]["accuracy"] = _accuracy(exp_ref(baseline, name)) if name in done else {}
    return [records[name] for name in points]


def _accuracy(ref: str) -> dict[str, float]:
    """{model: test accuracy} in the experiment at ``ref``, read from git."""
    fs = results.open_revision(ref)
    models = sorted(results.scored_models(fs))
    return {model: results.model_scores(fs, model)["test"]["acc"] for model in models}


def _table(records: list[dict]) -> str:
    """The points as Markdown: status, worker, seconds, stages ran, and the accuracy of each
    model whose scores the points changed (of all where none ran)."""
    ran = {s.split("@")[1] for r in records for s in r["ran"] if s.startswith("evaluate@")}
    models = sorted(ran or {m for r in records for m in r["accuracy"]})
    header = ["point", "status", "worker", "seconds", "stages ran", *models]
    lines = ["| " + " | ".join(header) + " |", "|---|---|---|---:|---:|" + "---:|" * len(models)]
    for r in records:
        timing = [r["seconds"], len(r["ran"])] if r["status"] == "done" else ["", ""]
        cells = [r["name"], r["status"], r.get("worker", ""), *timing]
        cells += [f"{100 * r['accuracy'][m]:.2f}%" if m in r["accuracy"] else "" for m in models]
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    counts = [sum(r["status"] == s for r in records) for s in ("done", "skipped", "failed")]
    lines.append("\n{} done, {} skipped (already on the origin), {} failed".format(*counts))
    lines += [f"Failed: {r['name']}: {r['error']}" for r in records if r["status"] == "failed"]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run the sweep; 0 when every point is on the origin, 1 on an error or a failed point."""
    parser = argparse.ArgumentParser(prog="cluster", description=__doc__)
    add = parser.add_argument
    add("--scheduler", required=True, help="the Dask scheduler, e.g. tcp://10.0.0.5:8786")
    add("--origin", required=True, help="the git origin's URL, as the workers reach it")
    add("--rev", default="HEAD", help="the baseline commit, already on the origin (HEAD)")
    add("-S", dest="settings", action="append", required=True, metavar="KEY=VALUES", help="a grid")
    add("-r", "--remote", help="the DVC remote (default: the repository's)")
    add("--connect-timeout", type=float, default=10.0, help="for the scheduler and a worker (10 s)")
    add("--run-timeout", type=float, default=4 * 3600.0, help="for one step of a point (4 h)")
    add("--retries", type=int, default=1, help="reruns of a point that failed on a worker (1)")
    add("--pull-data", action="store_true", help="fetch the experiments' data, not only refs")
    add("--summary", type=Path, metavar="FILE", help="also write the points as JSON to FILE")
    args = parser.parse_args(argv)
    args.targets = []
    try:
        records = _sweep(args, grid(args.settings))
    except (ClusterError, results.ResultsError) as err:
        print(f"cluster: error: {err}", file=sys.stderr)
        return 1
    if args.summary:
        args.summary.write_text(json.dumps({"points": records}, indent=2) + "\n")
    print("\n" + _table(records), end="")
    return 1 if any(r["status"] == "failed" for r in records) else 0


if __name__ == "__main__":
    sys.exit(main())
