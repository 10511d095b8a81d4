"""Working as a team (README): an S3 DVC remote (rclone on 127.0.0.1) and a git origin."""

import re
from collections.abc import Iterator

import pytest
from conftest import UP_TO_DATE, dvc, experiments, file_tree, git, isolated_dvc_environment
from loopback_cluster import publish, small_team_repo
from s3server import S3Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A's baseline pushed; B's clone after `dvc pull`, B's credentials in config.local."""
    base = tmp_path_factory.mktemp("team")
    with isolated_dvc_environment(base / "dvc-site"), S3Server(base / "s3" / "data") as server:
        a = small_team_repo(base / "a", server)
        git(base, "init", "-q", "--bare", "-b", "main", "origin.git")
        publish(a, server, str(base / "origin.git"))
        git(base, "clone", "-q", "origin.git", "b")
        b = base / "b"
        local = {"access_key_id": server.access_key, "secret_access_key": server.secret}
        for option, value in {**local, "region": "us-east-1"}.items():
            dvc(b, "remote", "modify", "--local", "team", option, "--", value)
        dvc(b, "pull")
        yield {"a": a, "b": b, "server": server}


def test_a_fresh_clone_pulls_machine_as_results_and_has_nothing_to_run(team: dict):
    a, b = team["a"], team["b"]
    assert file_tree(b / "metrics") == file_tree(a / "metrics") != {}
    assert file_tree(b / "stages" / "pca") == file_tree(a / "stages" / "pca")
    repro = dvc(b, "repro")
    assert "Running stage" not in repro.stdout and UP_TO_DATE in repro.stdout


def test_a_pushed_experiment_reaches_the_other_machine_with_its_outputs(team: dict):
    a, b, creds = team["a"], team["b"], team["server"].credentials_env()
    run = dvc(a, "exp", "run", "-S", "pca.n=40")
    name = re.search(r"^Ran experiment\(s\): (\S+)", run.stdout, re.MULTILINE)[1]
    dvc(a, "exp", "push", "origin", name, env=creds)
    dvc(b, "exp", "pull", "origin", name)
    pulled = experiments(b)[name]
    assert pulled["params"]["pca"]["n"] == 40
    assert (
        pulled["metrics"]["metrics/knn/scores/test.json"]
        == experiments(a)[name]["metrics"]["metrics/knn/scores/test.json"]
    )
    dvc(b, "exp", "apply", name)
    pull = dvc(b, "pull")
    assert "Running stage" not in pull.stdout
    assert file_tree(b / "metrics") == file_tree(a / "metrics")
    assert file_tree(b / "stages" / "train" / "knn") == file_tree(a / "stages" / "train" / "knn")


def test_no_credential_is_in_the_committed_config_or_any_commit(team: dict):
    b, server = team["b"], team["server"]
    config = git(b, "show", "HEAD:.dvc/config").stdout
    options = dict(re.findall(r"^\s+(\S+) = (.*)$", config.split("['remote \"team\"']")[1], re.M))
    assert options == {"url": server.url(), "endpointurl": server.endpoint}
    for rev in git(team["a"], "rev-list", "--all").stdout.split():
        assert git(team["a"], "grep", "-q", "-F", server.secret, rev, check=False).returncode == 1
