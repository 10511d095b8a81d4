"""compare (src/compare.py) on fixture predictions in a small git + DVC repository."""

from pathlib import Path

import pytest
from conftest import (
    CLASSIFIER_TEST,
    DETECTOR_TEST,
    commit_results,
    run_main,
    run_script,
    run_tool,
    write_model_files,
    write_models_params,
)
from dvc.repo import Repo

ACTUAL = [str(i % 10) for i in range(20)]


def predictions(wrong: set[int]) -> list[tuple[str, str]]:
    """The 20 test images, right except those at the ``wrong`` positions."""
    return [(a, a if i not in wrong else str((int(a) + 1) % 10)) for i, a in enumerate(ACTUAL)]


def scores_repo(path: Path) -> Path:
    """An empty git repository with DVC initialised, as the project is."""
    path.mkdir(parents=True)
    run_tool("git", "init", "-q", "-b", "main", cwd=path)
    Repo.init(str(path)).close()
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """main: knn wrong on images 0-9, mlp on 0, logreg on 0-5; branch `better`: knn wrong on
    9 only (9 flips its way), logreg on none (6 flips), mlp unchanged, and a new model svm."""
    repo = scores_repo(tmp_path / "repo")
    models = {
        "knn": {"features": "pca", "estimator": "knn"},
        "mlp": {"features": "normalize", "estimator": "mlp"},
        "logreg": {"features": "normalize", "estimator": "logistic_regression"},
    }
    write_models_params(repo, models)
    for name, wrong in (("knn", range(10)), ("mlp", {0}), ("logreg", range(6))):
        write_model_files(repo, name, test=CLASSIFIER_TEST, predictions=predictions(set(wrong)))
    commit_results(repo, "main")
    run_tool("git", "checkout", "-q", "-b", "better", cwd=repo)
    write_models_params(repo, {**models, "svm": {"features": "pca", "estimator": "svc"}})
    for name, wrong in (("knn", {9}), ("logreg", set()), ("svm", set())):
        write_model_files(repo, name, test=CLASSIFIER_TEST, predictions=predictions(wrong))
    commit_results(repo, "better knn, and svm")
    run_tool("git", "checkout", "-q", "main", cwd=repo)
    return repo


def rows(stdout: str) -> dict[str, list[str]]:
    """The table's rows by model: the cells, the verdict last."""
    found = {}
    for line in stdout.splitlines():
        cells = line.split()
        if len(cells) >= 10 and cells[1].endswith("%"):
            found[cells[0]] = [*cells[1:9], line.rpartition("  ")[2]]
    return found


def test_two_identical_revisions_give_no_flips_and_p_1(repo: Path):
    result = run_script("compare", "main", "main", cwd=repo)
    assert (result.returncode, result.stderr) == (0, "")
    assert rows(result.stdout) == {
        name: [acc, acc, "+0.00", "0", "0", "1.000", "1.000", "none", "not significant"]
        for name, acc in (("knn", "50.00%"), ("mlp", "95.00%"), ("logreg", "70.00%"))
    }


def test_a_real_difference_is_significant_and_a_small_one_is_not_after_holm(repo: Path):
    """knn: 9 flips one way, p = 2 / 2**9 = 0.0039; logreg: 6 flips, p = 2 / 2**6 = 0.031;
    Holm over 3: 3 x 0.0039 = 0.012, max(0.012, 2 x 0.031) = 0.062: no longer significant.
    svm, in B only, is added; the other way round, removed."""
    result = run_main("compare", "main", "better", cwd=repo)
    assert result.returncode == 0, result.stderr
    found = rows(result.stdout)
    assert found["knn"][:7] == ["50.00%", "95.00%", "+45.00", "0", "9", "0.004", "0.012"]
    assert found["knn"][-1] == "significant"
    assert found["logreg"][4:7] == ["6", "0.031", "0.062"]
    assert found["logreg"][-1] == "not significant"
    assert found["mlp"][3:8] == ["0", "0", "1.000", "1.000", "none"]
    assert 27 < float(found["logreg"][7]) < float(found["knn"][7]) < 45  # the detectable difference
    assert "family of 3 comparison(s)" in result.stdout
    assert result.stdout.splitlines()[-1] == "added (only in B): svm"
    reverse = run_main("compare", "better", "main", cwd=repo).stdout
    assert reverse.splitlines()[-1] == "removed (only in A): svm"
    assert rows(reverse)["knn"][2:5] == ["-45.00", "9", "0"]


def test_models_narrow_the_family_of_the_adjustment(repo: Path):
    """logreg alone: Holm p = raw p = 0.031, significant again."""
    result = run_main("compare", "main", "better", "--models", "logreg", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert list(rows(result.stdout)) == ["logreg"]
    assert rows(result.stdout)["logreg"][5:] == ["0.031", "0.031", "27.31", "significant"]


def test_an_experiment_name_is_compared_like_a_branch_and_the_workspace_is_a_revision(repo):
    main = run_tool("git", "rev-parse", "main", cwd=repo).stdout.strip()
    better = run_tool("git", "rev-parse", "better", cwd=repo).stdout.strip()
    ref = f"refs/exps/{main[:2]}/{main[2:]}/brisk-owl"  # as `dvc exp run` names its commits
    run_tool("git", "update-ref", ref, better, cwd=repo)
    by_exp = run_main("compare", "main", "brisk-owl", cwd=repo)
    assert by_exp.returncode == 0, by_exp.stderr
    assert rows(by_exp.stdout) == rows(run_main("compare", "main", "better", cwd=repo).stdout)
    write_model_files(repo, "mlp", predictions=predictions(set()))
    found = rows(run_main("compare", "main", "workspace", cwd=repo).stdout)
    assert found["mlp"][1:5] == ["100.00%", "+5.00", "0", "1"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("main", "nowhere"), "nowhere: no such git revision or dvc experiment"),
        (("main", "better", "--models", "lda"), "lda: no such model at main or better"),
        (("--pair", "knn", "knn"), "knn: give two different models to compare"),
        (("--pair", "knn", "svm", "main"), "metrics/svm/predictions/test.csv: missing"),
        (("main", "workspace"), "mlp: the actual columns"),  # other test images
        (("--pair", "knn", "sgd_5"), "knn vs sgd_5: the actual columns"),  # another task
    ],
)
def test_refusals_are_one_line(repo: Path, args: tuple[str, ...], message: str):
    """The workspace's mlp has predictions of 19 of the 20 images; its sgd_5 is a detector."""
    write_model_files(repo, "mlp", predictions=predictions(set())[:-1])
    detector = [("5" if a == "5" else "not 5",) * 2 for a in ACTUAL]
    write_model_files(repo, "sgd_5", test=DETECTOR_TEST, predictions=detector)
    result = run_main("compare", *args, cwd=repo)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(f"compare: error: {message}")
    assert len(result.stderr.splitlines()) == 1


def test_pair_compares_two_models_of_one_revision(repo: Path):
    """main's knn (wrong on 0-9) against its logreg (wrong on 0-5): 4 flips, p = 0.125."""
    result = run_main("compare", "--pair", "knn", "logreg", "main", cwd=repo)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["A: knn at main", "B: logreg at main"]
    line = next(line for line in result.stdout.splitlines() if line.startswith("knn vs logreg"))
    assert line.split()[3:10] == ["50.00%", "70.00%", "+20.00", "0", "4", "0.125", "0.125"]


def test_wrong_numbers_of_revisions_are_usage_errors(repo: Path):
    assert run_main("compare", "main", cwd=repo).returncode == 2
    assert run_main("compare", "--pair", "knn", "mlp", "main", "better", cwd=repo).returncode == 2
