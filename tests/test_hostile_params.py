"""Hostile params files: each gets one line, ``<stage>: error: <file>: <what> (line N)``,
exit status 1 and nothing written, from every stage script and tool that reads params, in a
real process bounded by the test's timeout and a 4 GB address space (the alias bomb took
5.5 GB before)."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, commit_all, init_git_repo, run_script, write_model_files
from hostile_files import CASES, SHIPPED, STAGE_ARGS, write_case

TIMEOUT = 120.0
"""Seconds a run may take: a refusal takes one or two, a hang or a bomb never ends."""


def limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))


def bounded(script: str, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    """``src/<script>.py`` in a fresh interpreter, killed after ``TIMEOUT`` s (a failure)."""
    return run_script(script, *args, cwd=cwd, timeout=TIMEOUT, preexec_fn=limited)


def listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("case", CASES)
def test_pca_refuses_the_params_file_in_one_line(tmp_path, case):
    path = write_case(tmp_path, case)
    before = listing(tmp_path)
    result = bounded("pca", "--params", path, *STAGE_ARGS["pca"], cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, f"pca: error: {path}: {CASES[case][1]}\n")
    assert listing(tmp_path) == before


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGE_ARGS)
@pytest.mark.parametrize("case", ["fifo", "bomb-as-knn-k", "key-twice"])
def test_every_stage_refuses_the_params_file_in_one_line(tmp_path, stage, case):
    path = write_case(tmp_path, case)
    before = listing(tmp_path)
    result = bounded(stage, "--params", path, *STAGE_ARGS[stage], cwd=tmp_path)
    assert (result.returncode, result.stderr) == (1, f"{stage}: error: {path}: {CASES[case][1]}\n")
    assert listing(tmp_path) == before


def test_the_catalogue_is_read_as_safely(tmp_path):
    path = write_case(tmp_path, "directory")
    path.rmdir()
    path.write_text(SHIPPED)
    catalogue = tmp_path / "datasets.yaml"
    catalogue.unlink()
    os.mkfifo(catalogue)
    result = bounded("pca", "--params", path, *STAGE_ARGS["pca"], cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        1,
        f"pca: error: {catalogue}: expected a regular file, got a FIFO\n",
    )


def test_a_non_finite_number_in_the_catalogue_names_its_key(tmp_path):
    path = write_case(tmp_path, "directory")
    path.rmdir()
    path.write_text(SHIPPED)
    catalogue = tmp_path / "datasets.yaml"
    catalogue.write_text(catalogue.read_text().replace("mlp: 0.972", "mlp: .NaN", 1))
    result = bounded("pca", "--params", path, *STAGE_ARGS["pca"], cwd=tmp_path)
    assert (result.returncode, result.stderr) == (
        1,
        f"pca: error: {catalogue}: datasets.mnist.references.test.mlp: "
        "expected a finite number, got nan\n",
    )


@pytest.fixture
def scored_repo(tmp_path: Path) -> Path:
    """A git repository with the shipped params and one model's scores, committed."""
    repo = init_git_repo(tmp_path / "repo")
    for name in ("params.yaml", "datasets.yaml"):
        shutil.copy(REPO / name, repo)
    write_model_files(repo, "knn", test={"acc": 0.97, "acc_lo": 0.96, "acc_hi": 0.98, "f1": 0.97})
    commit_all(repo, "scores")
    return repo


@pytest.mark.parametrize("case", ["fifo", "dev-zero", "bomb-as-knn-k", "key-twice"])
def test_the_tools_refuse_the_workspaces_params_file_in_one_line(scored_repo, case):
    (scored_repo / "params.yaml").unlink()
    write_case(scored_repo, case)
    message = f"params.yaml at workspace: {CASES[case][1]}"
    board = bounded("leaderboard", cwd=scored_repo)
    assert (board.returncode, board.stderr) == (1, f"leaderboard: error: {message}\n")
    compared = bounded("compare", "HEAD", "workspace", cwd=scored_repo)
    assert (compared.returncode, compared.stderr) == (1, f"compare: error: {message}\n")


@pytest.mark.parametrize("case", ["over-1-mb", "bomb-at-pca-n", "not-utf-8"])
def test_the_tools_refuse_a_revisions_params_file_in_one_line(scored_repo, case):
    (scored_repo / "params.yaml").unlink()
    write_case(scored_repo, case)
    commit = commit_all(scored_repo, case)
    (scored_repo / "params.yaml").write_text(SHIPPED)
    message = f"params.yaml at HEAD ({commit[:7]}): {CASES[case][1]}"
    board = bounded("leaderboard", "--rev", "HEAD", cwd=scored_repo)
    assert (board.returncode, board.stderr) == (1, f"leaderboard: error: {message}\n")
    compared = bounded("compare", "workspace", "HEAD", cwd=scored_repo)
    assert (compared.returncode, compared.stderr) == (1, f"compare: error: {message}\n")
