"""dvc.yaml's generated `artifacts:` and `metrics:`, and `dvc artifacts get` from an S3 remote."""

from collections.abc import Iterator

import pytest
import yaml
from conftest import (
    REPO,
    commit_results,
    dvc,
    file_tree,
    git,
    isolated_dvc_environment,
    make_small_repo,
    ran,
    read_params_files,
    run_main,
    run_script,
    shown,
    write_params_files,
)
from s3server import S3Server

REMOTE = "team"
TIMEOUT = 300.0
PACKAGE = "stages/train/svm"


def test_dvc_yaml_artifacts_list_every_model_of_params_yaml():
    result = run_main("artifacts", "--check")
    assert (result.returncode, result.stdout) == (0, ""), result.stderr


def test_dvc_reads_each_artifact_with_its_labels_resolved():
    from dvc.repo import Repo

    with Repo(str(REPO)) as repo:
        artifacts = repo.artifacts.read()["dvc.yaml"]
    models = yaml.safe_load((REPO / "params.yaml").read_text())["models"]
    assert list(artifacts) == list(models)
    svm = artifacts["svm"]
    assert (svm.path, svm.type) == ("stages/train/svm", "model")
    assert svm.labels == ["mnist", "one_vs_one_svc", "pca_deskewed"]
    assert "one_vs_one_svc on pca_deskewed features of mnist (every class)" in svm.desc
    assert artifacts["sgd_5"].labels == ["mnist", "sgd", "normalize", "detector"]


def test_top_level_metrics_are_the_live_metrics_of_the_models_that_learn_in_steps():
    metrics = yaml.safe_load((REPO / "dvc.yaml").read_text())["metrics"]
    assert metrics == [f"metrics/{m}/live/metrics.json" for m in ("mlp", "gd_4", "cnn")]
    assert all((REPO / path).is_file() for path in metrics)


def test_check_names_the_command_when_a_model_is_missing(tmp_path):
    params = read_params_files(REPO)
    params["models"]["knn_8"] = {**params["models"]["knn"], "k": 8}
    write_params_files(tmp_path, params)
    (tmp_path / "dvc.yaml").write_text((REPO / "dvc.yaml").read_text())
    args = ("--params", tmp_path / "params.yaml", "--dvc-yaml", tmp_path / "dvc.yaml")
    check = run_script("artifacts", *args, "--check")
    assert check.returncode == 1
    assert check.stderr == (
        f"artifacts: error: {tmp_path / 'dvc.yaml'}: artifacts: does not list the models of "
        f"{tmp_path / 'params.yaml'}; run `make artifacts`\n"
    )
    assert run_script("artifacts", *args).returncode == 0
    assert "  knn_8:\n    path: stages/train/knn_8\n" in (tmp_path / "dvc.yaml").read_text()
    assert run_script("artifacts", *args, "--check").returncode == 0


# ---------------------------------------------------------------------------------------------
# `dvc artifacts get` against the S3 remote


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Machine A after `dvc repro train@svm`, tag svm@v1.0.0, `dvc push` and `git push`."""
    base = tmp_path_factory.mktemp("artifacts")
    with (
        isolated_dvc_environment(base / "dvc-site-cache"),
        S3Server(base / "s3" / "data") as server,
    ):
        creds = server.credentials_env()
        a = make_small_repo(base / "machine-a")
        dvc(a, "remote", "add", "-d", REMOTE, server.url())
        dvc(a, "remote", "modify", REMOTE, "endpointurl", server.endpoint)
        repro = dvc(a, "repro", "train@svm", timeout=TIMEOUT)
        commit_results(a, "svm trained on the slice, with the team's S3 remote")
        git(a, "tag", "-a", "svm@v1.0.0", "-m", "svm version 1.0.0")
        dvc(a, "push", PACKAGE, env=creds, timeout=TIMEOUT)
        origin = base / "origin.git"
        git(base, "init", "-q", "--bare", "-b", "main", origin)
        git(a, "push", "-q", "--follow-tags", origin, "main")
        yield {"a": a, "origin": origin, "base": base, "creds": creds, "repro": repro}


@pytest.mark.slow
@pytest.mark.parametrize("from_origin", [False, True], ids=["in-the-repository", "origin-tag"])
def test_artifacts_get_fetches_the_trained_svm_model(registry, tmp_path, from_origin: bool):
    """In machine A's repository, or from its origin at tag v1.0.0 (reading the S3 remote)."""
    origin = [f"file://{registry['origin']}", "svm", "--rev", "v1.0.0"]
    args = [*(origin if from_origin else [".", "svm"]), "-o", tmp_path / "svm"]
    cwd, env = (tmp_path, registry["creds"]) if from_origin else (registry["a"], None)
    result = dvc(cwd, "artifacts", "get", *args, env=env, timeout=TIMEOUT, check=False)
    assert "train@svm" in ran(registry["repro"])
    assert result.returncode == 0, shown(result)
    assert "Downloaded 3 file(s)" in result.stdout, shown(result)
    assert "Running stage" not in result.stdout + result.stderr
    expected = file_tree(registry["a"] / PACKAGE)
    assert sorted(expected) == ["card.json", "card.md", "model.skops"]
    assert file_tree(tmp_path / "svm") == expected
