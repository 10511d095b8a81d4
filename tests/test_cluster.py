"""A cluster sweep (src/cluster.py) on a real Dask cluster on 127.0.0.1: a `dask scheduler`,
two `dask worker` processes, each as a machine of its own (scratch folder, HOME, git identity,
the S3 credentials in its environment only), a git origin served by `git daemon` (git://,
receive-pack enabled) and the rclone S3 server of the team tests, on the small MNIST slice.

The team's baseline is reproduced and pushed (`dvc push --run-cache`, `git push`) by machine
A; sweeps are submitted from a laptop that is a plain clone of the origin, without the
remote's credentials. Every Python process of the cluster (and the dvc and stage processes it
starts) records any socket aimed at an address other than 127.0.0.1; none may be.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import git, isolated_dvc_environment, make_small_repo, shown, tool_env
from loopback_cluster import (
    DaskWorker,
    GitDaemon,
    NetworkAudit,
    free_port,
    processes_under,
    publish_team,
    run_local_queue,
    running_cluster,
    summary_of,
)

from mnist_pipeline.tools.cluster_grid import grid, point_name
from mnist_pipeline.tools.cluster_task import PointTask, exp_ref
from mnist_pipeline.tools.s3server import S3Server

SWEEP = "pca.n=10,15,20,30,40,50"
KILL_SWEEP = "models.knn.k=1,2,3,5,6,7"
SUBMIT_TIMEOUT = 900.0
QUEUE_TIMEOUT = 900.0
PCA_STAGES = {
    "pca",
    "train@nearest_pca",
    "evaluate@nearest_pca",
    "package@nearest_pca",
    "train@knn",
    "evaluate@knn",
    "package@knn",
    "figures",
    "overlays",
    "summary",
}


# ---------------------------------------------------------------------------------------------
# Fast: the grid and the names


def test_the_grid_is_expanded_as_dvc_queues_it_and_each_point_named_after_its_values():
    points = grid(["pca.n=10,20", "models.knn.k=range(1,3)"])
    assert [p.overrides for p in points] == [
        ("pca.n=10", "models.knn.k=1"),
        ("pca.n=10", "models.knn.k=2"),
        ("pca.n=20", "models.knn.k=1"),
        ("pca.n=20", "models.knn.k=2"),
    ]
    assert [p.name for p in points] == [
        "pca.n-10_models.knn.k-1",
        "pca.n-10_models.knn.k-2",
        "pca.n-20_models.knn.k-1",
        "pca.n-20_models.knn.k-2",
    ]


def test_a_name_that_needs_other_characters_gets_a_digest_so_that_no_two_points_share_it():
    one = point_name(["models.mlp.hidden_layer_sizes=[100,50]"])
    other = point_name(["models.mlp.hidden_layer_sizes=[100-50]"])
    assert re.fullmatch(r"models\.mlp\.hidden_layer_sizes--100-50-[0-9a-f]{10}", one)
    assert one != other
    assert point_name(["models.mlp.hidden_layer_sizes=[100,50]"]) == one


def test_a_task_carries_no_credentials():
    fields = set(PointTask.__dataclass_fields__)
    assert fields == {
        "sweep",
        "origin",
        "baseline",
        "name",
        "overrides",
        "remote",
        "run_timeout",
        "push_timeout",
    }


def test_help_names_the_scheduler_the_origin_and_the_grid():
    result = subprocess.run(
        [sys.executable, "src/cluster.py", "--help"],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    for option in ("--scheduler", "--origin", "--rev", "-S KEY=VALUES"):
        assert option in result.stdout


# ---------------------------------------------------------------------------------------------
# The loopback cluster


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The folder of everything the cluster tests start; no process may be left in it."""
    folder = tmp_path_factory.mktemp("cluster")
    with isolated_dvc_environment(folder / "dvc-site"):
        yield folder
    assert processes_under(folder) == []


@pytest.fixture(scope="module")
def audit(base: Path) -> NetworkAudit:
    return NetworkAudit(base / "audit")


@pytest.fixture(scope="module")
def server(base: Path) -> Iterator[S3Server]:
    with S3Server(base / "s3" / "data") as running:
        yield running


@pytest.fixture(scope="module")
def daemon(base: Path) -> Iterator[GitDaemon]:
    (base / "git").mkdir()
    with GitDaemon(base / "git") as running:
        yield running


@pytest.fixture(scope="module")
def team(base: Path, server: S3Server, daemon: GitDaemon) -> dict:
    """Machine A: the slice reproduced, its outputs and run-cache on the S3 remote, its
    commits on the origin; the laptop: a clone of the origin, with no credentials."""
    return publish_team(make_small_repo(base / "machine-a"), base, server, daemon)


@pytest.fixture(scope="module")
def cluster(base: Path, audit: NetworkAudit, server: S3Server, team: dict) -> Iterator[dict]:
    """A scheduler and two workers, each with its own folder and the credentials."""
    env, worker_env = {**tool_env(), **audit.env()}, {**audit.env(), **server.credentials_env()}
    with running_cluster(base, ("w1", "w2"), env, worker_env) as (scheduler, workers):
        yield {"scheduler": scheduler, "workers": workers}


def submit(
    team: dict,
    scheduler: str,
    *settings: str,
    audit: NetworkAudit,
    origin: str | None = None,
    extra: tuple[str, ...] = (),
    summary: Path | None = None,
    popen: bool = False,
):
    """src/cluster.py, as the laptop runs it: its own clone's script, no credentials."""
    args = [
        sys.executable,
        "src/cluster.py",
        "--scheduler",
        scheduler,
        "--origin",
        origin or team["origin"],
        *extra,
    ]
    for setting in settings:
        args += ["-S", setting]
    if summary:
        args += ["--summary", str(summary)]
    env = {k: v for k, v in {**tool_env(), **audit.env()}.items() if not k.startswith("AWS_")}
    if popen:
        return subprocess.Popen(
            args,
            cwd=team["laptop"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    return subprocess.run(
        args,
        cwd=team["laptop"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=SUBMIT_TIMEOUT,
    )


def origin_experiments(team: dict) -> dict[str, str]:
    """{experiment name: commit} of the baseline's experiments on the origin."""
    prefix = exp_ref(team["baseline"], "")
    listed = git(team["laptop"], "ls-remote", team["origin"], f"{prefix}*").stdout
    return {
        ref[len(prefix) :]: sha for sha, ref in (line.split("\t") for line in listed.splitlines())
    }


def metrics_blobs(repo: Path, rev: str) -> dict[str, str]:
    """{path: blob id} of every file under metrics/ at ``rev``: equal ids, equal bytes."""
    listed = git(repo, "ls-tree", "-r", rev, "metrics").stdout
    return {line.split("\t")[1]: line.split()[2] for line in listed.splitlines()}


def missing_on_remote(repo: Path, rev: str, server: S3Server) -> list[str]:
    """The cached outputs in ``rev``'s dvc.lock whose objects (a directory's listing and
    files) are not all on the S3 remote; metrics/ and plots/ are in git (`cache: false`)."""
    lock = yaml.safe_load(git(repo, "show", f"{rev}:dvc.lock").stdout)
    store = server.bucket_dir / "store" / "files" / "md5"
    missing = []
    for stage in lock["stages"].values():
        for out in stage.get("outs", []):
            if out["path"].startswith(("metrics/", "plots/")):
                continue
            md5 = out["md5"]
            obj = store / md5[:2] / md5[2:]
            if not obj.is_file():
                missing.append(out["path"])
            elif md5.endswith(".dir"):
                for entry in json.loads(obj.read_text()):
                    if not (store / entry["md5"][:2] / entry["md5"][2:]).is_file():
                        missing.append(f"{out['path']}/{entry['relpath']}")
    return missing


@pytest.fixture(scope="module")
def sweep(team: dict, cluster: dict, audit: NetworkAudit, base: Path) -> dict:
    """The 6-point pca.n sweep, submitted from the laptop."""
    summary = base / "sweep-summary.json"
    started = time.monotonic()
    result = submit(team, cluster["scheduler"].address, SWEEP, audit=audit, summary=summary)
    return {
        "result": result,
        "seconds": time.monotonic() - started,
        "summary": summary_of(summary) if summary.is_file() else None,
    }


@pytest.fixture(scope="module")
def local_queue(team: dict) -> dict[str, str]:
    """The same sweep with `dvc queue start -j 2` on machine A: {pca.n value: exp commit}."""
    a = team["a"]
    found = {}
    for name in run_local_queue(a, SWEEP, timeout=QUEUE_TIMEOUT)["names"]:
        params = yaml.safe_load(
            git(a, "show", f"{exp_ref(team['baseline'], name)}:params.yaml").stdout
        )
        found[params["pca"]["n"]] = exp_ref(team["baseline"], name)
    return found


@pytest.mark.slow
def test_a_six_point_sweep_puts_six_experiments_on_the_origin(sweep: dict, team: dict):
    result = sweep["result"]
    assert result.returncode == 0, shown(result)
    names = {p.name for p in grid([SWEEP])}
    assert set(origin_experiments(team)) == names
    assert "6 done, 0 skipped (already on the origin), 0 failed" in result.stdout, shown(result)
    assert re.search(r"\] 6/6 done, 0 running, 0 failed, 0 waiting$", result.stdout, re.M)


@pytest.mark.slow
def test_each_point_runs_only_the_stages_its_parameter_changes_and_reuses_the_rest(sweep: dict):
    for point in sweep["summary"]["points"]:
        assert set(point["ran"]) == PCA_STAGES, point
        assert {"download", "decode", "normalize", "train@nearest"} <= set(point["reused"])


@pytest.mark.slow
def test_the_sweeps_metrics_are_byte_identical_to_the_same_sweep_in_a_local_queue(
    sweep: dict, team: dict, local_queue: dict[str, str]
):
    cluster = origin_experiments(team)
    a = team["a"]
    git(a, "fetch", "-q", team["origin"], "+refs/exps/*:refs/cluster-exps/*")
    compared = 0
    for point in grid([SWEEP]):
        n = int(point.overrides[0].split("=")[1])
        ours = metrics_blobs(a, cluster[point.name])
        assert ours == metrics_blobs(a, local_queue[n]), point.name
        compared += len(ours)
    assert compared > 6 * 30


@pytest.mark.slow
def test_the_sweep_report_draws_the_fetched_experiments_unchanged(sweep: dict, team: dict):
    report = subprocess.run(
        [sys.executable, "src/sweep.py", "--out", "build/sweep"],
        cwd=team["laptop"],
        env=tool_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert report.returncode == 0, shown(report)
    drawn = re.findall(r"^\|\s+\d+ \| (pca\.n-\d+)\s+\|", report.stdout, re.MULTILINE)
    assert drawn == [p.name for p in grid([SWEEP])]  # the val table: one row per experiment
    assert (team["laptop"] / "build" / "sweep" / "sweep.png").is_file()


@pytest.mark.slow
def test_every_experiment_on_the_origin_has_its_data_on_the_remote_and_no_secret_in_git(
    sweep: dict, team: dict, server: S3Server
):
    laptop = team["laptop"]
    for name, commit in origin_experiments(team).items():
        assert missing_on_remote(laptop, commit, server) == [], name
    secret = server.credentials.secret_access_key
    found = git(laptop, "grep", "-l", secret, *origin_experiments(team).values(), check=False)
    assert found.stdout == ""


@pytest.mark.slow
def test_submitting_the_same_sweep_again_runs_nothing_and_says_so(
    sweep: dict, team: dict, cluster: dict, audit: NetworkAudit
):
    before = origin_experiments(team)
    again = submit(team, cluster["scheduler"].address, SWEEP, audit=audit)
    assert again.returncode == 0, shown(again)
    assert "all 6 point(s) are already on the origin: nothing to run" in again.stdout
    assert "submitting" not in again.stdout
    assert "0 done, 6 skipped (already on the origin), 0 failed" in again.stdout
    assert origin_experiments(team) == before


def first_running(
    workers: dict[str, DaskWorker], names: set[str], stage: str, timeout: float
) -> DaskWorker:
    """The first worker whose log of a point in ``names`` shows ``stage`` running (polled,
    bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in workers.values():
            for log in (worker.scratch / "logs").glob("*.log"):
                if log.stem not in names:
                    continue
                if f"Running stage '{stage}'" in log.read_text():
                    return worker
        time.sleep(0.2)
    raise AssertionError(f"no worker ran {stage} within {timeout:.0f} s")


@pytest.mark.slow
def test_a_worker_killed_mid_experiment_has_its_point_rerun_on_the_other(
    sweep: dict, team: dict, cluster: dict, audit: NetworkAudit, server: S3Server, base: Path
):
    summary_path = base / "kill-summary.json"
    running = submit(
        team,
        cluster["scheduler"].address,
        KILL_SWEEP,
        audit=audit,
        summary=summary_path,
        popen=True,
    )
    try:
        names = {p.name for p in grid([KILL_SWEEP])}
        victim = first_running(cluster["workers"], names, "train@knn", timeout=SUBMIT_TIMEOUT)
        victim.kill()
        stdout, stderr = running.communicate(timeout=SUBMIT_TIMEOUT)
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
    result = subprocess.CompletedProcess(running.args, running.returncode, stdout, stderr)
    assert result.returncode == 0, shown(result)
    survivor = next(w for w in cluster["workers"].values() if w is not victim)
    assert re.search(
        rf"^retrying (\S+) on {survivor.address} \(its worker {victim.address} left\)$",
        stdout,
        re.M,
    ), shown(result)
    on_origin = origin_experiments(team)
    assert names <= set(on_origin)
    assert len(on_origin) == 12  # the six of the pca.n sweep and these six, once each
    for name in names:
        assert missing_on_remote(team["laptop"], on_origin[name], server) == [], name
    points = {p["name"]: p for p in summary_of(summary_path)["points"]}
    assert {p["status"] for p in points.values()} == {"done"}


@pytest.mark.slow
def test_a_wrong_scheduler_address_gives_one_clear_line(team: dict, audit: NetworkAudit):
    address = f"tcp://127.0.0.1:{free_port()}"
    result = submit(team, address, SWEEP, audit=audit, extra=("--connect-timeout", "3"))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith(
        f"cluster: error: no Dask scheduler answered at {address} within 3 s"
    ), shown(result)
    assert len(result.stderr.splitlines()) == 1, shown(result)


@pytest.mark.slow
def test_an_origin_the_workers_cannot_reach_gives_one_clear_line(
    team: dict, cluster: dict, audit: NetworkAudit
):
    unreachable = f"git://127.0.0.1:{free_port()}/origin.git"
    result = submit(team, cluster["scheduler"].address, SWEEP, audit=audit, origin=unreachable)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1, shown(result)
    assert lines[0].startswith(
        f"cluster: error: the workers cannot reach the git origin: git ls-remote {unreachable} "
        "exited 128: "
    ), shown(result)
    assert "Connection refused" in lines[0]


@pytest.mark.slow
def test_no_process_of_the_cluster_reached_for_another_address_than_127_0_0_1(
    sweep: dict, audit: NetworkAudit
):
    assert sweep["result"].returncode == 0
    assert audit.foreign_addresses() == []
