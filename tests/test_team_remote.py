"""A team shares one S3-compatible DVC remote and one git origin (README, Working as a team),
driven through the real `dvc` and `git` against a real S3 server on 127.0.0.1
(`mnist_pipeline.tools.s3server`: `rclone serve s3` over a temporary folder).

Machine A runs the pipeline on the small MNIST slice of `conftest.make_small_repo`, pushes its
outputs and run-cache to the S3 remote and its commits to a bare git origin; machine B clones
origin and reproduces without computing; A's experiment travels to B as a git ref plus its
objects. The fault tests each start their own server and push or pull a copy of A.

Credentials are generated per run: machine A gets them as AWS_* environment variables of
each command, machine B from `dvc remote modify --local` (.dvc/config.local, git-ignored), so
the committed .dvc/config holds only the remote's URL and endpoint.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import (
    UP_TO_DATE,
    commit_results,
    copy_of,
    dvc,
    experiments,
    file_tree,
    git,
    isolated_dvc_environment,
    make_small_repo,
    ran,
    run_script,
    shown,
    tool_env,
)
from latency_proxy import LatencyProxy

from mnist_pipeline.tools.s3server import S3Server

pytestmark = pytest.mark.slow

REMOTE = "team"
PUSH_TIMEOUT = 180.0
SLOW_PUSH_BOUND = 120.0
LATENCY = 0.005
INTERRUPT_LATENCY = 0.02
INTERRUPTED_OUTPUT = "stages/normalize"  # three float32 arrays, about 10 MB


# ---------------------------------------------------------------------------------------------
# Helpers


def storage_bytes(server: S3Server) -> int:
    """Bytes of the objects stored in the server's bucket (rclone's temporary files aside)."""
    return sum(
        p.stat().st_size
        for p in server.bucket_dir.rglob("*")
        if p.is_file() and not p.name.startswith(".rclone_temp")
    )


def add_remote(repo: Path, server: S3Server) -> None:
    """Make the server the repository's default DVC remote, in the committed .dvc/config."""
    dvc(repo, "remote", "add", "-d", REMOTE, server.url())
    dvc(repo, "remote", "modify", REMOTE, "endpointurl", server.endpoint)


def use_server_locally(
    repo: Path, endpoint: str, server: S3Server, secret: str | None = None
) -> None:
    """Point this copy's remote at ``endpoint`` with the server's credentials (or a wrong
    ``secret``), in .dvc/config.local only."""
    credentials = server.credentials
    for option, value in (
        ("endpointurl", endpoint),
        ("access_key_id", credentials.access_key_id),
        ("secret_access_key", secret or credentials.secret_access_key),
        ("region", "us-east-1"),
    ):
        dvc(repo, "remote", "modify", "--local", REMOTE, option, "--", value)


def workspace(repo: Path) -> dict[str, bytes]:
    """Every file of the workspace, DVC's and git's own folders aside."""
    return {
        name: data
        for name, data in file_tree(repo).items()
        if not name.startswith((".git/", ".dvc/"))
    }


def timed(function: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.monotonic()
    result = function(*args, **kwargs)
    return result, time.monotonic() - start


def lock_out(repo: Path, output: str) -> dict:
    """The dvc.lock entry (path, md5, size, ...) of output ``output``."""
    for stage in yaml.safe_load((repo / "dvc.lock").read_text())["stages"].values():
        for out in stage.get("outs", []):
            if out["path"] == output:
                return out
    raise AssertionError(f"{output} is not an output in dvc.lock")


def first_file_of(repo: Path, output: str) -> str:
    """The md5 of the first file listed in the `.dir` object of directory ``output``."""
    md5 = lock_out(repo, output)["md5"]
    listing = repo / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    return json.loads(listing.read_text())[0]["md5"]


def in_sync(repo: Path) -> subprocess.CompletedProcess:
    return dvc(repo, "status", "--cloud", check=False)


def processes_serving(root: Path) -> list[str]:
    """The command lines of the running processes that mention ``root``: a stray server."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if str(root).encode() in args:
            found.append(b" ".join(args).decode(errors="replace"))
    return found


def report(request: pytest.FixtureRequest, lines: list[str]) -> None:
    """Show lines on the terminal, past pytest's output capture."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module", autouse=True)
def tool_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with isolated_dvc_environment(tmp_path_factory.mktemp("dvc-site-cache")):
        yield


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """The team's S3 server, for the whole module."""
    with S3Server(tmp_path_factory.mktemp("team-s3") / "data") as running:
        yield running
    assert processes_serving(running.root) == []


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[S3Server]:
    """A server with an empty bucket, for one fault test."""
    with S3Server(tmp_path / "s3" / "data") as running:
        yield running
    assert processes_serving(running.root) == []


@pytest.fixture(scope="module")
def team(
    server: S3Server, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict:
    """Steps 1 to 4 of the team workflow, each command's result kept for the tests."""
    base = tmp_path_factory.mktemp("team")
    creds = server.credentials_env()
    a = make_small_repo(base / "machine-a")
    origin = base / "origin.git"
    git(base, "init", "-q", "--bare", "-b", "main", origin)
    add_remote(a, server)
    git(a, "add", ".dvc/config")
    git(a, "commit", "-q", "-m", "the team's S3 remote")
    git(a, "remote", "add", "origin", origin)
    steps: dict[str, subprocess.CompletedProcess] = {}
    # 1. A runs the pipeline, pushes outputs, then the run-cache, then its commits.
    steps["repro"], cold_seconds = timed(dvc, a, "repro")
    commit_results(a, "results of the slice")
    steps["push"] = dvc(a, "push", env=creds, timeout=PUSH_TIMEOUT)
    outputs_bytes = storage_bytes(server)
    steps["push --run-cache"] = dvc(a, "push", "--run-cache", env=creds, timeout=PUSH_TIMEOUT)
    with_run_cache_bytes = storage_bytes(server)
    steps["git push"] = git(a, "push", "-q", "origin", "main")
    a_metrics = file_tree(a / "metrics")
    # 2. B clones and reproduces from the remote.
    steps["clone"] = git(base, "clone", "-q", origin, base / "machine-b")
    b = base / "machine-b"
    use_server_locally(b, server.endpoint, server)
    steps["repro --pull"], pull_seconds = timed(dvc, b, "repro", "--pull")
    b_metrics = file_tree(b / "metrics")
    b_status = dvc(b, "status")
    # 3. A runs an experiment and pushes it (its git ref to origin, its objects to S3).
    steps["exp run"] = dvc(a, "exp", "run", "-S", "pca.n=40")
    name = re.search(r"^Ran experiment\(s\): (\S+)", steps["exp run"].stdout, re.MULTILINE)
    assert name, shown(steps["exp run"])
    exp_metrics = file_tree(a / "metrics")
    steps["exp push"] = dvc(a, "exp", "push", "origin", name[1], env=creds, timeout=PUSH_TIMEOUT)
    # 4. B pulls the experiment, applies it and restores its outputs.
    steps["exp pull"] = dvc(b, "exp", "pull", "origin", name[1], timeout=PUSH_TIMEOUT)
    b_experiments = experiments(b)
    steps["exp apply"] = dvc(b, "exp", "apply", name[1])
    steps["pull"] = dvc(b, "pull", timeout=PUSH_TIMEOUT)
    steps["repro after apply"] = dvc(b, "repro")
    # 5. B compares main with the pulled experiment, image by image, from git alone.
    steps["compare"] = run_script("compare", "main", name[1], cwd=b)
    report(
        request,
        [
            f"team remote: server rclone serve s3 on {server.endpoint}",
            f"team remote: objects after `dvc push` {outputs_bytes:,} bytes; after "
            f"`dvc push --run-cache` {with_run_cache_bytes:,} bytes "
            f"(run-cache {with_run_cache_bytes - outputs_bytes:,})",
            f"team remote: cold `dvc repro` {cold_seconds:.1f} s; `dvc repro --pull` on a fresh "
            f"clone {pull_seconds:.1f} s",
        ],
    )
    return {
        "a": a,
        "b": b,
        "origin": origin,
        "steps": steps,
        "exp": name[1],
        "exp_metrics": exp_metrics,
        "a_metrics": a_metrics,
        "b_metrics": b_metrics,
        "b_status": b_status,
        "b_experiments": b_experiments,
        "bytes": (outputs_bytes, with_run_cache_bytes),
    }


@pytest.fixture
def machine_a(team: dict, tmp_path: Path) -> Path:
    """A private copy of machine A after step 1: results committed, cache full."""
    repo = copy_of(team["a"], tmp_path / "machine-a")
    git(repo, "checkout", "-q", "--force", "main")
    dvc(repo, "checkout", "--force")
    return repo


# ---------------------------------------------------------------------------------------------
# The team workflow


def test_teammate_compares_main_with_the_pulled_experiment(team: dict):
    result = team["steps"]["compare"]
    assert result.returncode == 0, shown(result)
    rows = {
        line.split()[0]: line.split()
        for line in result.stdout.splitlines()
        if line.split() and line.split()[0] in ("knn", "nearest_pca", "svm")
    }
    assert set(rows) == {"knn", "nearest_pca", "svm"}, shown(result)
    assert rows["svm"][-2:] == ["not", "significant"] and rows["svm"][4:6] == ["0", "0"]
    assert f"B: {team['exp']} (" in result.stdout


def test_committed_dvc_config_holds_only_the_remote_url_and_endpoint(team: dict, server: S3Server):
    config = git(team["b"], "show", "HEAD:.dvc/config").stdout
    section = config.split(f"['remote \"{REMOTE}\"']", 1)[1]
    options = dict(re.findall(r"^\s+(\S+) = (.*)$", section, re.MULTILINE))
    assert options == {"url": server.url(), "endpointurl": server.endpoint}


def test_no_credential_is_in_any_commit_of_either_machine(team: dict, server: S3Server):
    secret = server.credentials.secret_access_key
    for repo in (team["a"], team["b"]):
        for rev in git(repo, "rev-list", "--all").stdout.split():
            assert git(repo, "grep", "-q", "-F", secret, rev, check=False).returncode == 1


def test_push_run_cache_uploads_run_records_beyond_the_outputs(team: dict):
    outputs_bytes, with_run_cache_bytes = team["bytes"]
    push = team["steps"]["push"]
    assert re.search(r"^\d+ files? pushed", push.stdout, re.MULTILINE), shown(push)
    assert 0 < outputs_bytes < with_run_cache_bytes


def test_fresh_clone_repro_pull_computes_nothing(team: dict):
    result = team["steps"]["repro --pull"]
    assert ran(result) == set(), shown(result)
    assert "Running stage" not in result.stdout, shown(result)
    assert UP_TO_DATE in result.stdout, shown(result)


def test_fresh_clone_metrics_are_byte_identical_to_machine_a(team: dict):
    a_metrics, b_metrics = team["a_metrics"], team["b_metrics"]
    assert a_metrics
    assert sorted(b_metrics) == sorted(a_metrics)
    assert [name for name in b_metrics if b_metrics[name] != a_metrics[name]] == []


def test_fresh_clone_after_repro_pull_is_up_to_date(team: dict):
    assert UP_TO_DATE in team["b_status"].stdout, shown(team["b_status"])


def test_pushed_experiment_is_listed_by_exp_show_on_the_other_machine(team: dict):
    pulled = team["b_experiments"].get(team["exp"])
    assert pulled is not None, f"{team['exp']} not in {sorted(team['b_experiments'])}"
    assert pulled["params"]["pca"]["n"] == 40
    assert pulled["metrics"]["metrics/knn/scores/test.json"] == json.loads(
        team["exp_metrics"]["knn/scores/test.json"]
    )


def test_applied_experiment_is_restored_without_recomputation(team: dict):
    steps = team["steps"]
    for step in ("exp pull", "exp apply", "pull", "repro after apply"):
        assert "Running stage" not in steps[step].stdout, shown(steps[step])
    assert UP_TO_DATE in steps["repro after apply"].stdout, shown(steps["repro after apply"])
    assert file_tree(team["b"] / "metrics") == team["exp_metrics"]
    for output in ("stages/pca", "stages/train/knn"):
        assert file_tree(team["b"] / output) == file_tree(team["a"] / output), output


# ---------------------------------------------------------------------------------------------
# Faults


def test_push_interrupted_by_server_stop_fails_then_completes_after_restart(
    machine_a: Path, own_server: S3Server, tmp_path: Path
):
    """The push of one stage's outputs goes through a slow proxy, so that it is still sending
    when the first object lands in the server's folder; the server is then killed. Retries
    are off for that push (AWS_MAX_ATTEMPTS=1) so that it fails at once instead of retrying
    every remaining object."""
    with LatencyProxy(own_server.port, INTERRUPT_LATENCY) as proxy:
        use_server_locally(machine_a, proxy.endpoint, own_server)
        out, err = (tmp_path / "push.out").open("w+"), (tmp_path / "push.err").open("w+")
        with out, err:
            push = subprocess.Popen(
                ["dvc", "push", "--jobs", "2", INTERRUPTED_OUTPUT],
                cwd=machine_a,
                env={**tool_env(), "AWS_MAX_ATTEMPTS": "1"},
                stdout=out,
                stderr=err,
                text=True,
            )
            try:
                deadline = time.monotonic() + PUSH_TIMEOUT
                while storage_bytes(own_server) == 0 and push.poll() is None:
                    assert time.monotonic() < deadline, "no object reached the server"
                    time.sleep(0.05)
                still_pushing = push.poll() is None
                own_server.kill()
                landed = storage_bytes(own_server)
                push.wait(timeout=PUSH_TIMEOUT)
            finally:
                if push.poll() is None:
                    push.kill()
                    push.wait()
            out.seek(0)
            err.seek(0)
            first = subprocess.CompletedProcess(push.args, push.returncode, out.read(), err.read())
        assert still_pushing, shown(first)
        assert 0 < landed < lock_out(machine_a, INTERRUPTED_OUTPUT)["size"]
        assert first.returncode != 0, shown(first)
        assert re.search(
            r"^ERROR: .*(Connection was closed|Could not connect|"
            r"failed to push data to the cloud)",
            first.stderr,
            re.MULTILINE,
        ), shown(first)
    own_server.start()
    use_server_locally(machine_a, own_server.endpoint, own_server)
    second = dvc(machine_a, "push", check=False, timeout=PUSH_TIMEOUT)
    assert second.returncode == 0, shown(first, second)
    status = in_sync(machine_a)
    assert "Cache and remote 'team' are in sync." in status.stdout, shown(second, status)


def test_pull_of_a_missing_object_names_it_and_leaves_the_workspace_as_it_was(
    machine_a: Path, own_server: S3Server, tmp_path: Path
):
    use_server_locally(machine_a, own_server.endpoint, own_server)
    dvc(machine_a, "push", timeout=PUSH_TIMEOUT)
    md5 = first_file_of(machine_a, "stages/pca")
    (own_server.bucket_dir / "store" / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    own_server.forget_listings()
    clone = tmp_path / "machine-c"
    git(tmp_path, "clone", "-q", machine_a, clone)
    use_server_locally(clone, own_server.endpoint, own_server)
    before = workspace(clone)
    pull = dvc(clone, "pull", check=False, timeout=PUSH_TIMEOUT)
    assert pull.returncode != 0, shown(pull)
    printed = pull.stdout + pull.stderr
    assert "ERROR: failed to pull data from the cloud" in printed, shown(pull)
    assert re.search(rf"ERROR: failed to transfer '{md5}' - .*NoSuchKey", printed), shown(pull)
    assert workspace(clone) == before, shown(pull)


def test_wrong_credentials_give_a_clear_error_without_printing_a_secret(
    machine_a: Path, own_server: S3Server
):
    wrong = "wrong-" + own_server.credentials.secret_access_key[::-1]
    use_server_locally(machine_a, own_server.endpoint, own_server, secret=wrong)
    push = dvc(machine_a, "push", check=False, timeout=PUSH_TIMEOUT)
    printed = push.stdout + push.stderr
    assert push.returncode != 0, shown(push)
    assert re.search(r"ERROR: .*(403|Forbidden|Access Denied)", printed), shown(push)
    assert wrong not in printed
    assert own_server.credentials.secret_access_key not in printed
    assert storage_bytes(own_server) == 0


def test_push_through_a_slow_network_completes_within_the_bound(
    machine_a: Path, own_server: S3Server
):
    with LatencyProxy(own_server.port, LATENCY) as proxy:
        use_server_locally(machine_a, proxy.endpoint, own_server)
        push, seconds = timed(dvc, machine_a, "push", check=False, timeout=PUSH_TIMEOUT)
        delayed = proxy.delayed_chunks
    assert push.returncode == 0, shown(push)
    assert seconds < SLOW_PUSH_BOUND
    assert delayed * LATENCY > 1.0, f"only {delayed} chunks were delayed"
    use_server_locally(machine_a, own_server.endpoint, own_server)
    status = in_sync(machine_a)
    assert "Cache and remote 'team' are in sync." in status.stdout, shown(push, status)
