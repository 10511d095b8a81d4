"""The team's repository, `git daemon` and a Dask cluster on 127.0.0.1 for the cluster tests."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import yaml
from conftest import commit_results, copy_of, dvc, git, make_small_repo, tool_env
from s3server import S3Server, free_port, start, stop

STAGES = ("download", "decode", "normalize", "pca", "train", "evaluate")
MODELS = ("knn",)
BIN = Path(sys.executable).parent
REPRODUCED: list[Path] = []  # the session's first reproduced slice, for the next module


def small_team_repo(dest: Path, server: S3Server) -> Path:
    """The slice cut to `STAGES` for `MODELS`, reproduced once a session, ``server`` its remote."""
    if not REPRODUCED:
        repo = make_small_repo(dest)
        pipeline = yaml.safe_load((repo / "dvc.yaml").read_text())
        models = yaml.safe_load((repo / "params.yaml").read_text())["models"]
        stages = {name: stage for name, stage in pipeline["stages"].items() if name in STAGES}
        for stage in stages.values():
            if stage.get("foreach") == "${models}":
                stage["foreach"] = {model: models[model] for model in MODELS}
        (repo / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
        dvc(repo, "repro")
        commit_results(repo, "the slice's pipeline cut to knn, reproduced")
        REPRODUCED.append(copy_of(repo, dest.with_name(f"{dest.name}-reproduced")))
    repo = dest if dest.exists() else copy_of(REPRODUCED[0], dest)
    dvc(repo, "remote", "add", "-f", "-d", "team", server.url())
    dvc(repo, "remote", "modify", "team", "endpointurl", server.endpoint)
    git(repo, "commit", "-q", "-m", "the team's remote", ".dvc/config")
    return repo


def publish(repo: Path, server: S3Server, origin: str) -> str:
    """`dvc push --run-cache` (credentials in it only), main pushed to a new ``origin``; HEAD."""
    dvc(repo, "push", "--run-cache", env=server.credentials_env())
    git(repo, "remote", "add", "origin", origin)
    git(repo, "push", "-q", "origin", "main")
    return git(repo, "rev-parse", "HEAD").stdout.strip()


@contextlib.contextmanager
def git_daemon(base: Path) -> Iterator[str]:
    """`git daemon` serving, push enabled, a new bare repository: its git:// URL."""
    git(base, "init", "-q", "--bare", "-b", "main", "origin.git")
    port = free_port()
    args = ["git", "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack"]
    args += ["--informative-errors", f"--base-path={base}", "--listen=127.0.0.1", f"--port={port}"]
    process = start([*args, str(base)], port, base.with_suffix(".log"))
    try:
        yield f"git://127.0.0.1:{port}/origin.git"
    finally:
        stop(process)


@dataclass
class Worker:
    """A `dask worker` as a machine of its own: its scratch folder and address."""

    scratch: Path
    address: str
    process: Popen


@contextlib.contextmanager
def dask_cluster(base: Path, names: tuple[str, ...], env: dict) -> Iterator[tuple[str, list]]:
    """A scheduler and registered one-thread workers on 127.0.0.1: its address, the `Worker`s."""
    from distributed import Client

    port, workers = free_port(), []
    # One task at a time per one-thread worker (Dask's default saturation sends it two).
    config = {**tool_env(), "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}
    common = ["--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
    args = [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), *common]
    scheduler = start(args, port, base / "scheduler.log", env=config, cwd=base)
    address = f"tcp://127.0.0.1:{port}"
    try:
        for name in names:
            folder, port = base / name, free_port()
            own = f"tcp://127.0.0.1:{port}"
            args = [str(BIN / "dask"), "worker", address, "--name", name, "--nthreads", "1"]
            args += ["--no-nanny", *common, "--listen-address", own, "--contact-address", own]
            args += ["--local-directory", str(folder / "dask"), "--death-timeout", "60"]
            scratch = {"MNIST_CLUSTER_SCRATCH": str(folder / "scratch")}
            process = start(args, port, folder / "worker.log", env={**config, **env, **scratch})
            workers.append(Worker(folder / "scratch", own, process))
        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(len(names), timeout=60)
        yield address, workers
    finally:
        for worker in workers:
            stop(worker.process)
        stop(scheduler)
