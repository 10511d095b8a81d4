"""The paired comparison (src/compare.py, mnist_pipeline/tools/compare.py) on fixture predictions
in temporary git repositories: flips, McNemar p-values, verdicts, added and removed models,
and its refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import (
    CLASSIFIER_TEST,
    add_experiment_ref,
    commit_all,
    init_git_repo,
    run_main,
    run_script,
    run_tool,
    write_model_files,
    write_models_params,
)

from mnist_pipeline.tools.compare import ComparisonError, pair
from mnist_pipeline.tools.scores import Predictions

ACTUAL = [str(i % 10) for i in range(20)]


def predictions(wrong: set[int]) -> list[tuple[str, str]]:
    """The 20 test images, right except those at the ``wrong`` positions."""
    return [(a, a if i not in wrong else str((int(a) + 1) % 10)) for i, a in enumerate(ACTUAL)]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: knn wrong on images 0-9, mlp wrong on 0; branch `better`: knn wrong on 9 only,
    mlp unchanged, and a new model svm; `old` lacks mlp's folder."""
    repo = init_git_repo(tmp_path / "repo")
    models = {
        "knn": {"features": "pca", "estimator": "knn"},
        "mlp": {"features": "normalize", "estimator": "mlp"},
    }
    write_models_params(repo, models)
    write_model_files(repo, "knn", test=CLASSIFIER_TEST, predictions=predictions(set(range(10))))
    write_model_files(repo, "mlp", test=CLASSIFIER_TEST, predictions=predictions({0}))
    commit_all(repo, "main")
    run_tool("git", "checkout", "-q", "-b", "better", cwd=repo)
    write_models_params(repo, {**models, "svm": {"features": "pca", "estimator": "svc"}})
    write_model_files(repo, "knn", test=CLASSIFIER_TEST, predictions=predictions({9}))
    write_model_files(repo, "svm", test=CLASSIFIER_TEST, predictions=predictions(set()))
    commit_all(repo, "better knn, and svm")
    run_tool("git", "checkout", "-q", "main", cwd=repo)
    return repo


def test_two_identical_revisions_give_no_flips_and_p_1(repo: Path):
    """In a fresh Python, as `make compare` runs it."""
    result = run_script("compare", "main", "main", cwd=repo)
    head = run_tool("git", "rev-parse", "--short", "main", cwd=repo).stdout.strip()
    assert (result.returncode, result.stderr) == (0, "")
    assert (
        result.stdout
        == f"""\
A: main ({head})
B: main ({head})

model   A acc   B acc  B - A (points)  right in A only  right in B only  McNemar p  at 5%
knn    50.00%  50.00%           +0.00                0                0      1.000  not significant
mlp    95.00%  95.00%           +0.00                0                0      1.000  not significant

Paired on 20 test images; exact two-sided McNemar test, significant if p < 0.05.
"""
    )


def test_flips_p_value_verdict_and_added_model_between_two_branches(repo: Path):
    result = run_main("compare", "main", "better", cwd=repo)
    assert (result.returncode, result.stderr) == (0, "")
    # knn: right in B only on images 0-8 (9 flips, none the other way): p = 2 / 2**9.
    assert result.stdout.splitlines()[3:6] == [
        "model   A acc   B acc  B - A (points)  right in A only  right in B only  McNemar p  at 5%",
        "knn    50.00%  95.00%          +45.00                0                9      0.004  "
        "significant",
        "mlp    95.00%  95.00%           +0.00                0                0      1.000  "
        "not significant",
    ]
    assert result.stdout.splitlines()[-1] == "added (only in B): svm"


def test_the_reverse_direction_lists_the_model_as_removed(repo: Path):
    result = run_main("compare", "better", "main", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "removed (only in A): svm"
    assert "knn    95.00%  50.00%          -45.00                9                0" in (
        result.stdout
    )


def test_models_option_compares_only_the_named_models(repo: Path):
    result = run_main("compare", "main", "better", "--models", "mlp", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert [line.split()[0] for line in result.stdout.splitlines()[4:-2]] == ["mlp"]


def test_a_model_in_neither_revision_is_an_error(repo: Path):
    result = run_main("compare", "main", "better", "--models", "lda", cwd=repo)
    head = run_tool("git", "rev-parse", "--short", "main", cwd=repo).stdout.strip()
    other = run_tool("git", "rev-parse", "--short", "better", cwd=repo).stdout.strip()
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"compare: error: lda: no such model at main ({head}) or better ({other})\n"
    )


def test_different_actual_columns_are_refused(repo: Path):
    write_model_files(repo, "mlp", predictions=predictions(set())[:-1])
    result = run_main("compare", "main", "workspace", cwd=repo)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        "compare: error: mlp: the `actual` columns of predictions/test.csv differ between A "
        "and B (20 and 19 rows): not the same test images, so the predictions cannot be "
        "paired\n"
    )


def test_an_experiment_name_is_compared_like_a_branch(repo: Path):
    main = run_tool("git", "rev-parse", "main", cwd=repo).stdout.strip()
    better = run_tool("git", "rev-parse", "better", cwd=repo).stdout.strip()
    add_experiment_ref(repo, main, "brisk-owl", better)
    by_exp = run_main("compare", "main", "brisk-owl", cwd=repo)
    by_branch = run_main("compare", "main", "better", cwd=repo)
    assert by_exp.returncode == 0, by_exp.stderr
    assert by_exp.stdout.splitlines()[2:] == by_branch.stdout.splitlines()[2:]
    assert by_exp.stdout.splitlines()[1] == f"B: brisk-owl ({better[:7]})"


def test_an_unknown_revision_is_a_one_line_error(repo: Path):
    result = run_main("compare", "main", "nowhere", cwd=repo)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "compare: error: nowhere: no such git revision or dvc experiment\n"


def test_pair_refuses_the_same_length_with_other_labels():
    a = Predictions(("1", "2"), ("1", "2"))
    b = Predictions(("2", "1"), ("1", "2"))
    with pytest.raises(ComparisonError, match=r"^knn: the `actual` columns"):
        pair("knn", a, b)


def test_help_names_both_revisions_and_the_test():
    result = run_main("compare", "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: compare [-h] [--models MODEL [MODEL ...]] A B\n")
    assert "exact McNemar p-value" in result.stdout
