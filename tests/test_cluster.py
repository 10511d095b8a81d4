"""src/cluster.py: a sweep on a real Dask cluster on 127.0.0.1 (a scheduler and two workers with
the remote's credentials), a git origin served by `git daemon` and the rclone S3 remote, on the
slice cut to the stages a `pca.n` point needs, submitted from a laptop without credentials."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from subprocess import PIPE, Popen
from types import SimpleNamespace

import conftest
import pytest
import yaml
from conftest import experiments, git, isolated_dvc_environment, run_main, shown, tool_env
from loopback_cluster import dask_cluster, git_daemon, publish, small_team_repo
from s3server import S3Server, free_port, stop

cluster_script = SimpleNamespace(**conftest.stage_main("cluster").__globals__)
TIMEOUT = 600


def test_the_grid_is_expanded_as_dvc_queues_it_and_each_point_named_after_its_values():
    assert cluster_script.grid(["pca.n=10,20", "models.knn.k=range(1,3)"]) == {
        "pca.n-10_models.knn.k-1": ("pca.n=10", "models.knn.k=1"),
        "pca.n-10_models.knn.k-2": ("pca.n=10", "models.knn.k=2"),
        "pca.n-20_models.knn.k-1": ("pca.n=20", "models.knn.k=1"),
        "pca.n-20_models.knn.k-2": ("pca.n=20", "models.knn.k=2"),
    }
    name = cluster_script.point_name(("models.mlp.hidden=[100,50]",))
    assert re.fullmatch(r"models\.mlp\.hidden--100-50-[0-9a-f]{10}", name)
    assert name != cluster_script.point_name(("models.mlp.hidden=[100-50]",))


def test_a_wrong_scheduler_address_gives_one_clear_line():
    address = f"tcp://127.0.0.1:{free_port()}"
    args = ("--scheduler", address, "--origin", "x", "-S", "pca.n=1", "--connect-timeout", "2")
    result = run_main("cluster", *args)
    assert result.returncode == 1
    assert f"cluster: error: no Dask scheduler answered at {address} within 2 s" in result.stderr


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Machine A's baseline on the S3 remote and the origin, a laptop's clone, two workers."""
    base = tmp_path_factory.mktemp("cluster")
    (base / "git").mkdir()
    with (
        isolated_dvc_environment(base / "dvc-site"),
        S3Server(base / "s3" / "data") as server,
        git_daemon(base / "git") as origin,
    ):
        baseline = publish(small_team_repo(base / "a", server), server, origin)
        git(base, "clone", "-q", origin, "laptop")
        with dask_cluster(base, ("w1", "w2"), server.credentials_env()) as (scheduler, workers):
            yield {
                "laptop": base / "laptop",
                "origin": origin,
                "baseline": baseline,
                "server": server,
                "scheduler": scheduler,
                "workers": workers,
            }


def submit(
    team: dict, *args: str, popen: bool = False, tool: str = "cluster"
) -> subprocess.CompletedProcess | Popen:
    """src/<tool>.py in the laptop's clone, with no credentials in its environment."""
    command = [sys.executable, f"src/{tool}.py", "--scheduler", team["scheduler"], *args]
    env = {k: v for k, v in tool_env().items() if not k.startswith("AWS_")}
    if popen:
        return subprocess.Popen(command, cwd=team["laptop"], env=env, stdout=PIPE, text=True)
    return subprocess.run(
        command, cwd=team["laptop"], env=env, capture_output=True, text=True, timeout=TIMEOUT
    )


def on_origin(team: dict) -> dict[str, str]:
    """{experiment name: commit} of the baseline's experiments on the origin."""
    prefix = cluster_script.exp_ref(team["baseline"], "")
    listed = git(team["laptop"], "ls-remote", team["origin"], f"{prefix}*").stdout
    return {ref[len(prefix) :]: sha for sha, ref in (x.split("\t") for x in listed.splitlines())}


@pytest.fixture(scope="module")
def sweep(team: dict) -> dict:
    """A two-point `pca.n` sweep from the laptop, its summary."""
    summary = team["laptop"] / "summary.json"
    result = submit(team, "--origin", team["origin"], "-S", "pca.n=10,20", "--summary", summary)
    assert result.returncode == 0, shown(result)
    return {"result": result, "points": json.loads(summary.read_text())["points"]}


@pytest.mark.slow
def test_a_sweep_brings_each_point_back_as_an_experiment_with_its_metrics(sweep, team):
    assert set(on_origin(team)) == {"pca.n-10", "pca.n-20"}
    fetched = experiments(team["laptop"])
    for point in sweep["points"]:
        exp = fetched[point["name"]]
        assert f"pca.n={exp['params']['pca']['n']}" in point["overrides"]
        acc = exp["metrics"]["metrics/knn/scores/test.json"]["acc"]
        assert point["status"] == "done" and point["accuracy"] == {"knn": acc}
        row = rf"^\| {point['name']} \| done \| tcp://127\.0\.0\.1:\d+ \| [\d.]+ \| 3 \| "
        assert re.search(row + rf"{100 * acc:.2f}% \|$", sweep["result"].stdout, re.M)
    assert "2 done, 0 skipped (already on the origin), 0 failed" in sweep["result"].stdout


@pytest.mark.slow
def test_a_point_runs_only_the_stages_its_parameter_changes_and_pushes_their_data(sweep, team):
    store = team["server"].bucket_dir / "store" / "files" / "md5"
    for point, commit in zip(sweep["points"], on_origin(team).values(), strict=True):
        assert point["ran"] == ["pca", "train@knn", "evaluate@knn"]
        lock = yaml.safe_load(git(team["laptop"], "show", f"{commit}:dvc.lock").stdout)
        for stage in lock["stages"].values():
            md5s = [o["md5"] for o in stage["outs"] if not o["path"].startswith("metrics/")]
            assert all((store / md5[:2] / md5[2:]).is_file() for md5 in md5s), stage


@pytest.mark.slow
def test_submitting_the_same_sweep_again_runs_nothing_and_says_so(sweep, team):
    again = submit(team, "--origin", team["origin"], "-S", "pca.n=10,20")
    assert again.returncode == 0, shown(again)
    assert "all 2 point(s) are already on the origin: nothing to run" in again.stdout
    assert "0 done, 2 skipped (already on the origin), 0 failed" in again.stdout


@pytest.mark.slow
def test_an_origin_the_workers_cannot_reach_gives_one_clear_line(team):
    unreachable = f"git://127.0.0.1:{free_port()}/origin.git"
    result = submit(team, "--origin", unreachable, "-S", "pca.n=10")
    assert result.returncode == 1
    assert result.stderr.startswith(
        f"cluster: error: the workers cannot reach the git origin: git ls-remote {unreachable} "
        "exited 128: "
    ), shown(result)
    assert len(result.stderr.splitlines()) == 1, shown(result)


@pytest.mark.slow
def test_a_point_whose_worker_is_killed_mid_experiment_is_run_again_on_the_other(sweep, team):
    running = submit(team, "--origin", team["origin"], "-S", "pca.n=30", popen=True)
    try:
        deadline = time.monotonic() + TIMEOUT
        # The worker whose clone has a workspace: `dvc exp run` is checking out or running.
        while not (victim := [w for w in team["workers"] if [*w.scratch.glob("runs/*/stages")]]):
            assert time.monotonic() < deadline and running.poll() is None
            time.sleep(0.1)
        victim = victim[0]
        stop(victim.process, signal.SIGKILL)  # a machine dying, with its dvc and stages
        stdout, _ = running.communicate(timeout=TIMEOUT)
    finally:
        running.kill()
    survivor = next(w for w in team["workers"] if w is not victim)
    assert running.returncode == 0, stdout
    retried = f"retrying pca.n-30 on {survivor.address} (its worker {victim.address} left)"
    assert retried in stdout.splitlines(), stdout
    assert f"| pca.n-30 | done | {survivor.address} |" in stdout
    assert "pca.n-30" in on_origin(team)


@pytest.mark.slow
def test_a_tuning_study_on_the_cluster_brings_its_trials_back_as_experiments(team):
    space = ["--model", "knn", "-S", "models.knn.k=int(1,9)", "--trials", "2", "--jobs", "2"]
    result = submit(team, "--origin", team["origin"], *space, tool="tune")
    assert result.returncode == 0, shown(result)
    assert {"knn-0", "knn-1"} <= set(on_origin(team))
    fetched = experiments(team["laptop"])
    for name in ("knn-0", "knn-1"):
        val = fetched[name]["metrics"]["metrics/knn/scores/val.json"]["acc"]
        assert f"trial {name}: val accuracy {val:.4f}" in result.stderr
    assert "Best on val: knn-" in result.stdout
