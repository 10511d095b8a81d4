"""Reading git-tracked files at the workspace, a git revision or a `dvc exp` name (a ref
under refs/exps), in a temporary git repository with no DVC at all."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import (
    CLASSIFIER_TEST,
    add_experiment_ref,
    commit_all,
    init_git_repo,
    run_tool,
    write_model_files,
    write_models_params,
)

from mnist_pipeline.tools.revisions import (
    ModelSpec,
    RevisionError,
    list_dir,
    model_specs,
    read_bytes,
    resolve,
    scored_models,
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Branch `first` has note.txt saying 1, main says 2, the workspace 3."""
    repo = init_git_repo(tmp_path / "repo")
    (repo / "note.txt").write_text("1\n")
    commit_all(repo, "first")
    run_tool("git", "branch", "first", cwd=repo)
    (repo / "note.txt").write_text("2\n")
    commit_all(repo, "second")
    (repo / "note.txt").write_text("3\n")
    return repo


def test_workspace_reads_the_file_on_disk(repo: Path):
    assert read_bytes(resolve(repo, "workspace"), "note.txt") == b"3\n"


def test_a_branch_reads_the_committed_file(repo: Path):
    assert read_bytes(resolve(repo, "first"), "note.txt") == b"1\n"
    assert read_bytes(resolve(repo, "HEAD"), "note.txt") == b"2\n"


def test_an_experiment_name_resolves_through_its_exp_ref(repo: Path):
    baseline = run_tool("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    first = run_tool("git", "rev-parse", "first", cwd=repo).stdout.strip()
    add_experiment_ref(repo, baseline, "lucky-fern", first)
    revision = resolve(repo, "lucky-fern")
    assert revision.commit == first
    assert revision.label == f"lucky-fern ({first[:7]})"
    assert read_bytes(revision, "note.txt") == b"1\n"


def test_an_experiment_name_of_two_baselines_is_ambiguous(repo: Path):
    first = run_tool("git", "rev-parse", "first", cwd=repo).stdout.strip()
    head = run_tool("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    add_experiment_ref(repo, head, "twin", first)
    add_experiment_ref(repo, first, "twin", head)
    with pytest.raises(RevisionError, match=r"^twin: the name of 2 experiments"):
        resolve(repo, "twin")


def test_an_unknown_name_is_an_error(repo: Path):
    with pytest.raises(RevisionError, match=r"^nowhere: no such git revision or dvc experiment$"):
        resolve(repo, "nowhere")


def test_a_missing_file_reads_as_none(repo: Path):
    assert read_bytes(resolve(repo, "first"), "absent.txt") is None
    assert read_bytes(resolve(repo, "workspace"), "absent.txt") is None


def test_models_are_those_of_params_with_scores_then_other_scored_folders(tmp_path: Path):
    repo = init_git_repo(tmp_path / "repo")
    write_models_params(
        repo,
        {
            "zeta": {"features": "pca", "estimator": "knn", "k": 4},
            "alpha": {"features": "normalize", "estimator": "sgd", "target": 5},
            "unscored": {"features": "normalize", "estimator": "mlp"},
        },
    )
    for name in ("alpha", "zeta", "orphan"):
        write_model_files(repo, name, test=CLASSIFIER_TEST)
    (repo / "metrics" / "pca").mkdir()
    commit_all(repo, "models")
    revision = resolve(repo, "main")
    assert scored_models(revision) == ["zeta", "alpha", "orphan"]
    assert model_specs(revision)["alpha"] == ModelSpec("alpha", "normalize", "sgd", 5)
    assert list_dir(revision, "metrics") == ["alpha", "orphan", "zeta"]


def test_a_name_that_git_would_take_for_an_option_is_refused(repo: Path):
    with pytest.raises(RevisionError, match=r"^'--all': not a revision name$"):
        resolve(repo, "--all")
